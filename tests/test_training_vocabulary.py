"""The training vocabulary beyond the reports' tricks: weight EMA for any model, test-time augmentation,
gradient accumulation, weight decay that spares biases and norms, the plateau schedule, fp16 steps the loss
scaler skips — each checked against what it means, not only that it runs."""

from __future__ import annotations

import contextlib
import copy
import json

import numpy as np
import pytest
import torch
import torch.nn as nn
from sklearn.datasets import load_digits

import vislab
import vislab.training.parts as parts_mod
import vislab.training.trainer as trainer_mod
from conftest import cli, one_line, tiny_config
from test_fast import _CountSyncs
from test_resume import RESULT_KEYS, run_result, sigterm_at_step
from vislab.config import OptimConfig, ScheduleConfig, build_config, config_notes
from vislab.config.reads import idle_settings
from vislab.data.loader import DeviceLoader
from vislab.data.sources.memory import register_arrays
from vislab.data.tta import TTA
from vislab.errors import ConfigError, Note, TrainingInterrupted, UserError
from vislab.export import export_run
from vislab.models.hooks import ModelHooks, hooks_of
from vislab.training.checkpoint import load_checkpoint, save_checkpoint
from vislab.training.ema import WeightEMA
from vislab.training.optim import build_optimizer, decay_groups
from vislab.training.parts import build_optimisation, build_parts
from vislab.training.plateau import Plateau, better
from vislab.training.precision import Precision
from vislab.training.progress import Progress
from vislab.training.runtime import Distributed
from vislab.training.state import LoopState
from vislab.training.step_log import StepTracker
from vislab.training.trainer import train

SGD = ("optim.name=sgd", "optim.lr=0.1")


def _weights(run, name):
    return load_checkpoint(run / "checkpoints" / name).state_dict


# ----------------------------------------------------------------------------------------- EMA
def test_the_weight_average_follows_its_formula_with_warm_up():
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    ema = WeightEMA(model, decay=0.9, warmup=True)
    want = copy.deepcopy(model.state_dict())
    for step in range(3):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(1.0)
        model(torch.randn(4, 3))  # BN running statistics move too
        ema.update(step)
        d = min(0.9, (1 + step) / (10 + step))
        for k, v in model.state_dict().items():
            want[k] = d * want[k] + (1 - d) * v if v.is_floating_point() else v.clone()
    got = ema.state_dict()
    for k in want:
        assert torch.allclose(got[k].float(), want[k].float(), atol=1e-6), k


def test_ema_runs_score_and_keep_the_average_and_resume_exactly(tmp_path):
    over = (*SGD, "train.ema.decay=0.9", "train.epochs=2")
    whole = train(tiny_config(*over), tmp_path / "whole", quiet=True).to_json()
    best, live = _weights(tmp_path / "whole", "best.pt"), _weights(tmp_path / "whole", "last.pt")
    ema = load_checkpoint(tmp_path / "whole" / "checkpoints" / "last.pt").resume.ema
    if (
        whole["best_epoch"] == 2
    ):  # best.pt holds the average evaluation scored, not the live weights
        assert all(torch.equal(best[k], ema[k]) for k in best)
    assert any(not torch.equal(ema[k], live[k]) for k in live)
    # the summary's test accuracy is the best (averaged) weights' own, as `vislab eval` sees them
    assert vislab.load_run(tmp_path / "whole").evaluate("test")["acc"] == whole["test_acc"]
    # one epoch, then resumed to two: the same average, the same result
    train(tiny_config(*SGD, "train.ema.decay=0.9", "train.epochs=1"), tmp_path / "cut", quiet=True)
    last = tmp_path / "cut" / "checkpoints" / "last.pt"
    ckpt = load_checkpoint(last)
    ckpt.record.config["train"]["epochs"] = 2
    save_checkpoint(last, ckpt)
    resumed = train(tiny_config(), tmp_path / "cut", resume=True, quiet=True).to_json()
    assert resumed["test_acc"] == whole["test_acc"] and resumed["val_loss"] == whole["val_loss"]


