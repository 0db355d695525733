"""What users of run folders and suites found: starting a run over deleted the PNGs they had saved into its
figures/ under names of their own (any *.png counted as vislab's); a suite of a notebook's model with
jobs=2 failed every run in its worker processes instead of being refused; the resume offered for an
interrupted run of a notebook's class was a command that cannot build it; two circles runs of other noise
were ranked as one test set; and a suite said its data's note once per run."""

from __future__ import annotations

import os
import signal

import pytest
import yaml

import vislab
from conftest import (
    DROP,
    cli,
    first_table,
    notebook_cell,
    one_line,
    tiny_base,
    tiny_sets,
    tiny_suite,
)
from vislab.errors import TrainingInterrupted, UserError
from vislab.training.state import Callback

NET = """
@vislab.register_model("fn3-net")
class Fn3Net(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


def _write(path, tree: dict):
    path.write_text(yaml.safe_dump(tree))
    return path


def test_starting_a_run_over_keeps_the_figures_a_user_saved_into_its_figures_folder(
    tmp_path, capsys
):
    run = tmp_path / "a"
    sets = [*tiny_sets("train.figures=false"), "--out", run, "-q"]
    assert cli(capsys, "train", *sets)[0] == 0
    (run / "figures").mkdir(exist_ok=True)  # train.figures=false (quicker) draws none
    for name in ("my_roc_for_report.png", "curves_edited.png"):
        (run / "figures" / name).write_bytes(b"\x89PNG mine")
    code, text = cli(capsys, "train", *sets, "--overwrite")
    assert code == 2, text
    said = one_line(text)
    assert "holds files vislab did not write" in said, said
    assert "figures/curves_edited.png, figures/my_roc_for_report.png" in said, said
    assert (run / "figures" / "my_roc_for_report.png").read_bytes() == b"\x89PNG mine"
    # the figures vislab names so (train's, eval's, a report's of the run) are its own: deleted
    for name in ("my_roc_for_report.png", "curves_edited.png"):
        (run / "figures" / name).unlink()
    for name in ("curves.png", "confusion_val_last.png", "roc_a.png", "samples_1.png"):
        (run / "figures" / name).write_bytes(b"\x89PNG")
    assert cli(capsys, "train", *sets, "--overwrite")[0] == 0
    assert not (run / "figures" / "roc_a.png").exists()


def test_a_suite_of_a_notebooks_model_in_worker_processes_is_refused_before_anything(
    notebook, tmp_path
):
    notebook_cell(notebook, NET, "fn3_cell1")
    base = tiny_base(model=DROP, data__limit=200)
    suite = _write(
        tmp_path / "s.yaml",
        {"base": base, "runs": {"a": {"model.name": "fn3-net"}, "b": {"model.name": "fn3-net",
                                                                     "optim.lr": 0.01}}},
    )  # fmt: skip
    out = tmp_path / "s"
    with pytest.raises(UserError) as e:
        vislab.run_suite(suite, jobs=2, out=out, quiet=True)
    said = one_line(str(e.value))
    assert "model 'fn3-net' of runs a, b is __main__.Fn3Net, registered as 'fn3-net'" in said, said
    assert "cannot train in the jobs=2 worker processes" in said, said
    assert "Give jobs=1" in said and "model.name=path/to/file.py:Fn3Net" in said, said
    assert not out.exists()  # nothing started, nothing failed
    done = vislab.run_suite(suite, jobs=1, out=out, quiet=True)  # the way the message gives
    assert sorted(done.runs) == ["a", "b"]


class CtrlCAtFirstEpochEnd(Callback):
    def on_epoch_end(self, row):
        os.kill(os.getpid(), signal.SIGINT)  # the trainer's handler takes it, saves, then raises


def test_an_interrupted_run_of_a_notebooks_class_is_offered_the_python_resume_alone(
    notebook, tmp_path, capsys
):
    notebook_cell(notebook, NET.replace('@vislab.register_model("fn3-net")', ""), "fn3_cell2")
    mid = tmp_path / "mid"
    config = tiny_base(model=DROP, train__epochs=3)
    with pytest.raises(TrainingInterrupted):
        vislab.train(config, model=notebook["Fn3Net"], out=mid, callbacks=[CtrlCAtFirstEpochEnd()])
    code, text = cli(capsys, "compare", mid)
    said = one_line(text)
    assert "vislab train --resume" not in said, said
    assert (
        f"continue it from its last checkpoint: vislab.train(out={str(mid)!r}, resume=True), in this "
        "Python process or one that defines the model as it was (the command line cannot build a "
        "model defined in Python)"
    ) in said, said
    assert vislab.train(out=mid, resume=True, quiet=True).summary["status"] == "complete"


def test_circles_runs_of_other_noise_are_not_ranked_as_one_test_set(tmp_path, capsys):
    circles = ["data.name=circles", "data.n_samples=400", "model.hidden=[8]", "train.figures=false"]
    for name, noise in (("c2", 0.1), ("sep", 0.0)):
        sets = tiny_sets(*circles, f"data.noise={noise}", drop="data.name=digits")
        assert cli(capsys, "train", *sets, "--out", tmp_path / name, "-q")[0] == 0
    code, text = cli(capsys, "compare", tmp_path / "c2", tmp_path / "sep")
    assert code == 0, text
    said = one_line(text)
    assert "Rows scored on different test images" in said, said
    assert "test set 1: c2; test set 2: sep" in said, said
    rows = [line for line in first_table(text) if line.startswith(("| c2 ", "| sep "))]
    assert len(rows) == 2 and not any("**" in row for row in rows), rows  # neither ranked best


def test_a_suite_says_its_datas_note_once(tmp_path, capsys):
    data = {"name": "circles", "n_samples": 100, "split": [100, 40, 60]}
    # figures drawn: their drawing resets Python's once-per-line filter of warnings (catch_warnings)
    suite = tiny_suite(base__data=data, base__model__hidden=[8], base__train__figures=True)
    suite = _write(tmp_path / "s.yaml", suite)
    code, text = cli(capsys, "suite", suite, "--out", tmp_path / "s", "-q", "--no-report")
    assert code == 0, text
    assert one_line(text).count("note: data.split=[100, 40, 60] draws train, val and test") == 1, (
        text
    )
