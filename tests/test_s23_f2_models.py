"""Session 23, models and training: a registered builder function's errors, a model whose output has no
gradient, train.threads beyond the cores, empty model.widths, the advice for a damaged best.pt per command,
and the mirror notes of a model that flips digits itself (fast's alternating flip and flip TTA)."""

import json
import shutil

import pytest
import torch.nn as nn

import vislab
import vislab.training.runtime as runtime
from conftest import TINY_RUN, cli, one_line, tiny_sets
from vislab.config import build_config
from vislab.errors import UserCodeError
from vislab.models.hooks import hooks_of
from vislab.models.registry import build_model, register_model, unregister_model
from vislab.training.mirror_notes import mirror_notes

# the tiny run's training keywords, the model left to each test
RUN = {k: v for k, v in TINY_RUN.items() if k.split("__")[0] != "model"}


def build_own(input_shape, num_classes, **kw):
    return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes, **kw))  # the user's line


@pytest.fixture
def own():
    register_model("s23-own")(build_own)
    yield "s23-own"
    unregister_model("s23-own")


def test_registered_function_raising_is_a_user_code_error_naming_its_line(own, tmp_path):
    with pytest.raises(UserCodeError) as info:
        vislab.model_info(own, input_shape=(1, 8, 8), num_classes=10, foo=1)
    said = str(info.value)
    assert f"model '{own}': your code raised TypeError while building the model" in said, said
    assert "the user's line" in said and "model.* options" in said, said
    with pytest.raises(UserCodeError, match="your code raised TypeError"):
        vislab.train(model=own, data="digits", model__foo=1, out=tmp_path / "r", **RUN)


def test_registered_function_still_trains(own, tmp_path):
    vislab.train(model=own, data="digits", out=tmp_path / "r", **RUN)
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] == "complete"


class Detached(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.l = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.l(x.flatten(1)).detach()


def test_a_detached_output_is_a_user_code_error_and_a_failed_run(tmp_path):
    out = tmp_path / "det"
    with pytest.raises(UserCodeError) as info:
        vislab.train(model=Detached, data="digits", out=out, **RUN)
    said = one_line(str(info.value))
    assert "Detached': its output has no gradient" in said, said
    assert ".detach()" in said and "torch.no_grad()" in said, said
    assert "does not require grad" not in said, said
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed" and "no gradient" in summary["message"], summary


def test_threads_beyond_the_cores_are_noted(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(runtime, "usable_cores", lambda: 2)
    sets = tiny_sets(
        "train.threads=3", "data.limit=64", "data.limit_eval=20", drop="data.limit=300"
    )
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "t3")
    said = one_line(text)
    assert code == 0 and "note: train.threads=3 asks for 3 CPU threads" in said, text
    assert "this process may use 2 cores" in said and "--set train.threads=2" in said, text


def test_threads_far_beyond_the_cores_are_refused(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(runtime, "usable_cores", lambda: 2)
    code, text = cli(capsys, "train", *tiny_sets("train.threads=1000"), "--out", tmp_path / "t")
    said = one_line(text)
    assert code == 2 and "train.threads=1000 asks for 1000 CPU threads" in said, text
    assert "--set train.threads=2 / train__threads=2" in said and "epoch 1" not in said, text


def test_threads_within_the_cores_say_nothing(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(runtime, "usable_cores", lambda: 2)
    # two threads spin while the other test worker holds a core: few images to train and score
    sets = tiny_sets(
        "train.threads=2", "data.limit=64", "data.limit_eval=20", drop="data.limit=300"
    )
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "t")
    assert code == 0 and "train.threads" not in text, text


@pytest.mark.parametrize("model", ["cnn", "fast"])
def test_empty_widths_are_refused(model, tmp_path, capsys):
    sets = tiny_sets(f"model.name={model}", "model.widths=[]", drop="model.hidden=[32]")
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "w")
    said = one_line(text)
    assert code == 2 and f"model.widths=[] is too short: model '{model}' needs at least 1" in said
    assert "--set model.widths=[32] / model__widths=[32]" in said, text
    assert not (tmp_path / "w").exists()


def test_model_info_says_widths_may_not_be_empty(capsys):
    code, text = cli(capsys, "model", "info", "cnn", "--input", "1x8x8")
    assert code == 0 and "non-empty list of ≥ 1" in text, text


@pytest.fixture
def empty_best(trained, tmp_path):
    run = tmp_path / "c_empty"
    shutil.copytree(trained, run)
    (run / "checkpoints" / "best.pt").write_bytes(b"")
    return run


def test_damaged_best_pt_advice_for_init_from(empty_best, tmp_path, capsys):
    out = tmp_path / "if1"
    code, text = cli(capsys, "train", *tiny_sets(), "--init-from", empty_best, "--out", out)
    said = one_line(text)
    last = empty_best / "checkpoints" / "last.pt"
    assert code == 2 and f"train with --init-from {last} / train__init_from='{last}'" in said, text
    assert "--checkpoint" not in said, text


def test_damaged_best_pt_advice_for_model_info(empty_best, capsys):
    code, text = cli(capsys, "model", "info", empty_best)
    said = one_line(text)
    assert code == 2 and f"give the file '{empty_best / 'checkpoints' / 'last.pt'}'" in said, text
    # the advice works
    code, text = cli(capsys, "model", "info", empty_best / "checkpoints" / "last.pt")
    assert code == 0, text


# `--config fast` on 64 digits resized to 32×32, one epoch on the CPU
FAST_DIGITS = ["--config", "fast"] + [
    x
    for s in ("data.name=digits", "data.resize=32", "data.limit=64", "train.epochs=1")
    + ("train.batch_size=32", "train.device=cpu", "train.seed=0", "train.figures=false")
    for x in ("--set", s)
]


def test_fast_on_digits_notes_its_own_mirrors(tmp_path, capsys):
    code, text = cli(capsys, "train", *FAST_DIGITS, "--out", tmp_path / "f")
    said = one_line(text)
    assert code == 0 and "note: model 'fast' mirrors half the training images" in said, text
    assert "a mirrored 2, 3, 4, 7 is no digit" in said, text
    assert "--set model.alternate_flip=false --set model.tta=none" in said, text
    assert "model__alternate_flip=False, model__tta='none'" in said, text


def test_fast_without_its_mirrors_gets_no_mirror_note():
    fast = build_model("fast", (1, 32, 32), 10, alternate_flip=False, tta="none")
    sets = ["model.name=fast", "data.name=digits", "model.alternate_flip=false", "model.tta=none"]
    assert mirror_notes(build_config({}, sets), hooks_of(fast), fitted=False) == []
