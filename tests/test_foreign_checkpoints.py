"""A run folder holding another run's checkpoint (copied in by hand).

- ``--resume`` refuses a last.pt that is not the run's own — its history disagrees with metrics.jsonl, or
  summary.json names another model — and changes nothing: a resume would train that other run here and
  write its records over the folder's. A config.yaml edited by hand (the run's own last.pt) is still only
  noted, and the resume goes on.
- ``eval`` of a run folder (or of its checkpoints/best.pt) notes a best.pt of another model than the one
  its summary.json says the run trained; a checkpoint file outside a run folder is used as it is, and a
  run extended with --epochs has nothing to note.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import vislab
from conftest import cli, one_line, tiny_config
from vislab.errors import CheckpointNote, UserError
from vislab.training.trainer import train

NO_FIGURES = "train.figures=false"
RECORDS = (
    "config.yaml",
    "metrics.jsonl",
    "summary.json",
    "checkpoints/best.pt",
    "checkpoints/last.pt",
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Finished 1-epoch runs on digits: an mlp, a small cnn, and the mlp again with another seed."""
    root = tmp_path_factory.mktemp("runs")
    configs = {
        "mlp": tiny_config("train.epochs=1", NO_FIGURES),
        "cnn": tiny_config("train.epochs=1", NO_FIGURES, "model.name=cnn", "model.widths=[4,8]"),
        "seed1": tiny_config("train.epochs=1", NO_FIGURES, "train.seed=1"),
    }
    for name, cfg in configs.items():
        train(cfg, root / name, quiet=True)
    return {name: root / name for name in configs}


def _with_checkpoint(runs: dict[str, Path], folder: Path, other: str, name: str) -> Path:
    """A copy of the mlp run in ``folder`` whose checkpoints/``name`` is run ``other``'s."""
    shutil.copytree(runs["mlp"], folder)
    shutil.copy2(runs[other] / "checkpoints" / name, folder / "checkpoints" / name)
    return folder


def _files(run: Path) -> dict[str, bytes]:
    """Every file of the run folder, by path, with its bytes."""
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_resume_refuses_another_runs_last_pt_and_changes_nothing(runs, tmp_path, capsys):
    """The cnn's last.pt in the mlp run: --resume (with --epochs) exits 2 naming both files and the ways
    on, every file of the folder as it was; the Python API refuses too. With its own last.pt put back
    (the fix named) and config.yaml edited, the resume only notes the edit and trains on."""
    run = _with_checkpoint(runs, tmp_path / "run", "cnn", "last.pt")
    last, config = run / "checkpoints" / "last.pt", run / "config.yaml"
    before = _files(run)
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "2")
    said = one_line(text)
    assert code == 2, text
    assert f"cannot resume '{run}': its checkpoints/last.pt is not this run's own" in said, said
    assert "summary.json names model mlp, last.pt holds model cnn" in said, said
    assert "metrics.jsonl records epoch 1's train loss as" in said, said
    assert "Put this run's own last.pt back" in said, said
    assert f"vislab train --config {config} --out {run} --overwrite" in said, said
    assert f"--init-from {last}" in said, said
    assert "was edited" not in said, said
    assert _files(run) == before
    with pytest.raises(UserError, match="is not this run's own"):
        vislab.train(out=run, resume=True)
    assert _files(run) == before

    shutil.copy2(runs["mlp"] / "checkpoints" / "last.pt", last)
    config.write_text(config.read_text().replace("  - 32\n", "  - 64\n"))
    code, text = cli(capsys, "train", "-q", "--resume", run, "--epochs", "2")
    said = one_line(text)
    assert code == 0, text
    assert f"'{config}' was edited since the run wrote it (model.hidden: [32] → [64])" in said, said
    assert "not this run's own" not in said, said
    assert "  - 32\n" in config.read_text()  # written again from last.pt


def test_resume_refuses_a_sibling_runs_last_pt_of_the_same_model(runs, tmp_path, capsys):
    """The last.pt of the same mlp trained with another seed: config.yaml differs from it in train.seed
    only (what an edit could do), but metrics.jsonl's rows are not its history: refused, nothing changed."""
    run = _with_checkpoint(runs, tmp_path / "run", "seed1", "last.pt")
    before = _files(run)
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "2")
    said = one_line(text)
    assert code == 2, text
    assert "is not this run's own (metrics.jsonl records epoch 1's train loss as" in said, said
    assert "summary.json names" not in said, said
    assert _files(run) == before


def test_eval_notes_a_best_pt_of_another_run(runs, tmp_path, capsys):
    """`vislab eval RUN` with the cnn's best.pt in the mlp run scores it with a note naming the file and
    the model summary.json says the run trained (vislab.load_run(...).evaluate() warns a CheckpointNote);
    the file copied out of the run folder, and a run of its own extended with --epochs, are scored without
    one."""
    run = _with_checkpoint(runs, tmp_path / "run", "cnn", "best.pt")
    best = run / "checkpoints" / "best.pt"
    code, text = cli(capsys, "eval", run, "--mistakes", "0")
    said = one_line(text)
    assert code == 0, text
    note = f"'{best}' holds model cnn, but '{run / 'summary.json'}' says the run trained model mlp"
    assert note in said, said
    assert "the checkpoint was copied from another run" in said, said
    with pytest.warns(CheckpointNote, match="says the run trained model mlp"):
        vislab.load_run(run).evaluate()

    alone = tmp_path / "cnn-best.pt"  # a checkpoint file outside a run folder: nothing to compare
    shutil.copy2(best, alone)
    code, text = cli(capsys, "eval", alone, "--mistakes", "0")
    assert code == 0 and "copied from another run" not in text, text

    own = tmp_path / "own"
    shutil.copytree(runs["mlp"], own)
    code, text = cli(capsys, "train", "-q", "--resume", own, "--epochs", "2")
    assert code == 0, text
    code, text = cli(capsys, "eval", own, "--mistakes", "0")
    assert code == 0 and "copied from another run" not in text, text
