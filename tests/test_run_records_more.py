"""What a run folder's records say after a file of it was lost or damaged, and what vislab says about it:
a run without summary.json is listed by `vislab compare` and `vislab report` of a folder; a resume whose
best.pt is gone says so and scores (and names) the weights it can; a cut last.pt names the ways on; a
deleted best.pt is called missing, not never written; a Ctrl-C while the command loads ends quietly; a run
resumed through a link keeps its folder's name."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import vislab
from conftest import TINY_DIGITS, cli, one_line
from figures_skipped import skip_report_figures
from vislab.training.checkpoint import pick_checkpoint

# a learning rate too high: its second epoch scores a lower val_pacc than its first (0.35 against 0.375)
STUCK = dict(TINY_DIGITS, train__epochs=2, optim__lr=0.1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished 2-epoch run whose best epoch is 1 (trained once per module; tests damage copies)."""
    run = tmp_path_factory.mktemp("records") / "stuck"
    vislab.train(out=run, **STUCK)
    assert json.loads((run / "summary.json").read_text())["best_epoch"] == 1
    return run


@pytest.fixture
def run(trained, tmp_path, monkeypatch) -> Path:
    """A copy of the trained run for one test to damage, in the test's working folder."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(trained, tmp_path / "run")
    return Path("run")


def summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def test_a_folder_lists_a_run_without_summary_json_in_compare_and_report(
    trained, tmp_path, monkeypatch, capsys
):
    skip_report_figures(monkeypatch)
    shutil.copytree(trained, tmp_path / "dmg" / "ok")
    shutil.copytree(trained, tmp_path / "dmg" / "nosum")
    (tmp_path / "dmg" / "nosum" / "summary.json").unlink()
    code, text_of_compare = cli(capsys, "compare", tmp_path / "dmg")
    assert code == 0 and "nosum" in text_of_compare and "not finished" in text_of_compare, (
        text_of_compare
    )
    code, text = cli(capsys, "report", tmp_path / "dmg")
    assert code == 0, text
    page = (tmp_path / "dmg" / "report.html").read_text()
    assert "nosum" in page and "Failed or unfinished runs" in page
    resume = f"stopped before writing its summary.json; continue it: vislab train --resume {tmp_path / 'dmg' / 'nosum'}"
    assert resume in page and resume in one_line(text_of_compare), page
    # no checkpoint either, though metrics.jsonl records its epochs: its files lost, nothing to resume
    shutil.rmtree(tmp_path / "dmg" / "nosum" / "checkpoints")
    code, text = cli(capsys, "compare", tmp_path / "dmg")
    assert (
        code == 0
        and "summary.json and checkpoints/last.pt are missing" in one_line(text)
        and "--resume" not in text
    ), text


def test_a_resume_without_best_pt_says_so_and_scores_the_best_pt_it_writes_again(run, capsys):
    (run / "checkpoints" / "best.pt").unlink()
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "3", "-q")
    assert code == 0, text
    said = one_line(text)
    assert "best.pt' is missing" in said and "it held epoch 1" in said, said
    assert "done (best.pt, epoch 3)" in said, said
    assert (run / "checkpoints" / "best.pt").is_file()
    s = summary(run)
    assert s["best_epoch"] == 3 and s["scored"] == "best.pt, epoch 3"
    assert s["test_acc"] == vislab.load_run(run).evaluate("test")["acc"]


def test_a_complete_run_rescored_without_best_pt_names_its_last_weights(run, capsys):
    (run / "checkpoints" / "best.pt").unlink()
    (run / "summary.json").unlink()  # a damaged record: the resume scores the run again
    code, text = cli(capsys, "train", "--resume", run, "-q")
    assert code == 0 and "done (the last weights, epoch 2)" in text, text
    s = summary(run)
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert s["best_epoch"] == 2 and s["scored"] == "the last weights, epoch 2"
    assert s["train_acc"] == history[1]["train_acc"]  # the scored epoch's row


def test_a_cut_last_pt_names_the_intact_best_pt_and_the_ways_on(run, capsys):
    os.truncate(run / "checkpoints" / "last.pt", 1000)
    code, text = cli(capsys, "train", "--resume", run, "-q")
    said = one_line(text)
    assert code == 2 and "cannot resume 'run'" in said and "truncated?" in said, said
    assert "Use best.pt/last.pt from a vislab run directory" not in said
    assert "checkpoints/best.pt (epoch 1) is intact" in said and "vislab eval run" in said
    assert "--init-from run/checkpoints/best.pt" in said and "--overwrite" in said
    # the way on it names works
    new = Path("new")
    code, text = cli(capsys, "train", "--config", run / "config.yaml", "--init-from",
                     run / "checkpoints" / "best.pt", "--out", new, "--epochs", "1", "-q")  # fmt: skip
    assert code == 0 and summary(new)["status"] == "complete", text


def test_a_deleted_best_pt_is_called_missing_with_the_fix(run):
    (run / "checkpoints" / "best.pt").unlink()
    picked = pick_checkpoint(run)
    path, note = picked.path, picked.note
    said = one_line(note)
    assert path.name == "last.pt"
    assert "no evaluation on val has picked" not in said
    assert "written there at epoch 1 (deleted or moved since?)" in said, said
    assert "--checkpoint last / checkpoint='last'" in said


def test_a_ctrl_c_while_the_command_loads_ends_as_interrupted_without_a_traceback():
    # the Ctrl-C lands while vislab.cli imports typer, as the `vislab` script's first line does
    code = (
        "import sys\n"
        "class CtrlC:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'typer':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, CtrlC())\n"
        "from vislab.cli import main\n"
        "sys.exit(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code, "train"], capture_output=True, text=True)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "interrupted.", done.stderr


def test_a_run_resumed_through_a_link_keeps_its_folder_name(run, capsys):
    folder = run.rename("run é")
    Path("link1").symlink_to(folder, target_is_directory=True)
    code, text = cli(capsys, "train", "--resume", "link1", "--epochs", "3", "-q")
    assert code == 0, text
    assert summary(folder)["run"] == "run é"
