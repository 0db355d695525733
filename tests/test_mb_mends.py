"""Reviewer R2's findings in the API and suites: a notebook cell resumed without a setting it trained with
went on with the saved one unsaid; run_suite(jobs=2) refused a notebook's model whose runs were done (or
one run left), and let through arrays registered in this process; a Ctrl-C in torch's import broke every
later call; arrays registered again without their val or test set were scored on sets carved from train;
a val set given with class names was told only the test set's form; plot_curves([]) was told to compare."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import vislab
from conftest import DROP, REPO, TINY_RUN, notebook_cell, one_line, tiny_base
from test_fn1_train_calls import Net
from vislab.errors import DataError, UserError

CFG = tiny_base(train__seed=0, model=DROP, train__epochs=DROP)


def _error(call, kind=UserError) -> str:
    with pytest.raises(kind) as e:
        call()
    return one_line(str(e.value))


def test_a_cell_resumed_without_a_setting_it_trained_with_is_refused_naming_it(tmp_path):
    out = tmp_path / "run"
    vislab.train(CFG, model=Net, out=out, epochs=1, optim__lr=0.1)
    # the cell edited: optim__lr removed, more epochs asked
    text = _error(lambda: vislab.train(CFG, model=Net, out=out, epochs=2, resume=True))
    assert "the arguments given change it: optim.lr: 0.1 → 0.001" in text, text
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 1  # nothing trained
    # the message's way on: the run's own arguments
    run = vislab.train(CFG, model=Net, out=out, epochs=2, optim__lr=0.1, resume=True)
    assert run.config.optim.lr == 0.1 and run.summary["status"] == "complete"


NET = """
@vislab.register_model("mb-net")
class MbNet(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""


def _suite(path: Path, runs: dict, **base) -> Path:
    path.write_text(yaml.safe_dump({"base": tiny_base(**base), "runs": runs}))
    return path


def test_jobs_2_takes_a_notebooks_model_whose_runs_are_done_or_one_run_left(notebook, tmp_path):
    notebook_cell(notebook, NET, "mb_cell1")
    runs = {"a": {"model.name": "mb-net"}, "b": {"model.name": "mb-net", "optim.lr": 0.01}}
    suite = _suite(tmp_path / "s.yaml", {**runs, "c": {}, "d": {"model.name": "majority"}})
    out = tmp_path / "s"
    vislab.run_suite(suite, out=out, only=["a"], quiet=True)
    # b still to train with the notebook's model, in a worker process: refused
    text = _error(lambda: vislab.run_suite(suite, jobs=2, out=out, dry_run=True, quiet=True))
    assert "model 'mb-net' of run b is" in text and "Give jobs=1" in text, text
    vislab.run_suite(suite, out=out, only=["b"], quiet=True)
    # only vislab's models left to train: the worker processes have them
    plan = vislab.run_suite(suite, jobs=2, out=out, dry_run=True, quiet=True)
    assert list(plan["run"]) == ["a", "b", "c", "d"], plan
    # one run left: it trains in this process
    two = _suite(tmp_path / "two.yaml", runs)
    vislab.run_suite(two, out=tmp_path / "two", only=["a"], quiet=True)
    done = vislab.run_suite(two, jobs=2, out=tmp_path / "two", quiet=True)
    assert sorted(done.runs) == ["a", "b"]


def test_jobs_2_refuses_arrays_registered_in_this_process_before_anything(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.random((120, 8, 8)).astype(np.float32), np.arange(120) % 3
    vislab.register_arrays(x, y, name="mb-arrays")
    suite = _suite(
        tmp_path / "s.yaml",
        {"a": {}, "b": {"optim.lr": 0.01}},
        data__name="memory:mb-arrays",
        data__limit=DROP,
    )
    out = tmp_path / "s"
    text = _error(lambda: vislab.run_suite(suite, jobs=2, out=out, quiet=True))
    assert "data.name 'memory:mb-arrays' of runs a, b names arrays given to vislab in this" in text
    assert "cannot be read in the jobs=2 worker processes" in text and "Give jobs=1" in text, text
    assert not out.exists()  # nothing started, nothing failed
    done = vislab.run_suite(suite, jobs=1, out=out, quiet=True)  # the way the message gives
    assert sorted(done.runs) == ["a", "b"]


FAKE_INIT = """
import builtins
from . import {imports}
if not getattr(builtins, "_mb_imported_{package}", False):  # Ctrl-C in the first import only
    setattr(builtins, "_mb_imported_{package}", True)
    raise KeyboardInterrupt
"""

IMPORTS = """
import sys
import vislab.interrupts
from vislab.interrupts import import_whole

vislab.interrupts.ONCE_PER_PROCESS += ("fakepkg",)  # as torch: its extension cannot load twice
for name in ("purepkg", "cpkg", "cpkg", "fakepkg", "fakepkg"):
    try:
        import_whole(name)
        print(name, "imported")
    except BaseException as e:
        print(name, type(e).__name__, e)
import vislab.api
try:  # a later call of vislab's: its module not imported yet
    vislab.api.runs
    print("vislab.api.runs imported")
except BaseException as e:
    print("vislab.api.runs", type(e).__name__, e)
print("kept", "fakepkg.{ext}" in sys.modules)
"""


def test_a_ctrl_c_in_the_import_of_a_c_extension_package_says_to_restart_every_time(tmp_path):
    ext = "_bisect"
    origin = Path(importlib.util.find_spec(ext).origin)
    packages = (("fakepkg", f"{ext}, pure"), ("purepkg", "pure"), ("cpkg", f"{ext}, pure"))
    for package, imports in packages:
        folder = tmp_path / package
        folder.mkdir()
        (folder / "pure.py").write_text("X = 1\n")
        if ext in imports:  # its module's name stays _bisect: the init function it exports
            shutil.copy(origin, folder / origin.name)
        (folder / "__init__.py").write_text(FAKE_INIT.format(imports=imports, package=package))
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{REPO / 'src'}"}
    code = IMPORTS.format(ext=ext)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    lines = done.stdout.splitlines()
    assert lines[0] == "purepkg KeyboardInterrupt ", done.stdout + done.stderr  # re-imported later
    # an extension that imports again (yaml's _yaml): dropped, imported afresh by the next call
    assert lines[1:3] == ["cpkg KeyboardInterrupt ", "cpkg imported"], done.stdout + done.stderr
    restart = "the import of fakepkg was interrupted; restart the kernel (or the Python process)."
    assert lines[3:5] == [f"fakepkg RuntimeError {restart}"] * 2, done.stdout + done.stderr
    assert lines[5] == f"vislab.api.runs UserError {restart}", done.stdout + done.stderr
    assert lines[6] == "kept True", done.stdout  # its extension left loaded, never imported twice


@pytest.fixture
def dlvc() -> dict:
    """Train, val and test arrays of three classes, 8×8 images: DLVC's fixed split, in small."""
    rng = np.random.default_rng(0)
    return {
        key: (rng.random((n, 8, 8)).astype(np.float32), np.arange(n) % 3)
        for key, n in (("train", 120), ("val", 60), ("test", 30))
    }


def test_arrays_registered_again_without_their_val_or_test_set_are_refused_naming_it(
    tmp_path, dlvc
):
    names = ["a", "b", "c"]
    given = {**dlvc, "train": (*dlvc["train"], names)}
    vislab.register_arrays(given, name="mb-dlvc")
    run = vislab.train(data="memory:mb-dlvc", out=tmp_path / "r", train__batch_size=60, **TINY_RUN)
    # a new process: registered again, the val set left out
    vislab.register_arrays({k: v for k, v in given.items() if k != "val"}, name="mb-dlvc")
    text = _error(lambda: run.evaluate(split="val"), DataError)
    assert "data.name=memory:mb-dlvc have no val set, but the run was given one (60 val" in text
    call = "vislab.register_arrays({'train': (x, y, class_names), 'val': (x_val, y_val), 'test'"
    assert call in text and "name='mb-dlvc')" in text, text
    assert run.evaluate(split="test")["n"] == 30  # the test set given, as it was
    vislab.register_arrays({k: v for k, v in given.items() if k != "test"}, name="mb-dlvc")
    text = _error(lambda: run.evaluate(split="test"), DataError)
    assert "have no test set, but the run was given one (30 test samples)" in text, text
    vislab.register_arrays(given, name="mb-dlvc")  # the message's way on
    assert run.evaluate(split="val")["n"] == 60


def test_a_runs_hash_name_given_to_its_arrays_without_the_val_set_says_it_may_be_left_out(dlvc):
    named = vislab.register_arrays(dlvc).removeprefix("memory:")
    without_val = {k: v for k, v in dlvc.items() if k != "val"}
    text = _error(lambda: vislab.register_arrays(without_val, name=named), DataError)
    assert "(other values, labels, order or class names, or a val/test set left out)" in text, text


def test_a_val_set_given_with_class_names_is_told_the_val_sets_form(tmp_path, dlvc):
    data = {"train": dlvc["train"], "val": (*dlvc["val"], ["a", "b", "c"])}
    text = _error(lambda: vislab.train(data=data, out=tmp_path / "r", **TINY_RUN), DataError)
    assert "data['val'] holds 3 items: give data={'train': (x, y) or (x, y, class_names)," in text
    assert "'val': (x_val, y_val)}" in text, text


def test_plot_curves_of_nothing_says_what_to_give_to_plot():
    text = _error(lambda: vislab.plot_curves([]))
    assert text == "give a run folder, or a folder of runs (a suite's, a sweep's), to plot.", text
