"""A run's final scoring reuses the best epoch's own val evaluation, made in the same process, instead of
scoring val again: summary.json holds the same numbers as when val is scored again (train.ema, TTA, early
stopping, best.pt gone or replaced, a resume, a fitted model), with one val pass fewer; and the note
for a ``data.limit`` far below the val split's size."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

import vislab.training.evaluate as evaluate_module
import vislab.training.trainer as trainer_module
from conftest import tiny_config
from vislab.errors import Note
from vislab.training.state import Callback
from vislab.training.trainer import train

pytestmark = pytest.mark.filterwarnings("ignore::vislab.errors.Note")  # tta=flip of digits
QUICK = ("train.figures=false", "train.epochs=3")
CNN = ("model.name=cnn", "model.widths=[4,8]")
# its best epoch is not its last (1 of 3; 2 with train.ema)
DIVERGING = ("optim.name=sgd", "optim.lr=3")
# everything summary.json says of the scores, and of which weights they are
SCORES = (
    "val_acc", "val_pacc", "val_loss", "val_top5_acc", "val_per_class", "test_acc", "test_pacc",
    "test_loss", "test_auc", "test_per_class", "best_epoch", "scored", "train_acc", "status",
)  # fmt: skip


class _OnLastEpoch(Callback):
    """Does ``act(run)`` after the row of epoch ``epoch``: before the run is scored."""

    def __init__(self, run: Path, epoch: int, act) -> None:
        self.run, self.epoch, self.act = run, epoch, act

    def on_epoch_end(self, row: dict) -> None:
        if row["epoch"] == self.epoch:
            self.act(self.run / "checkpoints")


def _delete_best(ckpts: Path) -> None:
    (ckpts / "best.pt").unlink()


def _halve_best(ckpts: Path) -> None:  # best.pt replaced by other weights, of the same epoch
    saved = torch.load(ckpts / "best.pt", weights_only=True)
    weights = saved["state_dict"]
    saved["state_dict"] = {k: v * 0.5 if v.is_floating_point() else v for k, v in weights.items()}
    torch.save(saved, ckpts / "best.pt")


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def _scores(run: Path) -> dict:
    summary = _summary(run)
    return {k: summary.get(k) for k in SCORES}


def _trained(run: Path, sets: tuple[str, ...], act=None, at: int = 3) -> Path:
    callbacks = [_OnLastEpoch(run, at, act)] if act else []
    train(tiny_config(*QUICK, *sets), run, quiet=True, callbacks=callbacks)
    return run


CASES = {
    "plain": ((), None),
    "ema": (("train.ema.decay=0.9",), None),
    "tta": ((*CNN, "train.tta=flip"), None),
    "ema_and_tta": ((*CNN, "train.ema.decay=0.9", "train.tta=flip"), None),
    "early_stop": (("train.epochs=4", "train.early_stop=1", "train.min_delta=1"), None),
    "eval_every": (("train.eval_every=2",), None),
    "by_val_loss": (("train.select_metric=val_loss",), None),
    "best_pt_deleted": (DIVERGING, _delete_best),
    "ema_best_pt_deleted": ((*DIVERGING, "train.ema.decay=0.5"), _delete_best),
    "best_pt_replaced": ((), _halve_best),
    "fitted": (("model.name=majority",), None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_summary_scores_equal_those_of_a_run_that_scores_val_again(case, tmp_path, monkeypatch):
    sets, act = CASES[case]
    at = 2 if "train.early_stop=1" in sets else 3
    got = _trained(tmp_path / "reused", sets, act, at)
    monkeypatch.setattr(evaluate_module, "kept_val", lambda *a, **k: None)
    again = _trained(tmp_path / "again", sets, act, at)
    assert _scores(got) == _scores(again)
    assert _summary(got).keys() == _summary(again).keys()
    if act is _delete_best:
        assert "last weights, epoch 3" in _summary(got)["scored"]
    if (
        act is not None
    ):  # weights other than those the best epoch evaluated: its numbers would be wrong
        rows = [json.loads(line) for line in (again / "metrics.jsonl").read_text().splitlines()]
        best_row = max(rows, key=lambda r: r["val_pacc"])  # the first best: best.pt's epoch
        assert _summary(again)["val_loss"] != best_row["val_loss"]


# a user's model whose forward counts its calls in a buffer best.pt does not save, and scales its logits by
# that count: scoring val again gives other numbers than the best epoch's own evaluation did
COUNTING = """
import torch, torch.nn as nn