# ----------------------------------------------------------------------------------------- TTA
def test_tta_averages_the_logits_of_the_views():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = torch.randn(2, 1, 4, 4)
    flip = TTA(model, "flip")
    assert torch.allclose(flip(x), (model(x) + model(x.flip(-1))) / 2, atol=1e-6)
    both = TTA(model, "flip-translate")(x)
    assert both.shape == (2, 3) and not torch.allclose(both, flip(x))
    symmetric = torch.ones(1, 1, 4, 4)  # a constant image: every view is the image itself
    assert torch.allclose(TTA(model, "flip-translate")(symmetric), model(symmetric))


def test_a_tta_run_scores_predicts_and_exports_with_its_views(tmp_path):
    over = (
        "model.name=cnn",
        "model.widths=[4]",
        "model.fc=[8]",
        "train.tta=flip",
        "train.epochs=1",
    )
    summary = train(tiny_config(*over), tmp_path / "r", quiet=True).to_json()
    run = vislab.load_run(tmp_path / "r")
    assert run.evaluate("test")["acc"] == summary["test_acc"]
    image = np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)
    model = run.model()
    x = torch.from_numpy(image).float().div(255)[None, None]
    stats = load_checkpoint(tmp_path / "r" / "checkpoints" / "best.pt").record.inputs.stats
    x = (x - stats.mean.view(1, -1, 1, 1)) / stats.std.view(1, -1, 1, 1)
    with torch.no_grad():
        want = torch.softmax((model(x) + model(x.flip(-1))) / 2, 1)[0]
    [[(name, p)]] = run.predict([image], top_k=1)
    assert name == str(int(want.argmax())) and p == pytest.approx(float(want.max()), rel=1e-5)
    _, spec = export_run(tmp_path / "r", "torchscript")
    assert "mirror" in json.loads(spec.read_text())["test_time_augmentation"]


def test_tta_on_feature_vectors_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="train.tta"):
        train(tiny_config("data.name=circles", "train.tta=flip"), tmp_path / "r", quiet=True)


# --------------------------------------------------------------------------------- accumulation
def test_two_accumulated_half_batches_are_one_full_batch(tmp_path):
    """SGD on an MLP without dropout: batch 16 × 2 accumulated = batch 32 (same samples, same order,
    the mean of the two half-batch means), up to float rounding; the schedule counts optimizer steps."""
    common = (*SGD, "train.epochs=2", "schedule.name=cosine", "model.dropout=0")
    full = train(
        tiny_config(*common, "train.batch_size=32"), tmp_path / "full", quiet=True
    ).to_json()
    acc = train(
        tiny_config(*common, "train.batch_size=16", "train.accumulate=2"),
        tmp_path / "acc",
        quiet=True,
    ).to_json()
    a, b = _weights(tmp_path / "full", "last.pt"), _weights(tmp_path / "acc", "last.pt")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert acc["val_loss"] == pytest.approx(full["val_loss"], abs=1e-5)
    rows = [
        json.loads(line) for line in (tmp_path / "acc" / "metrics.jsonl").read_text().splitlines()
    ]
    lrs = [
        json.loads(line)["lr"]
        for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["lr"] for r in rows] == pytest.approx(lrs)


def test_accumulate_zero_is_refused():
    with pytest.raises(ConfigError, match="train.accumulate"):
        tiny_config("train.accumulate=0")


# ------------------------------------------------------------------------------ extending a run
def test_a_finished_run_extended_equals_one_longer_run(tmp_path):
    over = (*SGD, "schedule.name=step", "schedule.step_size=1", "schedule.gamma=0.5")
    longer = train(tiny_config(*over, "train.epochs=3"), tmp_path / "long", quiet=True).to_json()
    train(tiny_config(*over, "train.epochs=2"), tmp_path / "r", quiet=True)
    extended = train(tiny_config(), tmp_path / "r", resume=True, quiet=True, epochs=3).to_json()
    assert extended["epochs_run"] == 3 and extended["test_acc"] == longer["test_acc"]
    assert extended["val_loss"] == longer["val_loss"]
    a, b = _weights(tmp_path / "long", "last.pt"), _weights(tmp_path / "r", "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "schedule, epochs, why",
    [("cosine", 3, "spreads the learning rate"), ("none", 1, "has trained 2 already")],
)
def test_extending_is_refused_with_the_reason(tmp_path, schedule, epochs, why):
    train(tiny_config(f"schedule.name={schedule}", "train.epochs=2"), tmp_path / "r", quiet=True)
    with pytest.raises(UserError, match=why):
        train(tiny_config(), tmp_path / "r", resume=True, quiet=True, epochs=epochs)


