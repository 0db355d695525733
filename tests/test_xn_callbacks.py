"""A notebook user's callbacks (``vislab.train(callbacks=[...])``): ending training cleanly with
``vislab.StopTraining``, a failing callback named where the run is listed, a misspelled hook noted; and a
cell run again with fewer epochs than its run has trained since."""

import json

import pytest

import vislab
from conftest import TINY_DIGITS, cli
from vislab.errors import UserError

KW = {k: v for k, v in TINY_DIGITS.items() if k != "train__epochs"}


class StopAt(vislab.Callback):
    def __init__(self, epoch: int, exc: type[BaseException] | None = None):
        self.epoch, self.exc, self.seen = epoch, exc or vislab.StopTraining, []

    def on_epoch_end(self, row: dict) -> None:
        self.seen.append(row["epoch"])
        if row["epoch"] >= self.epoch:
            raise self.exc("good enough")


def _rows(path) -> list[dict]:
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def test_stop_training_in_a_callback_ends_the_run_as_early_stop_does(tmp_path):
    out, after = tmp_path / "cb", StopAt(1)
    run = vislab.train(out=out, train__epochs=3, callbacks=[StopAt(1), after], **KW)
    s = run.summary
    assert (s["status"], s["stopped_early"], s["epochs_run"], s["best_epoch"]) == (
        "complete",
        True,
        1,
        1,
    )
    assert s["test_acc"] is not None and after.seen == [1]  # scored; the other callbacks still told
    assert _rows(out)[-1]["stopped_early"] is True
    assert vislab.train(out=out, resume=True).summary["epochs_run"] == 1  # nothing more trained
    assert len(_rows(out)) == 1
    with pytest.raises(
        UserError, match=r"callback StopAt stopped it \(good enough\).*StopTraining"
    ):
        vislab.train(out=out, resume=True, epochs=5)


def test_a_failing_callback_is_named_in_summary_json_and_compare(tmp_path):
    out = tmp_path / "cb2"
    with pytest.raises(StopIteration) as caught:
        vislab.train(out=out, train__epochs=3, callbacks=[StopAt(1, StopIteration)], **KW)
    assert "raise vislab.StopTraining(reason) instead" in caught.value.__notes__[0]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert summary["message"].startswith("callback StopAt raised StopIteration: good enough")
    with pytest.raises(
        UserError, match=r"cb2 is not finished \(status failed: callback StopAt raised"
    ):
        vislab.compare([out])  # the table's reason for leaving it out: summary.json's message


def test_a_misspelled_hook_is_noted_with_the_one_meant(tmp_path):
    class Typo(vislab.Callback):
        def on_epoch_ends(self, row: dict) -> None:
            pass

    with pytest.warns(vislab.Note, match=r"Typo\.on_epoch_ends .*did you mean on_epoch_end\?"):
        vislab.train(out=tmp_path / "run", train__epochs=1, callbacks=[Typo()], **KW)


def test_a_cell_asking_fewer_epochs_than_trained_gets_a_fix_that_works(tmp_path, capsys):
    out = tmp_path / "cnn"
    vislab.train(out=out, train__epochs=1, **KW)
    vislab.train(out=out, resume=True, epochs=2)
    with pytest.raises(UserError, match="train.epochs: 2 → 1") as refused:
        vislab.train(out=out, resume=True, train__epochs=1, **KW)  # the earlier cell, run again
    said = str(refused.value)
    assert "has trained 2 epochs already" in said and "give epochs=1" not in said
    assert "give train__epochs=2" in said and f"vislab.load_run({str(out)!r})" in said
    assert vislab.train(out=out, resume=True, train__epochs=2, **KW).summary["epochs_run"] == 2
    assert vislab.load_run(out).summary["epochs_run"] == 2
    # the command line's way: --set train.epochs=1 on a run of 2 is refused, naming what works
    code, text = cli(capsys, "train", "--resume", out, "--set", "train.epochs=1")
    assert code == 2 and "It has trained 2 epochs already" in text, text
    assert "drop --set train.epochs=1" in text and f"vislab eval {out}" in text, text
    code, text = cli(capsys, "train", "--resume", out)
    assert code == 0, text
