"""Training settings that did nothing, or harm, without a word: a weight average (``train.ema``) without
warm-up whose horizon outlasts the run, ``train.ema`` and ``train.compile`` on a model fitted once
(summary.json's ``compiled`` then says so), and a checkpoint file given to ``--checkpoint``."""

from __future__ import annotations

import json

import pytest

from conftest import cli, one_line, tiny_config, tiny_sets
from vislab.config.notes import ema_note


def _note(*overrides: str, trained_by: str = "optimizer", per_epoch: int = 22) -> str | None:
    return ema_note(tiny_config(*overrides), trained_by, per_epoch)


def test_an_average_without_warm_up_longer_than_the_run_is_noted_with_both_fixes():
    note = one_line(_note("train.ema.decay=0.9999", "train.ema.warmup=false") or "")
    assert "train.ema.decay=0.9999 with train.ema.warmup=false" in note
    assert "about 10,000 optimizer steps" in note  # the horizon 1/(1 − decay)
    assert "this run takes 44 (22 an epoch, 2 epochs)" in note
    assert "99.6 % of the average is still the untrained starting weights" in note
    # a decay whose horizon is a tenth of the steps, and the warm-up, in both spellings
    assert "--set train.ema.decay=0.77 / train__ema__decay=0.77" in note
    assert "--set train.ema.warmup=true / train__ema__warmup=True." in note


@pytest.mark.parametrize(
    "overrides",
    [
        ("train.ema.decay=0.9999",),  # its warm-up bounds the horizon
        ("train.ema.decay=0.9", "train.ema.warmup=false"),  # 0.9^44: 1 % of the start left
        (),  # no average
    ],
)
def test_an_average_that_forgets_its_start_says_nothing(overrides):
    assert _note(*overrides) is None


def test_a_run_too_short_for_a_smaller_decay_is_given_the_warm_up_alone():
    note = one_line(_note("train.ema.decay=0.99", "train.ema.warmup=false", per_epoch=5) or "")
    assert "this run takes 10 (5 an epoch, 2 epochs)" in note
    assert "train__ema__decay=" not in note
    assert "Give the average's warm-up: --set train.ema.warmup=true" in note


def test_a_fitted_model_says_the_average_does_nothing_without_reading_its_name():
    cfg = tiny_config("model.name=majority", "train.ema.decay=0.999")
    assert ema_note(cfg, "fit_arrays", 1) == (
        "train.ema does nothing for majority: it is fitted once, with no steps to average. Leave it "
        "off: --set train.ema.decay=0 / train__ema__decay=0."
    )
    # how the model trains decides, not its name
    assert ema_note(cfg, "optimizer", 22) is None


def test_a_run_notes_its_average_before_training(tmp_path, capsys):
    sets = tiny_sets("train.ema.decay=0.9999", "train.ema.warmup=false")
    code, out = cli(capsys, "train", *sets, "--out", tmp_path / "run")
    assert code == 0, out
    text = one_line(out)
    assert "note: train.ema.decay=0.9999 with train.ema.warmup=false" in text
    assert text.index("note: train.ema.decay") < text.index("epoch 1/1")


def test_a_fitted_run_notes_ema_and_compile_and_records_what_ran(tmp_path, capsys):
    extra = ("model.name=majority", "train.ema.decay=0.999", "train.compile=true")
    sets = tiny_sets(*extra, drop="model.hidden=[32]")
    run = tmp_path / "run"
    code, out = cli(capsys, "train", *sets, "--out", run)
    assert code == 0, out
    text = one_line(out)
    assert "note: train.ema does nothing for majority: it is fitted once" in text
    assert (
        "note: train.compile does nothing for majority: it is fitted once, with no steps to "
        "compile. Leave it off: --set train.compile=false / train__compile=False." in text
    )
    summary = json.loads((run / "summary.json").read_text())
    assert summary["compiled"] == "eager (nothing compiled: fitted once)"


@pytest.mark.parametrize("command", ["eval", "export", "explain", "predict"])
def test_a_checkpoint_file_given_to_checkpoint_is_named_as_the_target(tmp_path, capsys, command):
    last = tmp_path / "run" / "checkpoints" / "last.pt"  # a file (one missing is said to be none)
    last.parent.mkdir(parents=True)
    last.write_bytes(b"")
    images = ["x.png"] if command in ("predict", "explain") else []
    code, out = cli(capsys, command, tmp_path / "run", *images, "--checkpoint", last)
    assert code == 2
    text = one_line(out)
    assert (
        f"'{last}' is a checkpoint file, which is given as the TARGET instead of the run folder"
        in text
    )
    assert f"vislab {command} {last}{' IMAGES' if images else ''}." in text
    assert "Value error" not in text and "is not one of" not in text


def test_an_existing_file_and_other_mistakes_of_checkpoint(tmp_path, capsys):
    weights = tmp_path / "weights"
    weights.write_bytes(b"")
    code, out = cli(capsys, "eval", tmp_path, "--checkpoint", weights)
    assert code == 2 and f"vislab eval {weights}." in one_line(out)
    code, out = cli(capsys, "eval", tmp_path, "--checkpoint", "last.pt")
    assert code == 2 and "it takes best or last, without .pt: --checkpoint last." in one_line(out)
    code, out = cli(capsys, "eval", tmp_path, "--checkpoint", "bestt")
    assert code == 2 and "it takes best or last, not 'bestt'." in one_line(out)