# ----------------------------------------------------------------------------- building on a run
CNN = ("model.name=cnn", "model.widths=[4]", "model.fc=[8]", *SGD)


def test_init_from_another_run_keeps_its_body_and_reinitialises_a_new_head(tmp_path):
    train(tiny_config(*CNN, "train.epochs=1"), tmp_path / "src", quiet=True)
    source = _weights(tmp_path / "src", "best.pt")
    # digits 0-3 only, 4 classes instead of 10: the last Linear's weight and bias cannot come over
    x, y = load_digits(return_X_y=True)
    keep = y < 4
    images = (x[keep].reshape(-1, 8, 8) * 255 / 16).astype(np.uint8)
    name = register_arrays(images, y[keep], ["0", "1", "2", "3"], name="digits0-3")
    over = (*CNN, "train.epochs=1", f"train.init_from={tmp_path / 'src'}", f"data.name={name}")
    over += ("train.freeze=[0.*]", "optim.head_lr=0.01")
    with pytest.warns(Note, match=r"re-initialised \(shapes differ\): 6\.bias, 6\.weight"):
        train(tiny_config(*over), tmp_path / "ft", quiet=True)  # a Note: the command's note: line
    tuned = _weights(tmp_path / "ft", "last.pt")
    assert torch.equal(tuned["0.weight"], source["0.weight"])  # frozen: still the source's
    assert not torch.equal(tuned["4.weight"], source["4.weight"])  # trained on from the source
    assert tuned["6.weight"].shape == (4, 8)


@pytest.mark.parametrize(
    "setting, message",
    [
        (
            "train.freeze=[nothing.*]",
            r"matches no parameter.*\(`vislab model info cnn` / vislab.model_info\('cnn'\) lists its layers\)",
        ),
        ("train.init_from=MISSING", "MISSING"),
    ],
)
def test_bad_fine_tuning_settings_name_the_culprit(tmp_path, setting, message):
    with pytest.raises(UserError, match=message):
        train(tiny_config(*CNN, setting), tmp_path / "r", quiet=True)


def test_the_command_line_extends_and_builds_on_runs(tmp_path, capsys):
    sets = [a for s in ("data.name=digits", "data.limit=300", "train.device=cpu", "model.name=mlp",
                        "model.hidden=[16]", "train.figures=false") for a in ("--set", s)]  # fmt: skip
    base, more = str(tmp_path / "base"), str(tmp_path / "more")
    assert cli(capsys, "train", "-q", "--out", base, "--epochs", "1", *sets)[0] == 0
    code, text = cli(capsys, "train", "-q", "--resume", base, "--epochs", "2")
    assert code == 0, text
    assert json.loads((tmp_path / "base" / "summary.json").read_text())["epochs_run"] == 2
    code, text = cli(capsys, "train", "--out", more, "--init-from", base, "--epochs", "1", *sets)
    assert code == 0 and "initialised from" in text, text
    code, text = cli(capsys, "train", "-q", "--resume", base, "--init-from", base)
    assert code == 2 and "Give one" in one_line(text)


@pytest.mark.parametrize("lr, noted", [(1e6, True), (0.01, False)])
def test_a_loss_blowing_up_without_nan_is_noted_once(tmp_path, capsys, lr, noted):
    """lr 1e6 on digits keeps the loss finite (~1e14) and ended "complete" at chance accuracy, silently."""
    code, text = cli(
        capsys, "train", "--out", tmp_path / "run", "--set", "data.name=digits",
        "--set", "model.name=mlp", "--set", "train.epochs=2", "--set", f"optim.lr={lr}",
        "--set", "train.figures=false",
    )  # fmt: skip
    said = one_line(text)
    assert code == 0, text
    assert said.count("note: the train loss of epoch") == int(noted), text
    if noted:
        assert "of epoch 1 is" in said and "Lower optim.lr" in said


