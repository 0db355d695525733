"""train.threads changes float rounding on the CPU: a resume under another count says so, and compare's
line on how the runs were made names runs trained with different counts (summary.json's ``threads``)."""

import json
import shutil

import pytest
import torch

from conftest import cli, one_line, tiny_config
from vislab.training.trainer import train


@pytest.fixture
def keep_threads():
    """torch's thread count is the process's: put it back after a test that sets train.threads."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_resume_under_another_thread_count_notes_it(tmp_path, capsys, keep_threads):
    run = tmp_path / "run"
    train(tiny_config("train.epochs=1", "train.threads=1"), run, quiet=True)
    code, text = cli(capsys, "train", "--resume", run, "--epochs", 2, "--set", "train.threads=2")
    assert code == 0, text
    said = one_line(text)
    assert "last trained with 1 CPU thread, this resume with 2 (train.threads)" in said
    assert "only to float rounding" in said and "--set train.threads=1" in said
    kept = json.loads((run / "summary.json").read_text())["notes_given"]  # the note is the run's
    assert [n for n in kept if "last trained with 1 CPU thread" in n], kept
    # the same count as the resume before: nothing to say
    code, text = cli(capsys, "train", "--resume", run, "--epochs", 3, "--set", "train.threads=2")
    assert code == 0, text
    assert "CPU thread" not in text


def _with_threads(trained, folder, name, threads):
    run = folder / name
    shutil.copytree(trained, run, dirs_exist_ok=True)
    summary = json.loads((run / "summary.json").read_text())
    summary.pop("threads", None)
    if threads is not None:
        summary["threads"] = threads
    (run / "summary.json").write_text(json.dumps(summary))


def test_compare_names_runs_trained_with_other_thread_counts(trained, tmp_path, capsys):
    runs = tmp_path / "runs"
    _with_threads(trained, runs, "a", 1)
    _with_threads(trained, runs, "b", 2)
    code, text = cli(capsys, "compare", runs)
    assert code == 0, text
    assert (
        "Trained with 1 and 2 CPU threads: float sums round differently, so results can differ "
        "slightly (set train.threads to the same value for bit-identical runs)."
    ) in one_line(text)
    # runs that do not record it (older vislab), or agree: nothing said
    _with_threads(trained, runs, "b", None)
    code, text = cli(capsys, "compare", runs)
    assert code == 0, text
    assert "CPU threads" not in text


def test_summary_records_the_threads_training_used(tmp_path, capsys, keep_threads):
    run = tmp_path / "run"
    train(tiny_config("train.epochs=1", "train.threads=1"), run, quiet=True)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["threads"] == 1 and "threads_resumed" not in summary
    code, text = cli(capsys, "train", "--resume", run, "--epochs", 2, "--set", "train.threads=2")
    assert code == 0, text
    summary = json.loads((run / "summary.json").read_text())
    assert summary["threads"] == 1 and summary["threads_resumed"] == [2]
    # config.yaml's threads: null (one per core) still records the count in effect
    torch.set_num_threads(2)
    train(tiny_config("train.epochs=1"), tmp_path / "auto", quiet=True)
    assert json.loads((tmp_path / "auto" / "summary.json").read_text())["threads"] == 2