class Net(nn.Module):
    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.fc = nn.Linear(int(torch.tensor(input_shape).prod()), num_classes)
        self.register_buffer("calls", torch.zeros(()), persistent=False)

    def forward(self, x):
        self.calls += 1
        return self.fc(x.flatten(1)) * (1 + 0.1 * self.calls)
"""


def test_a_forward_that_changes_an_unsaved_buffer_scores_val_again(tmp_path, monkeypatch):
    (tmp_path / "counting.py").write_text(COUNTING)
    monkeypatch.chdir(tmp_path)
    sets = ("model.name=counting.py:Net",)
    got = _trained(tmp_path / "reused", sets)
    monkeypatch.setattr(evaluate_module, "kept_val", lambda *a, **k: None)
    again = _trained(tmp_path / "again", sets)
    assert _scores(got) == _scores(again)


class _ValPasses:
    """Counts the forward passes over the run's val split (``predict_logits`` on its loader)."""

    def __init__(self, monkeypatch) -> None:
        self.count, self.val = 0, None
        set_up, predict = trainer_module.set_up, evaluate_module.predict_logits

        def spied_set_up(*a, **k):
            t = set_up(*a, **k)
            self.val = t.data.val
            return t

        def spied_predict(model, loader, *a, **k):
            self.count += loader is self.val
            return predict(model, loader, *a, **k)

        monkeypatch.setattr(trainer_module, "set_up", spied_set_up)
        monkeypatch.setattr(evaluate_module, "predict_logits", spied_predict)


def _evaluated_rows(run: Path) -> int:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return sum("val_acc" in r for r in rows)


@pytest.mark.parametrize("case", ["plain", "ema", "tta"])
def test_the_val_split_is_scored_once_per_evaluated_epoch_only(case, tmp_path, monkeypatch):
    """Each evaluated epoch scores val once; the final scoring of best.pt reuses its epoch's."""
    sets = CASES[case][0]
    passes = _ValPasses(monkeypatch)
    run = _trained(tmp_path / "run", sets)
    assert _evaluated_rows(run) == 3
    assert passes.count == 3  # before: 4, the last one the same numbers as best.pt's epoch's
    assert _summary(run)["eval_s"] > 0


def _resumed(run: Path, monkeypatch, reuse: bool) -> tuple[int, dict]:
    """A 2-epoch run trained on to 4 by a resume (``reuse``: False, val scored again at its end): the
    resumed process's val passes, and its scores."""
    train(tiny_config(*QUICK, "train.epochs=2"), run, quiet=True)
    with monkeypatch.context() as m:
        if not reuse:
            m.setattr(evaluate_module, "kept_val", lambda *a, **k: None)
        passes = _ValPasses(m)
        train(None, run, resume=True, quiet=True, epochs=4)
    return passes.count, _scores(run)


def test_a_resume_reuses_only_an_evaluation_it_made_itself(tmp_path, monkeypatch):
    """Where the best epoch is before the resume, its evaluation went with the first process: val is
    scored again; where after, the resumed process's own is reused. The scores are those of a run that
    always scores val again."""
    count, got = _resumed(tmp_path / "reused", monkeypatch, reuse=True)
    count_again, again = _resumed(tmp_path / "again", monkeypatch, reuse=False)
    assert got == again
    assert count_again == 3  # epochs 3 and 4, then the final scoring
    assert count == 2 + (got["best_epoch"] <= 2)


def _notes(cfg_sets: tuple[str, ...], tmp_path: Path) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(tiny_config("train.figures=false", "train.epochs=1", *cfg_sets), tmp_path / "run")
    return [str(w.message) for w in caught if issubclass(w.category, Note)]


def test_a_limit_far_below_the_val_split_suggests_data_limit_eval(tmp_path):
    """digits: 162 val and 180 test images, whole under data.limit=50 (train only)."""
    said = [n for n in _notes(("data.limit=50",), tmp_path) if "data.limit_eval" in n]
    assert len(said) == 1, said
    assert said[0].startswith("data.limit=50 keeps 50 train images, but val (162) and test (180)")
    assert "--set data.limit_eval=50" in said[0]


@pytest.mark.parametrize("sets", [("data.limit=100",), ("data.limit=50", "data.limit_eval=40"), ()])
def test_no_limit_eval_note_where_val_is_not_far_larger(sets, tmp_path):
    """val at most twice data.limit, data.limit_eval given, or no data.limit: no note."""
    cfg_sets = sets if sets else ("data.limit=null",)
    assert not [n for n in _notes(cfg_sets, tmp_path) if "data.limit_eval" in n]