def test_a_fitted_baseline_is_fitted_on_the_images_as_they_are(tmp_path):
    """An SVM in a suite whose base augments (dlvc-compare: crop + flip) was fitted on one random crop
    and flip of each image; it is fitted on the images themselves, and config.yaml says augment is unused."""
    quick = dict(model="svm", data="digits", data__limit=300, train__figures=False)
    plain = vislab.train(out=tmp_path / "plain", **quick)
    shifted = vislab.train(
        out=tmp_path / "aug", augment__crop__p=1.0, augment__crop__padding=2, augment__hflip__p=0.5,
        **quick,
    )  # fmt: skip
    for key in ("train_acc", "val_acc", "test_acc"):
        assert shifted.summary[key] == plain.summary[key], key
    said = (shifted.path / "config.yaml").read_text()
    assert "is fitted once on the train split as it is (not augmented)" in said


# ------------------------------------------------------- weight decay: not on biases and norms
def _decay_of(opt: torch.optim.Optimizer) -> dict[int, tuple[float, float]]:
    """id(parameter) → (its weight_decay, its lr_scale) in ``opt``."""
    return {
        id(p): (g["weight_decay"], g.get("lr_scale", 1.0))
        for g in opt.param_groups
        for p in g["params"]
    }


def test_decay_bias_norm_false_spares_biases_and_norms_and_the_head_keeps_its_lr():
    """A CNN with batch norm and its own head lr: with optim.decay_bias_norm=false every 1-D parameter
    (biases, batch norm's scale and shift) is at weight_decay 0, every other at optim.weight_decay, and
    the head's parameters keep their lr_scale in both groups; the default decays every weight."""
    over = (*CNN, "model.batchnorm=true", "optim.weight_decay=0.1", "optim.head_lr=0.01")
    cpu = torch.device("cpu")
    for spare in (False, True):
        cfg = tiny_config(*over, f"optim.decay_bias_norm={str(not spare).lower()}")
        data, network = build_parts(cfg, cpu, Distributed())
        opt = build_optimisation(cfg, network, cpu, len(data.train)).opt
        got = _decay_of(opt)
        names = [n for n, _ in network.model.named_parameters()]
        head = names[-2:]  # the last Linear, to the 10 classes
        for name, p in network.model.named_parameters():
            want = 0.0 if spare and p.ndim == 1 else 0.1
            assert got[id(p)] == (want, pytest.approx(0.1 if name in head else 1.0)), name
        assert len(opt.param_groups) == (4 if spare else 2)


def test_a_models_no_weight_decay_names_are_spared_and_a_step_leaves_them():
    """The parameters a model names in its ``no_weight_decay`` hook (timm's convention: a position
    embedding) do not decay — a name that is no parameter is skipped; an SGD step on zero gradients shrinks
    only the decayed weights. With decay_bias_norm (the default) or no weight decay, the parameters are as
    given."""

    class Net(ModelHooks, nn.Module):
        def __init__(self):
            super().__init__()
            self.pos = nn.Parameter(torch.ones(1, 3, 4))
            self.fc = nn.Linear(4, 2)
            self.norm = nn.LayerNorm(2)

        def no_weight_decay(self):
            return {"pos", "dist_token"}

    net = Net()
    names = hooks_of(net).no_weight_decay()
    cfg = OptimConfig(name="sgd", lr=0.1, weight_decay=0.5, decay_bias_norm=False)
    params = list(net.parameters())
    assert (
        decay_groups(net, params, cfg.model_copy(update={"decay_bias_norm": True}), names) is params
    )
    assert decay_groups(net, params, cfg.model_copy(update={"weight_decay": 0.0}), names) is params
    opt = build_optimizer(decay_groups(net, params, cfg, names), cfg)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    for p in params:
        p.grad = torch.zeros_like(p)
    opt.step()
    after = dict(net.named_parameters())
    assert torch.allclose(after["fc.weight"], before["fc.weight"] * (1 - 0.1 * 0.5))
    for name in ("pos", "fc.bias", "norm.weight", "norm.bias"):
        assert torch.equal(after[name], before[name]), name


