"""A callback's exception ends the run as the user's model's does (summary.json says so, last.pt kept, the
exception re-raised with a note); a fitted baseline's epochs in the tables are what its summary says; a
folder given to ``Run.explain`` holding an unreadable file explains the others and names that one."""

import shutil
import warnings

import pytest

import vislab
from conftest import TINY_DIGITS, tiny_config
from vislab.training.trainer import train


class StopAt(vislab.Callback):
    """Raises ``error`` at the row of ``epoch``."""

    def __init__(self, epoch: int, error: BaseException):
        self.epoch, self.error = epoch, error

    def on_epoch_end(self, row: dict) -> None:
        if row["epoch"] == self.epoch:
            raise self.error


def _notes(e: BaseException) -> str:
    return " ".join(getattr(e, "__notes__", []))


# ------------------------------------------------------------------------ a callback that raises
def test_a_callback_that_raises_leaves_a_failed_run_that_resumes(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="enough") as told:
        vislab.train(
            out=out,
            callbacks=[StopAt(2, RuntimeError("enough"))],
            **(TINY_DIGITS | {"train__epochs": 3}),
        )
    summary = vislab.load_run(out).summary
    assert (
        summary["status"] == "failed" and summary["epochs_run"] == 2
    )  # was {}: as if still training
    note = _notes(told.value)
    assert "callback StopAt raised this" in note and 'summary.json says "failed"' in note
    assert str(out / "checkpoints" / "last.pt") in note and "resume=True" in note
    resumed = vislab.train(out=out, resume=True)
    assert resumed.summary["status"] == "complete" and resumed.history.epoch.tolist() == [1, 2, 3]


def test_a_callback_raising_keyboard_interrupt_leaves_an_interrupted_run(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt) as told:
        vislab.train(
            out=out,
            callbacks=[StopAt(1, KeyboardInterrupt())],
            **(TINY_DIGITS | {"train__epochs": 2}),
        )
    summary = vislab.load_run(out).summary
    assert summary["status"] == "interrupted" and summary["epochs_run"] == 1  # as a real Ctrl-C's
    assert 'summary.json says "interrupted"' in _notes(told.value)


def test_a_fitted_baseline_stopped_by_its_callback_resumes_to_one_row(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="enough"):
        vislab.train(
            out=out,
            callbacks=[StopAt(1, RuntimeError("enough"))],
            **{k: v for k, v in TINY_DIGITS.items() if not k.startswith("model")},
            model="majority",
        )
    assert vislab.load_run(out).summary["status"] == "failed"
    resumed = vislab.train(out=out, resume=True)
    assert resumed.summary["status"] == "complete"
    assert resumed.history.epoch.tolist() == [1]  # fitted again, not a second row


# ------------------------------------------------------------------ a fitted baseline's epochs
def test_the_tables_give_a_fitted_baseline_the_epochs_its_summary_says(tmp_path):
    runs = tmp_path / "runs"
    train(tiny_config("model.name=majority"), runs / "majority", quiet=True)
    train(tiny_config("train.epochs=1"), runs / "mlp", quiet=True)
    summary = vislab.load_run(runs / "majority").summary
    table = vislab.compare(runs).set_index("run")
    for key in ("epochs_run", "best_epoch"):  # were NaN in the table, 1 in the summary
        assert table.loc["majority", key] == summary[key] == 1
        assert table.loc["mlp", key] == 1


# ------------------------------------------------------------------ explain a folder with a bad file
def test_explain_a_folder_leaves_out_its_unreadable_file_and_names_it(trained, digit_png, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        shutil.copy(digit_png, folder / name)
    (folder / "bad.png").write_bytes(b"not a png")
    run = vislab.load_run(trained)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = run.explain([folder], method="saliency")
    titles = [row._suptitle.get_text().split(":")[0] for row in figure.subfigs]
    assert titles == ["a.png", "b.png"]  # was: a UserError on bad.png, nothing explained
    said = " ".join(str(w.message) for w in caught if issubclass(w.category, vislab.Note))
    assert "bad.png" in said and "not a readable image" in said

    only_bad = tmp_path / "only"
    only_bad.mkdir()
    (only_bad / "bad.png").write_bytes(b"not a png")
    with pytest.raises(vislab.UserError, match="bad.png"):
        run.explain(only_bad, method="saliency")
