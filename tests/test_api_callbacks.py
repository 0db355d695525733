"""``vislab.train(callbacks=[...])``: a notebook user's own code after each epoch (the trainer's one
``Callback`` declaration), and ``vislab.Note`` to filter vislab's notes."""

import json
import warnings

import pytest

import vislab
from conftest import TINY_DIGITS
from vislab.errors import UserError


class Rows(vislab.Callback):
    def __init__(self, stop_after: int | None = None):
        self.rows, self.closed, self.stop_after = [], 0, stop_after

    def on_epoch_end(self, row: dict) -> None:
        self.rows.append(row)
        if self.stop_after is not None and row["epoch"] >= self.stop_after:
            raise KeyboardInterrupt("enough")  # what a user's own stop looks like

    def close(self) -> None:
        self.closed += 1


def _metrics(run) -> list[dict]:
    return [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]


def test_callbacks_see_each_epochs_row_as_metrics_jsonl_holds_it(tmp_path):
    seen = Rows()
    run = vislab.train(
        out=tmp_path / "run", callbacks=[seen], **(TINY_DIGITS | {"train__epochs": 2})
    )
    assert [r["epoch"] for r in seen.rows] == [1, 2]
    assert [r["val_acc"] for r in seen.rows] == [r["val_acc"] for r in _metrics(run)]
    assert seen.closed == 1


def test_a_callback_that_raises_stops_the_run_and_keeps_what_it_wrote(tmp_path):
    seen = Rows(stop_after=1)
    with pytest.raises(KeyboardInterrupt):
        vislab.train(out=tmp_path / "run", callbacks=[seen], **(TINY_DIGITS | {"train__epochs": 3}))
    assert [r["epoch"] for r in seen.rows] == [1] and seen.closed == 1
    assert (tmp_path / "run" / "checkpoints" / "last.pt").exists()
    resumed = vislab.train(out=tmp_path / "run", resume=True)
    assert [r["epoch"] for r in _metrics(resumed)] == [1, 2, 3]


@pytest.mark.parametrize("given", [lambda row: None, [print], "tracker"])
def test_something_else_than_a_callback_is_refused_with_the_way(tmp_path, given):
    with pytest.raises(UserError, match=r"is no vislab\.Callback: subclass it"):
        vislab.train(out=tmp_path / "run", callbacks=given, **TINY_DIGITS)
    assert not (tmp_path / "run").exists()


def test_notes_can_be_silenced_by_their_category(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=vislab.Note)
        vislab.train(out=tmp_path / "run", optim__momentum=0.9, **TINY_DIGITS)  # adam: a note
    assert not [w for w in caught if issubclass(w.category, vislab.Note)]


def test_callbacks_none_means_none(tmp_path):
    run = vislab.train(out=tmp_path / "run", callbacks=None, **TINY_DIGITS)
    assert run.summary["status"] == "complete"