def test_vislabs_vit_spares_its_position_embedding_and_class_token():
    """optim.decay_bias_norm=false on vislab's own ViT (pool=cls, a learned position embedding): both
    tokens' tables are at weight_decay 0 beside the 1-D parameters; the patch projection decays."""
    over = ("data.name=digits", "data.limit=64", "model.name=vit", "model.pool=cls")
    cfg = tiny_config(*over, "optim.weight_decay=0.1", "optim.decay_bias_norm=false")
    cpu = torch.device("cpu")
    data, network = build_parts(cfg, cpu, Distributed())
    got = _decay_of(build_optimisation(cfg, network, cpu, len(data.train)).opt)
    params = dict(network.model.named_parameters())
    assert got[id(params["pos_embed"])][0] == got[id(params["cls_token"])][0] == 0.0
    assert {got[id(p)][0] for n, p in params.items() if p.ndim == 1} == {0.0}
    assert {
        got[id(p)][0]
        for n, p in params.items()
        if p.ndim >= 2 and "token" not in n and "pos" not in n
    } == {0.1}


def _setting(cfg, key: str):
    node = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def test_decay_bias_norm_without_weight_decay_is_noted_and_left_out_of_tables():
    cfg = build_config({}, ["optim.decay_bias_norm=false"])
    assert config_notes(cfg) == [
        "optim.decay_bias_norm=false does nothing with optim.weight_decay=0 and optim.l1=0: it "
        "chooses the weights that decay or optim.l1 penalises, and neither is on."
    ]
    decaying = build_config({}, ["optim.decay_bias_norm=false", "optim.weight_decay=0.1"])
    assert config_notes(decaying) == []
    assert "optim.decay_bias_norm" in idle_settings(lambda key: _setting(cfg, key))


# ------------------------------------------------------------------------ schedule.name=plateau
def test_plateau_cuts_as_torchs_reduce_lr_on_plateau_with_one_more_evaluation_of_patience():
    """The same val losses through vislab's rule and torch's ReduceLROnPlateau (absolute threshold
    ``min_delta``, floor ``min_lr``): the same learning rates, torch's patience being one less (vislab's
    counts as train.early_stop does: the cut comes at the patience-th evaluation without improvement)."""
    losses = [1.0, 0.9, 0.95, 0.91, 0.92, 0.5, 0.6, 0.7, 0.55, 0.8, 0.9, 0.95, 0.99, 1.0]
    cfg = ScheduleConfig(name="plateau", factor=0.5, patience=2, min_lr=0.015)
    rule, loop = Plateau.of(cfg, 0.1, steps_per_epoch=10), LoopState()
    # vislab's SGD: torch's wrapper would import its compiler (seconds) for nothing
    opt = build_optimizer([nn.Parameter(torch.zeros(1))], OptimConfig(name="sgd", lr=0.1))
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=0.5, patience=1, threshold=0.01, threshold_mode="abs", min_lr=0.015
    )
    ours, theirs = [], []
    for epoch, loss in enumerate(losses, 1):
        improved = loop.best is None or better(loss, loop.best, "val_loss", 0.01)
        loop.best = loss if improved else loop.best
        rule.count(loop, improved, epoch * 10)
        ref.step(loss)
        ours.append(0.1 * loop.lr_drop)
        theirs.append(opt.param_groups[0]["lr"])
    assert ours == pytest.approx(theirs) and min(ours) == pytest.approx(0.015)
    assert len(set(ours)) == 4  # cut three times, the last to the floor


# nothing improves by train.min_delta=10: after the first evaluation, every one counts towards a cut
PLATEAU = (*SGD, "schedule.name=plateau", "schedule.factor=0.5", "train.select_metric=val_loss",
           "train.min_delta=10", "train.figures=false")  # fmt: skip


