"""summary.json as one typed record (vislab.training.summary.RunSummary): a real run's file reads and
writes back unchanged, a hand-made or newer one keeps the keys it does not know, a stopped run's says
where it stopped, and a hand-edited value of another type makes the file unreadable, not a crash."""

from __future__ import annotations

import json

from conftest import cli, table_run
from vislab.training.rundir import RunDir
from vislab.training.state import LoopState, Saved
from vislab.training.stopped_record import write_stopped_summary
from vislab.training.summary import RunSummary


def test_a_finished_runs_summary_reads_typed_and_writes_back_byte_for_byte(trained, tmp_path):
    text = (trained / "summary.json").read_text()
    summary = RunDir(trained).load_summary()
    assert summary.complete and summary.status == "complete" and summary.epochs_run == 1
    assert summary.model == "mlp" and summary.data == "digits" and summary.seed == 0
    assert summary.n_train == 300 and summary.n_val > 0 and summary.n_test > 0  # data.limit=300
    assert set(summary.test_per_class) == {str(i) for i in range(10)}
    assert isinstance(summary.test_acc, float) and summary.stopped_early is False
    assert summary.extra == {}  # every key vislab writes is a field
    assert list(summary.to_json().items()) == list(json.loads(text).items())  # keys in order
    copy = RunDir(tmp_path / "copy")
    copy.path.mkdir()
    copy.write_summary(summary)
    assert (copy.path / "summary.json").read_text() == text


def test_a_hand_made_summary_keeps_the_keys_vislab_does_not_know(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    made = {"status": "complete", "notes": "by hand", "test_acc": 0.75, "lab": {"gpu": "A100"}}
    (run / "summary.json").write_text(json.dumps(made))
    summary = RunDir(run).load_summary()
    assert summary.complete and summary.test_acc == 0.75 and summary.epochs_run is None
    assert summary.extra == {"notes": "by hand", "lab": {"gpu": "A100"}}
    RunDir(run).write_summary(summary.replace(run="renamed"))
    assert json.loads((run / "summary.json").read_text()) == {**made, "run": "renamed"}


def test_a_stopped_runs_summary_says_where_it_stopped(tmp_path):
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    loop = LoopState(epoch=2, step=5, train_time_s=1.5)
    write_stopped_summary(run, loop, "interrupted", Saved(2, 5))
    written = json.loads((run.path / "summary.json").read_text())
    assert list(written.items()) == [
        ("status", "interrupted"), ("epochs_run", 2), ("step", 5), ("best_epoch", None),
        ("train_time_s", 1.5),
    ]  # fmt: skip
    summary = run.load_summary()
    assert not summary.complete and (summary.epochs_run, summary.step) == (2, 5)
    assert summary.to_json() == written


def test_a_pruned_trials_summary_holds_its_three_keys(tmp_path):
    run = RunDir(tmp_path / "3")
    run.path.mkdir()
    run.write_summary(RunSummary(status="pruned", run="3", message="pruned after epoch 1"))
    written = json.loads((run.path / "summary.json").read_text())
    assert list(written) == ["status", "run", "message"]


def test_compare_names_a_hand_edited_summary_whose_values_have_other_types(tmp_path, capsys):
    """Values of another type are no scores (was: read into ``extra`` and shown in the table as they
    were): the file is unreadable, named, its run left out, the others compared."""
    runs = tmp_path / "runs"
    runs.mkdir()
    for name in ("a", "b"):
        table_run(runs, name, "data.name=digits")
    path = runs / "a" / "summary.json"
    edited = {**json.loads(path.read_text()), "n_train": "1,000", "n_test": 90, "data": 7}
    path.write_text(json.dumps({**edited, "epochs_run": "three", "sample_shape": 8}))
    code, text = cli(capsys, "compare", runs)
    assert code == 0, text
    assert "| b |" in text and "| a |" not in text and "for a" not in text
    said = " ".join(text.split())
    assert 'data is 7, not a string; n_train is "1,000", not a whole number' in said
    assert RunDir(runs / "a").read_summary() is None
