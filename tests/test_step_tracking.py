"""train.log_every and train.track_grad_norm: the step losses and per-layer gradient norms a run writes
(steps.jsonl, grad_norms.jsonl), their figures and report panels, exact mid-epoch resume, bad values."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

import vislab.training.trainer as trainer_mod
from conftest import cli, tiny_config
from test_resume import sigterm_at_step
from vislab.errors import TrainingInterrupted
from vislab.training.step_log import StepTracker
from vislab.training.trainer import train


def rows(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("every", [1, 3])
def test_logged_losses_are_the_losses_the_loop_computed(tmp_path, monkeypatch, every):
    """Each steps.jsonl row is the mean of the last `every` step losses (the epoch's last window may be
    shorter), at the global step ending it, with that step's lr; every=1 logs the first-batch loss."""
    seen, real = [], trainer_mod.train_step

    def spy(network, optim, x, y, lr, *window):
        loss, logits = real(network, optim, x, y, lr, *window)
        seen.append((loss.item(), lr))
        return loss, logits

    monkeypatch.setattr(trainer_mod, "train_step", spy)
    over = ("train.epochs=2", f"train.log_every={every}", "schedule.name=cosine")
    train(tiny_config(*over), tmp_path / "r", quiet=True)
    per_epoch = len(seen) // 2
    want = []
    for epoch in (1, 2):
        first = (epoch - 1) * per_epoch
        for start in range(first, first + per_epoch, every):
            window = seen[start : min(start + every, first + per_epoch)]
            end = start + len(window)
            loss = sum(v for v, _ in window) / len(window)
            want.append(
                dict(step=end, epoch=epoch, loss=pytest.approx(loss, rel=1e-9), lr=window[-1][1])
            )
    assert rows(tmp_path / "r" / "steps.jsonl") == want
    assert len({r["lr"] for r in want}) > 2  # the cosine schedule: each row's own lr


def _tiny_net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 6 * 6, 10),
    )


def _layer_norm(module: torch.nn.Module) -> float:
    return torch.linalg.vector_norm(
        torch.cat([p.grad.flatten() for p in module.parameters()])
    ).item()


def test_grad_norms_equal_torch_norms_of_each_layer():
    """One batch: each layer's norm is torch's L2 norm of its weight and bias gradients together; two
    batches: the epoch row is the mean of the two steps' norms."""
    net = _tiny_net()
    tracker = StepTracker(net, torch.device("cpu"), log_every=0, grads=True)
    assert tracker.names == ["0 (Conv2d)", "3 (Linear)"]
    expected = []
    for seed in (1, 2):
        g = torch.Generator().manual_seed(seed)
        x, y = torch.randn(5, 1, 8, 8, generator=g), torch.randint(0, 10, (5,), generator=g)
        net.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        tracker.add_grad_norms()
        expected.append([_layer_norm(net[0]), _layer_norm(net[3])])
        if seed == 1:
            one = tracker.state_dict()["grad_sum"].tolist()
            assert one == pytest.approx(expected[0], rel=1e-6)
    steps, grads = tracker.end_epoch(2, 1, 0.1)
    assert steps == []
    mean = [(a + b) / 2 for a, b in zip(*expected)]
    assert [g["epoch"] for g in grads] == [1] and list(grads[0]["grad_norm"]) == tracker.names
    assert list(grads[0]["grad_norm"].values()) == pytest.approx(mean, rel=1e-6)


@pytest.mark.slow  # a training and a report: ~11 s on 2 shared cores
def test_a_tracked_run_draws_its_figures_and_report_panels(tmp_path, capsys):
    """grad_norms.jsonl has one row per epoch over every parameterised layer; the run's figures hold the
    heat map, and report.html shows it and the step-loss curves."""
    over = ("model.name=cnn", "model.widths=[4,8]", "train.epochs=2", "train.log_every=2",
            "train.track_grad_norm=true", "train.figures=true")  # fmt: skip
    run = tmp_path / "r"
    train(tiny_config(*over), run, quiet=True)
    grads = rows(run / "grad_norms.jsonl")
    assert [r["epoch"] for r in grads] == [1, 2]
    layers = list(grads[0]["grad_norm"])
    assert any("Conv2d" in n for n in layers) and any("Linear" in n for n in layers)
    assert all(v > 0 for r in grads for v in r["grad_norm"].values())
    assert (run / "figures" / "grad_norms.png").stat().st_size > 1000
    assert (run / "figures" / "curves.png").is_file()
    code, _ = cli(capsys, "report", run)
    assert code == 0
    html = (run / "report.html").read_text()
    assert "mean gradient L2 norm of each layer" in html and "training loss" in html


def test_untracked_runs_write_no_tracking_files(tmp_path):
    train(tiny_config("train.epochs=1"), tmp_path / "r", quiet=True)
    assert not (tmp_path / "r" / "steps.jsonl").exists()
    assert not (tmp_path / "r" / "grad_norms.jsonl").exists()


def test_resume_mid_epoch_continues_the_step_windows_and_grad_sums(tmp_path, monkeypatch):
    """The accumulators travel in last.pt: a run stopped by SIGTERM mid-epoch and resumed writes the same
    steps.jsonl and grad_norms.jsonl as an uninterrupted one."""
    over = ("train.epochs=2", "train.log_every=3", "train.track_grad_norm=true", "optim.name=sgd",
            "optim.lr=0.05")  # fmt: skip
    train(tiny_config(*over), tmp_path / "ref", quiet=True)
    # epoch 2, mid-window
    with sigterm_at_step(monkeypatch, lambda n: n + 4), pytest.raises(TrainingInterrupted):
        train(tiny_config(*over), tmp_path / "cut", quiet=True)
    train(tiny_config(), tmp_path / "cut", resume=True, quiet=True)
    for name in ("steps.jsonl", "grad_norms.jsonl"):
        assert rows(tmp_path / "cut" / name) == rows(tmp_path / "ref" / name), name


@pytest.mark.parametrize(
    "setting, word",
    [("train.log_every=-1", "greater than or equal to 0"), ("train.track_grad_norm=maybe", "bool")],
)
def test_bad_tracking_settings_exit_2(capsys, setting, word):
    code, text = cli(capsys, "config", "show", "--set", setting)
    assert code == 2
    assert setting.split("=")[0] in text and word in text