def _rows(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    "extra, lrs",
    [
        (("schedule.patience=1",), [0.1, 0.1, 0.05, 0.025, 0.0125]),
        (("schedule.patience=1", "schedule.min_lr=0.03"), [0.1, 0.1, 0.05, 0.03, 0.03]),
        (("schedule.patience=2",), [0.1, 0.1, 0.1, 0.05, 0.05]),
        # the warm-up's evaluations do not count: the first that does is epoch 3's, at its end
        (("schedule.patience=1", "schedule.warmup_epochs=3"), [0.1 / 3, 0.2 / 3, 0.1, 0.05, 0.025]),
    ],
)
def test_a_plateau_run_trains_at_the_lr_its_rows_say(tmp_path, monkeypatch, extra, lrs):
    """The lr falls by schedule.factor every schedule.patience evaluations without improvement, from the
    next epoch, never below schedule.min_lr; each metrics row's lr is the one the optimizer was given at
    the epoch's last step."""
    given, real_set_lr = [], trainer_mod.set_lr
    monkeypatch.setattr(
        trainer_mod, "set_lr", lambda opt, lr: given.append(lr) or real_set_lr(opt, lr)
    )
    train(tiny_config(*PLATEAU, *extra, "train.epochs=5"), tmp_path / "r", quiet=True)
    rows = _rows(tmp_path / "r")
    assert [r["lr"] for r in rows] == pytest.approx(lrs)
    per_epoch = len(given) // 5
    assert [given[(e + 1) * per_epoch - 1] for e in range(5)] == [r["lr"] for r in rows]


def test_a_killed_plateau_run_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    """Interrupted mid-epoch 3 (one evaluation counted towards the cut) and again mid-epoch 5 (after the
    cut), then resumed: the plateau's count and cuts travel in last.pt — the same rows, lrs and weights."""
    over = (*PLATEAU, "schedule.patience=2", "train.epochs=6", "model.dropout=0.2")
    ref = train(tiny_config(*over), tmp_path / "ref", quiet=True).to_json()
    lrs = [r["lr"] for r in _rows(tmp_path / "ref")]
    assert lrs == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.025])
    for epoch in (2, 4):  # the SIGTERM in epoch 3, then in epoch 5
        with (
            sigterm_at_step(monkeypatch, lambda n, e=epoch: e * n + n // 2),
            pytest.raises(TrainingInterrupted),
        ):
            train(tiny_config(*over), tmp_path / "cut", quiet=True, resume=epoch == 4)
    state = load_checkpoint(tmp_path / "cut" / "checkpoints" / "last.pt").resume.loop
    assert (state.epoch, state.lr_drop, state.plateau_bad) == (4, 0.5, 1)
    got = train(tiny_config(), tmp_path / "cut", resume=True, quiet=True).to_json()
    assert {k: got[k] for k in RESULT_KEYS} == {k: ref[k] for k in RESULT_KEYS}
    assert run_result(tmp_path / "cut") == run_result(tmp_path / "ref")
    a, b = _weights(tmp_path / "ref", "last.pt"), _weights(tmp_path / "cut", "last.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "assignments, note",
    [
        (["train.early_stop=3"], "train.early_stop=3 ≤ schedule.patience=5: the run stops before it trains"),
        (["train.epochs=6"], "schedule.name=plateau does nothing with schedule.patience=5 and the run's 6 evaluations"),
        (["schedule.min_lr=0.01"], "never goes below min_lr, so the lr stays at optim.lr"),
    ],
)  # fmt: skip
def test_a_plateau_that_cannot_cut_is_noted(assignments, note):
    notes = config_notes(
        build_config({}, ["schedule.name=plateau", "train.epochs=30", *assignments])
    )
    assert any(note in n for n in notes), notes
    assert config_notes(build_config({}, ["schedule.name=plateau", "train.epochs=7"])) == []


def test_plateau_settings_are_refused_out_of_range_and_unread_elsewhere():
    for bad in ("schedule.factor=1", "schedule.factor=0", "schedule.patience=0"):
        with pytest.raises(ConfigError, match=bad.split("=")[0]):
            tiny_config("schedule.name=plateau", bad)
    (note,) = config_notes(build_config({}, ["schedule.name=cosine", "schedule.patience=3"]))
    assert note.startswith("schedule.patience=3 does nothing with schedule.name=cosine")


# ------------------------------------------------------- fp16: the steps the loss scaler skips
def test_a_skipped_steps_gradient_norms_stay_out_of_the_epoch_mean():
    """With a loss scaler (``scaled``), a step whose gradients hold inf is one the scaler skips: the epoch
    row is the mean of the other steps and counts the skipped one; without, the inf is the truth."""
    net = nn.Sequential(nn.Linear(3, 2))
    norms = []
    trackers = [StepTracker(net, torch.device("cpu"), 0, True, scaled=s) for s in (True, False)]
    for step, poison in enumerate((False, True, False)):
        net.zero_grad()
        x = torch.randn(4, 3, generator=torch.Generator().manual_seed(step))
        nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 0, 1])).backward()
        if poison:
            net[0].weight.grad[0, 0] = float("inf")
        else:
            norms.append(torch.cat([p.grad.flatten() for p in net.parameters()]).norm().item())
        for tracker in trackers:
            tracker.add_grad_norms()
    (scaled,) = trackers[0].end_epoch(3, 1, 0.1)[1]
    assert scaled["grad_norm"]["0 (Linear)"] == pytest.approx(sum(norms) / 2)
    assert scaled["skipped"] == 1
    (plain,) = trackers[1].end_epoch(3, 1, 0.1)[1]
    assert plain["grad_norm"]["0 (Linear)"] == float("inf") and "skipped" not in plain


