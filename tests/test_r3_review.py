"""A third review's findings on the day's changes: a typo of the default model's option keeps its "did you
mean"; the thread-count note compares with the count the run last trained with; a last.pt older than the
thread record leaves the run's first count unknown, not the resume's."""

import json

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


def test_a_typo_of_the_default_models_option_is_still_corrected(capsys, tmp_path):
    """Before: 'no model.name was given …' without the correction, for a misspelt cnn option."""
    code, text = cli(
        capsys, "train", "--set", "data.name=digits", "--set", "model.dropuot=0.1",
        "--out", tmp_path / "run",
    )  # fmt: skip
    said = one_line(text)
    assert code == 2 and "Did you mean 'model.dropout'?" in said, text
    # an option of no near spelling, with no model.name: said to be another model's
    code, text = cli(capsys, "train", "--set", "data.name=digits", "--set", "model.hidden=[8]")
    assert code == 2 and "no model.name was given" in one_line(text), text


def test_the_threads_note_compares_with_the_count_last_trained_with(tmp_path, capsys, keep_threads):
    """Before: after 1 → 2 → 1 threads, every later resume at 1 was told it last trained with 2."""
    run = tmp_path / "run"
    train(tiny_config("train.epochs=1", "train.threads=1"), run, quiet=True)
    for epochs, threads, noted in ((2, 2, True), (3, 1, True), (4, 1, False)):
        code, text = cli(
            capsys,
            "train",
            "--resume",
            run,
            "--epochs",
            epochs,
            "--set",
            f"train.threads={threads}",
        )
        assert code == 0 and ("CPU thread" in text) == noted, (epochs, text)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["threads"] == 1 and summary["threads_resumed"] == [2, 1]


def test_an_older_last_pt_leaves_the_first_thread_count_unknown(tmp_path, capsys, keep_threads):
    """Before: the resume's count was recorded as the one the run started with."""
    run = tmp_path / "run"
    train(tiny_config("train.epochs=1", "train.threads=1"), run, quiet=True)
    last = run / "checkpoints" / "last.pt"
    saved = torch.load(last, weights_only=False)
    del saved["state"]["threads"]  # as a vislab before the record wrote it
    torch.save(saved, last)
    code, text = cli(capsys, "train", "--resume", run, "--epochs", 2, "--set", "train.threads=2")
    assert code == 0, text
    summary = json.loads((run / "summary.json").read_text())
    assert summary.get("threads") is None and "threads_resumed" not in summary
