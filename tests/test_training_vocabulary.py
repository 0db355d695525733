"""The training vocabulary beyond the reports' tricks: weight EMA for any model, test-time augmentation,
gradient accumulation — each checked against what it means, not only that it runs."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
import torch.nn as nn
from sklearn.datasets import load_digits

import vislab
from conftest import cli, one_line, tiny_config
from vislab.data.sources.memory import register_arrays
from vislab.data.tta import TTA
from vislab.errors import ConfigError, UserError
from vislab.export import export_run
from vislab.training.checkpoint import load_checkpoint, save_checkpoint
from vislab.training.ema import WeightEMA
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
    whole = train(tiny_config(*over), tmp_path / "whole", quiet=True)
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
    resumed = train(tiny_config(), tmp_path / "cut", resume=True, quiet=True)
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
    summary = train(tiny_config(*over), tmp_path / "r", quiet=True)
    run = vislab.load_run(tmp_path / "r")
    assert run.evaluate("test")["acc"] == summary["test_acc"]
    image = np.random.default_rng(0).integers(0, 256, (8, 8), dtype=np.uint8)
    model = run.model()
    x = torch.from_numpy(image).float().div(255)[None, None]
    stats = load_checkpoint(tmp_path / "r" / "checkpoints" / "best.pt").record.inputs.stats
    x = (x - stats["mean"].view(1, -1, 1, 1)) / stats["std"].view(1, -1, 1, 1)
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
    full = train(tiny_config(*common, "train.batch_size=32"), tmp_path / "full", quiet=True)
    acc = train(
        tiny_config(*common, "train.batch_size=16", "train.accumulate=2"),
        tmp_path / "acc",
        quiet=True,
    )
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
    longer = train(tiny_config(*over, "train.epochs=3"), tmp_path / "long", quiet=True)
    train(tiny_config(*over, "train.epochs=2"), tmp_path / "r", quiet=True)
    extended = train(tiny_config(), tmp_path / "r", resume=True, quiet=True, epochs=3)
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


def test_init_from_another_run_keeps_its_body_and_reinitialises_a_new_head(tmp_path, capsys):
    train(tiny_config(*CNN, "train.epochs=1"), tmp_path / "src", quiet=True)
    source = _weights(tmp_path / "src", "best.pt")
    # digits 0-3 only, 4 classes instead of 10: the last Linear's weight and bias cannot come over
    x, y = load_digits(return_X_y=True)
    keep = y < 4
    images = (x[keep].reshape(-1, 8, 8) * 255 / 16).astype(np.uint8)
    name = register_arrays(images, y[keep], ["0", "1", "2", "3"], name="digits0-3")
    over = (*CNN, "train.epochs=1", f"train.init_from={tmp_path / 'src'}", f"data.name={name}")
    over += ("train.freeze=[0.*]", "optim.head_lr=0.01")
    train(tiny_config(*over), tmp_path / "ft", quiet=False)
    said = capsys.readouterr()
    assert "re-initialised (shapes differ): 6.bias, 6.weight" in said.out + said.err
    tuned = _weights(tmp_path / "ft", "last.pt")
    assert torch.equal(tuned["0.weight"], source["0.weight"])  # frozen: still the source's
    assert not torch.equal(tuned["4.weight"], source["4.weight"])  # trained on from the source
    assert tuned["6.weight"].shape == (4, 8)


@pytest.mark.parametrize(
    "setting, message",
    [("train.freeze=[nothing.*]", "matches no parameter"), ("train.init_from=MISSING", "MISSING")],
)
def test_bad_fine_tuning_settings_name_the_culprit(tmp_path, setting, message):
    with pytest.raises(UserError, match=message):
        train(tiny_config(*CNN, setting), tmp_path / "r", quiet=True)


def test_the_command_line_extends_and_builds_on_runs(tmp_path, capsys):
    sets = [a for s in ("data.name=digits", "data.limit=300", "train.device=cpu", "model.name=mlp",
                        "model.hidden=[16]") for a in ("--set", s)]  # fmt: skip
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