OVERFLOW_NET = """
import torch
import torch.nn as nn

CALLS = [0]


class _InfGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return torch.full_like(grad, float("inf"))


class Net(nn.Module):
    def __init__(self, num_classes: int, input_shape: tuple, at: int = 3):
        super().__init__()
        self.at = at
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, num_classes))

    def forward(self, x):
        h = self.body[1](self.body[0](x))
        if self.training and torch.is_grad_enabled():
            CALLS[0] += 1
            if CALLS[0] == self.at:  # this training step's gradients overflow
                h = _InfGrad.apply(h)
        return self.body[3](self.body[2](h))
"""


def test_an_fp16_run_leaves_the_step_its_scaler_skipped_out_of_grad_norms(tmp_path, monkeypatch):
    """fp16 with loss scaling on the CPU (torch autocasts and scales there too; the choice is forced as on
    a T4), a model whose 3rd step's gradients are inf: the GradScaler skips that step (its scale halves),
    and grad_norms.jsonl's epoch 1 is the finite mean of the steps applied, saying one was skipped — with
    no more host syncs than the epochs' log points while the train split is iterated (test_fast's count)."""
    fp16 = Precision("cpu", torch.float16)
    monkeypatch.setattr(parts_mod, "choose_precision", lambda device, amp: fp16)
    monkeypatch.setattr(Progress, "wants_update", lambda self, step: False)
    real_epoch, syncs = DeviceLoader.epoch, _CountSyncs()

    def counted_epoch(self, epoch=0, start_step=0):
        with syncs if self.shuffle else contextlib.nullcontext():  # the train split: the step loop
            yield from real_epoch(self, epoch, start_step)

    monkeypatch.setattr(DeviceLoader, "epoch", counted_epoch)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text(OVERFLOW_NET)
    over = ("model.name=net.py:Net", "train.track_grad_norm=true", "train.figures=false")
    summary = train(tiny_config(*over), tmp_path / "r", quiet=True).to_json()
    assert syncs.count <= 2 * 2  # the epoch-end means of 2 epochs of 9 steps
    assert summary["precision"] == "fp16" and summary["status"] == "complete"
    scaler = load_checkpoint(tmp_path / "r" / "checkpoints" / "last.pt").resume.scaler
    assert scaler["scale"] == 2.0**16 / 2  # one step skipped (and too few to grow it back)
    rows = [
        json.loads(line) for line in (tmp_path / "r" / "grad_norms.jsonl").read_text().splitlines()
    ]
    assert [r["skipped"] for r in rows] == [1, 0]
    assert all(isinstance(v, float) and 0 < v < 1e3 for r in rows for v in r["grad_norm"].values())
