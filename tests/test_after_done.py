"""After a run is done: a Ctrl-C in the interpreter's shutdown, or as its last figure is drawn, leaves the
exit code 0; `vislab model info` counts a run's parameters as the results table does (a fitted baseline's
too); `vislab compare --sort` takes val_loss, a metric runs are selected by."""

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import vislab
from conftest import cli, first_table, one_line, tiny_sets


def _finished(run) -> bool:
    """Whether the run is complete and its process has let go of the folder (the trainer's last step)."""
    try:
        done = json.loads((run / "summary.json").read_text()).get("status") == "complete"
    except (OSError, ValueError):
        return False
    return done and not (run / ".lock").exists()


def _ctrl_c_once_finished(run: Path) -> tuple[bool, int, str]:
    """`vislab train` a tiny run into ``run``, Ctrl-C it once the run is finished (and its command has had
    a moment to return: its lock is its last write): whether the signal was sent before the process
    ended, its exit code and output."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # with its figures: matplotlib loaded, a process that takes a moment to end
    sets = tiny_sets("train.figures=true")
    args = [sys.executable, "-m", "vislab", "train", *sets, "--out", str(run), "--quiet"]
    proc = subprocess.Popen(
        args, env=env, cwd=run.parent, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    while proc.poll() is None and not _finished(run):
        time.sleep(0.002)
    time.sleep(
        0.1
    )  # past the command's last lines (< 1 ms); torch & matplotlib take a second to free
    sent = proc.poll() is None
    if sent:
        proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    return sent, proc.returncode, out


def test_a_ctrl_c_after_a_complete_run_leaves_exit_code_0(tmp_path):
    # `vislab train ... && vislab eval ...`: a Ctrl-C once the run is complete must not stop the script
    for attempt in range(3):  # until the signal lands before the process has ended
        run = tmp_path / f"run{attempt}"
        sent, code, out = _ctrl_c_once_finished(run)
        assert code == 0, out
        assert "interrupted" not in out and "Traceback" not in out, out
        assert json.loads((run / "summary.json").read_text())["status"] == "complete"
        if sent:
            break
    assert sent, "the process ended before the Ctrl-C each time"


def test_a_ctrl_c_while_the_last_figure_is_drawn_leaves_a_complete_run_and_exit_code_0(
    tmp_path, capsys, monkeypatch
):
    # the figure is drawn whole: nothing is left undone, so a note, not "interrupted", and exit code 0
    import vislab.plotting.runs as runs_figures

    real = runs_figures.plot_confusion

    @functools.wraps(real)
    def ctrl_c_then_draw(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # the trainer's handler takes it
        return real(*args, **kwargs)

    monkeypatch.setattr(runs_figures, "plot_confusion", ctrl_c_then_draw)
    sets = tiny_sets("train.figures=true")
    code, out = cli(capsys, "train", *sets, "--out", tmp_path / "run", "--quiet")
    said = one_line(out)
    assert code == 0 and "interrupted" not in said, out
    assert "note: SIGINT came while the run was scored; the scoring finished first" in said, out
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "complete"
    assert (tmp_path / "run" / "figures" / "confusion_test.png").is_file()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """runs/majority, runs/svm and runs/cnn (small widths, batch norm): tiny digits runs, trained once,
    without their figures/ (nothing here reads them)."""
    root = tmp_path_factory.mktemp("after-done") / "runs"
    data = dict(
        data="digits", data__limit=300, train__device="cpu", train__seed=0, train__figures=False
    )
    vislab.train(out=root / "majority", model="majority", **data)
    vislab.train(out=root / "svm", model="svm", **data)
    vislab.train(
        out=root / "cnn",
        model="cnn",
        model__widths=[4, 8],
        train__epochs=1,
        train__batch_size=60,
        **data,
    )
    return root


@pytest.mark.parametrize("name", ["majority", "svm", "cnn"])
def test_model_info_counts_the_parameters_the_results_table_counts(runs, capsys, name):
    code, out = cli(capsys, "compare", runs / name, "--csv", runs.parent / f"{name}.csv")
    assert code == 0, out
    table = (runs.parent / f"{name}.csv").read_text().splitlines()
    counted = int(dict(zip(table[0].split(","), table[1].split(",")))["params"])
    code, out = cli(capsys, "model", "info", runs / name)
    assert code == 0, out
    said = one_line(out)
    assert f"parameters: {counted:,}" in said, said
    assert vislab.model_info(runs / name).params == counted
    if name == "cnn":  # a trained model: its parameters, not its batch-norm statistics
        assert counted == sum(p.numel() for p in vislab.load_run(runs / name).model().parameters())
        assert "what the model stores" not in said
    else:  # a fitted one: what its fit stores, held as buffers; the other count explained
        assert counted > 0
        assert f"what the model stores: {counted:,} values held as buffers" in said, said
        assert "torch parameters 0" in said and "(frozen)" not in said


def test_compare_sorts_by_val_loss_a_metric_runs_are_selected_by(runs, capsys):
    code, out = cli(capsys, "compare", runs, "--sort", "val_loss")
    assert code == 0, out
    losses = {
        r.name: json.loads((r / "summary.json").read_text())["val_loss"] for r in runs.iterdir()
    }
    rows = [line.split("|")[1].strip() for line in first_table(out) if line.startswith("| ")][1:]
    assert rows == sorted(losses, key=losses.get), out  # lowest loss first
    assert "rows ordered by val_loss" in one_line(out)
    code, out = cli(capsys, "compare", runs, "--sort", "val_los")
    assert code == 2 and "closest: val_loss" in one_line(out), out
