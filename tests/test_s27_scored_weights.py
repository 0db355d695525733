"""Session 27, fix L: which weights a run's summary.json scored is one answer (``RunSummary.scored_file``)
that eval's claimed score, export's ``test_acc`` and the curves' best.pt mark all take — the same for a
summary.json of an older vislab, which has no ``scored``."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import cli, one_line, tiny_config
from vislab.training.scoring import best_pt_epoch
from vislab.training.summary import RunSummary
from vislab.training.trainer import train

# 1 epoch: the end of the best epoch is the end of the run, so last.pt holds best.pt's weights (the average)
EMA = ("train.ema.decay=0.9", "train.epochs=1")
CLAIM = "records val_acc 0.0123 for these weights"


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory):
    """A finished 1-epoch train.ema run."""
    run = tmp_path_factory.mktemp("scored") / "run"
    train(tiny_config(*EMA), run, quiet=True)
    return run


def _copy(run, to, drop_scored: bool = False, **fields):
    """A copy of ``run`` whose summary.json has ``fields`` set and, with ``drop_scored``, no ``scored``
    (as vislab 0.1.0 wrote it)."""
    shutil.copytree(run, to)
    summary = json.loads((to / "summary.json").read_text())
    summary.update(fields)
    if drop_scored:
        del summary["scored"]
    (to / "summary.json").write_text(json.dumps(summary))
    return to


def _exported_test_acc(capsys, run, out) -> float | None:
    code, text = cli(capsys, "export", run, "--format", "torchscript", "--checkpoint", "last",
                     "-o", out / "model.pt")  # fmt: skip
    assert code == 0, text
    return json.loads((out / "model.torchscript.json").read_text())["checkpoint"]["test_acc"]


def _eval_claims(capsys, run) -> bool:
    """Whether eval of ``run``'s last.pt checks its val score against summary.json's (edited to 0.0123)."""
    code, text = cli(
        capsys, "eval", run, "--checkpoint", "last", "--split", "val", "--mistakes", "0"
    )
    assert code == 0, text
    return CLAIM in one_line(text)


@pytest.mark.parametrize("drop_scored", [False, True], ids=["scored", "older-without-scored"])
def test_export_and_eval_of_last_agree_it_holds_the_scored_weights(
    ema_run, tmp_path, capsys, drop_scored
):
    """last.pt at the end of best_epoch holds best.pt's weights: export writes the run's test_acc and
    eval checks its score against summary.json's — with ``scored`` or without it (an older run)."""
    run = _copy(ema_run, tmp_path / "run", drop_scored, val_acc=0.0123)
    test_acc = json.loads((run / "summary.json").read_text())["test_acc"]
    assert _exported_test_acc(capsys, run, tmp_path / "ts") == test_acc
    assert _eval_claims(capsys, run)


def test_a_run_scored_on_its_last_weights_exports_their_score(ema_run, tmp_path, capsys):
    """best.pt deleted and the run scored again: summary.json scored last.pt's average, which export of
    last.pt now names the test_acc of, as eval checks against."""
    run = tmp_path / "lost"
    shutil.copytree(ema_run, run)
    (run / "checkpoints" / "best.pt").unlink()
    (run / "summary.json").unlink()  # the resume scores the run again
    code, text = cli(capsys, "train", "--resume", run, "-q")
    assert code == 0, text
    summary = RunSummary.from_json(json.loads((run / "summary.json").read_text()))
    assert summary.scored == "the train.ema average of the last weights, epoch 1"
    assert summary.scored_file() == "last.pt" and best_pt_epoch(summary) is None
    assert _exported_test_acc(capsys, run, tmp_path / "ts") == summary.test_acc
    _copy(run, tmp_path / "edited", val_acc=0.0123)
    assert _eval_claims(capsys, tmp_path / "edited")


def test_a_later_last_pt_is_not_the_scored_weights(ema_run, tmp_path, capsys):
    """summary.json scored an earlier epoch's best.pt: last.pt of epoch 1 is other weights for both."""
    run = _copy(ema_run, tmp_path / "run", best_epoch=0, val_acc=0.0123)
    assert _exported_test_acc(capsys, run, tmp_path / "ts") is None
    assert not _eval_claims(capsys, run)


@pytest.mark.parametrize(
    "fields, file, marked",
    [
        ({"scored": "best.pt, epoch 6"}, "best.pt", 6),
        ({"scored": "fitted on the train split", "trained_by": "fit_arrays"}, "best.pt", None),
        ({"scored": "the last weights, epoch 6"}, "last.pt", None),
        ({"scored": "the train.ema average of the last weights, epoch 6"}, "last.pt", None),
        ({}, "best.pt", 6),  # a finished run of an older vislab: its best.pt
        ({"status": "interrupted", "step": 3, "scored": None}, None, 6),  # stopped: best.pt's epoch
        ({"scored": "my favourite weights"}, None, None),  # edited by hand: no file to claim
    ],
)
def test_which_file_summary_json_scored(fields, file, marked):
    summary = RunSummary(status="complete", best_epoch=6, test_acc=0.5).replace(**fields)
    assert summary.scored_file() == file
    assert best_pt_epoch(summary) == marked


def test_the_v0_1_fixture_without_scored_scored_its_best_pt():
    from pathlib import Path

    old = Path(__file__).parent / "data" / "run_v0_1" / "summary.json"
    summary = RunSummary.from_json(json.loads(old.read_text()))
    assert summary.scored is None and summary.scored_file() == "best.pt"
    assert best_pt_epoch(summary) == 1
