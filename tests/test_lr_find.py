"""`vislab lr-find`, the LR range test: it leaves the model, the optimizer and the caller's RNG as they were,
sweeps the learning rate exponentially, stops when the loss diverges, suggests a learning rate inside the
tried range, and refuses models that no optimizer trains (exit 2, naming what works)."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import cli, one_line, tiny_config, tiny_sets
from vislab.errors import UserError
from vislab.training.lr_curve import suggest
from vislab.training.lr_find import lr_find, lr_range_test
from vislab.training.lr_finding import RangeTest
from vislab.training.optim import build_optimizer
from vislab.training.parts import build_parts
from vislab.training.runtime import Distributed


def test_model_optimizer_and_rng_are_left_as_they_were():
    cfg = tiny_config("model.name=cnn", "model.widths=[4]", "model.fc=[8]", "model.batchnorm=true")
    data, network = build_parts(cfg, torch.device("cpu"), Distributed())
    model, loader = network.model, data.train
    opt = build_optimizer(model.parameters(), cfg.optim)
    batches = list(loader.epoch(0))
    for x, y in batches[
        :2
    ]:  # a model in the middle of training: Adam moments, BN statistics, grads
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.grad.clone() for p in model.parameters()]
    moments = {
        i: {k: v.clone() for k, v in s.items()} for i, s in opt.state_dict()["state"].items()
    }
    rng = torch.get_rng_state()

    f = lr_range_test(model, opt, batches * 3, RangeTest(1e-5, 1.0, steps=30))

    assert len(f.lrs) > 5  # it did train
    for k, v in model.state_dict().items():
        assert torch.equal(v, weights[k]), k
    assert all(torch.equal(p.grad, g) for p, g in zip(model.parameters(), grads))
    state = opt.state_dict()
    assert state["param_groups"][0]["lr"] == cfg.optim.lr
    for i, s in moments.items():
        assert all(torch.equal(state["state"][i][k], v) for k, v in s.items())
    assert not model.training  # its mode too
    assert torch.equal(torch.get_rng_state(), rng)


def test_suggestion_lies_inside_the_tried_range():
    f = lr_find(tiny_config(), RangeTest(1e-5, 10.0, steps=60))
    test = f.test
    assert f.lrs == pytest.approx([test.lr(i) for i in range(len(f.lrs))])
    assert f.lrs[0] == pytest.approx(1e-5)
    assert f.lrs[0] <= f.suggestion <= f.min_loss_lr <= f.lrs[-1]
    assert f.suggestion in f.lrs
    # 10 is far too much for Adam: the test stops where the smoothed loss passes 4× its minimum or
    # 1.2× the first step's loss
    assert f.stopped.startswith("the smoothed loss passed ") or "became" in f.stopped
    assert len(f.lrs) < 60 and all(math.isfinite(v) for v in f.losses)
    assert min(f.smoothed) < 0.8 * f.smoothed[0]  # the tiny MLP does learn in the range


def test_same_config_same_curve():
    cfg, test = tiny_config(), RangeTest(1e-4, 1.0, steps=15)
    assert lr_find(cfg, test).losses == lr_find(cfg, test).losses


def test_suggest_picks_the_steepest_fall_before_the_minimum():
    lrs = list(np.logspace(-6, 0, 61))
    x = np.log10(lrs)
    # falls fastest at 1e-3, lowest at 1e-2, then climbs faster than it fell (diverging)
    smoothed = list(2 - np.tanh(2 * (x + 3)) + np.where(x > -2, 40 * (x + 2) ** 2, 0))
    assert suggest(lrs, smoothed) == pytest.approx(1e-3)


def test_a_short_test_does_not_draw_the_explosion_a_decade_early():
    """With 30 steps over 8 decades the drawn curve rises where the raw loss does (within 0.3 decade):
    its window is 0.2 decade of lr, not a fixed 5 steps (which spanned 3 decades and drew the loss
    climbing more than a decade before it did)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = build_optimizer(model.parameters(), tiny_config().optim)
    batches = iter(lambda: (torch.randn(8, 4), torch.randint(0, 3, (8,))), None)

    def loss_fn(logits, y):  # flat up to lr 1e-2, then exploding
        lr = opt.param_groups[0]["lr"]
        return logits.sum() * 0 + (2.3 if lr < 1e-2 else 23 * (lr / 1e-2) ** 2)

    found = lr_range_test(model, opt, batches, RangeTest(steps=30), loss_fn=loss_fn)
    first_raw = next(lr for lr, loss in zip(found.lrs, found.losses) if loss > 3)
    first_drawn = next(lr for lr, s in zip(found.lrs, found.smoothed) if s > 3)
    assert math.log10(first_raw / first_drawn) <= 0.3
    assert RangeTest().half_window == 5  # the default test (200 steps, 8 decades): as before


@pytest.mark.parametrize(
    "kwargs", [dict(start_lr=1.0, end_lr=0.1), dict(start_lr=0.0), dict(steps=3)]
)
def test_bad_ranges_are_user_errors(kwargs):
    with pytest.raises(UserError):
        RangeTest(**kwargs)


def test_cli_lr_find_writes_the_plot_and_prints_the_suggestion(capsys, tmp_path):
    out = tmp_path / "lr.png"
    code, text = cli(
        capsys, "lr-find", *tiny_sets(), "--start-lr", "1e-5", "--steps", "40", "--out", out
    )
    assert code == 0, text
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = re.search(r"suggested optim\.lr: ([\d.e+-]+)", text)
    assert m, text
    first, last = re.search(r"ran \d+ steps, lr ([\d.e+-]+) → ([\d.e+-]+)", text).groups()
    assert float(first) <= float(m.group(1)) <= float(last)
    assert f"--set optim.lr={m.group(1)}" in text and "steepest descent" in text


@pytest.mark.parametrize(
    "sets,fragments",
    [
        (["model.name=svm"], ["'svm' is fitted in one go", "mlp, cnn, vit", "model.impl=optim"]),
        (["model.name=majority"], ["'majority' is fitted in one go", "mlp, cnn, vit"]),
        (
            ["model.name=mlp-scratch", "model.impl=manual"],
            [
                "updates its own weights (its manual_step)",
                "--set model.impl=optim",
                "mlp, cnn, vit",
            ],
        ),
    ],
)
def test_models_no_optimizer_trains_exit_2_naming_what_works(capsys, tmp_path, sets, fragments):
    out = tmp_path / "lr.png"
    code, text = cli(capsys, "lr-find", *tiny_sets(*sets, drop="model.hidden=[32]"), "--out", out)
    assert code == 2, text
    text = one_line(text)
    assert all(f in text for f in fragments), text
    assert not out.exists()


@pytest.mark.parametrize(
    "args,fragment",
    [
        (["--start-lr", "1", "--end-lr", "0.1"], "0 < start lr < end lr"),
        (["--out", "lr.txt"], "--out 'lr.txt'"),
        (["--steps", "3"], "--steps"),
    ],
)
def test_cli_bad_options_exit_2(capsys, args, fragment):
    code, text = cli(capsys, "lr-find", *tiny_sets(), *args)
    assert code == 2 and fragment in one_line(text), text
