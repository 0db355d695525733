"""Session 23, sweeps: a worker ending beside others says which trials still run; a --storage in a missing
folder, another search space and a model class or arrays a sweep cannot write are refused with the fix; a
locked study database and a repeated call that trains nothing are said."""

import shutil
import sqlite3
import threading
import warnings

import numpy as np
import pytest
import torch.nn as nn
import yaml

import vislab
from conftest import cli, tiny_sweep
from vislab.errors import Note, UserError
from vislab.experiments.sweeps import study as study_module
from vislab.experiments.sweeps.study import load_existing_study, open_storage


class Small(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))


def sweep_file(tmp_path, name="s.yaml", **changes):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(tiny_sweep(**changes)))
    return path


def test_a_worker_ending_while_another_trains_names_the_trial_and_the_command(tmp_path):
    """Another worker's trial still runs when this one ends: its results.md and its last lines say which,
    and how to write the full table; once it ends, the same sweep writes the table without that line."""
    out = tmp_path / "w1"
    vislab.sweep(tiny_sweep(), out=out, trials=1, quiet=True)
    study = load_existing_study(f"sqlite:///{out / 'study.db'}", "tiny")
    with warnings.catch_warnings():  # optuna's: heartbeats are meant for Study.optimize
        warnings.simplefilter("ignore")
        other = study.ask()  # a trial of a worker on another machine, still training
    other.set_user_attr("host", "another-machine")
    lines = []
    with pytest.warns(Note, match="already holds 1 finished trial and 1 running"):
        vislab.sweep(tiny_sweep(), out=out, trials=2, log=lines.append)
    said = " ".join(lines)
    assert "Trial 1 still runs on another worker" in said and f"vislab sweep show {out}" in said, (
        said
    )
    assert "Trial 1 still runs on another worker" in (out / "results.md").read_text()
    study.tell(other, 0.5)
    lines.clear()
    with pytest.warns(Note, match="already holds 2 finished trials"):
        vislab.sweep(tiny_sweep(), out=out, trials=2, log=lines.append)
    assert not any("still run" in line for line in lines), lines
    assert "still run" not in (out / "results.md").read_text()


def test_a_running_trial_whose_run_has_finished_counts_as_complete(tmp_path):
    """A trial whose run folder is complete while the study still says running (its worker tells the study
    a moment later): in the table, counted as complete, not also as running."""
    out = tmp_path / "sw"
    vislab.sweep(tiny_sweep(), out=out, trials=1, quiet=True)
    study = load_existing_study(f"sqlite:///{out / 'study.db'}", "tiny")
    with warnings.catch_warnings():  # optuna's: heartbeats are meant for Study.optimize
        warnings.simplefilter("ignore")
        ending = study.ask()
    shutil.copytree(out / "trials" / "0", out / "trials" / "1")
    ending.set_user_attr("run_dir", str(out / "trials" / "1"))
    with pytest.warns(Note, match="already holds 1 finished trial and 1 running"):
        vislab.sweep(tiny_sweep(), out=out, trials=2, quiet=True)
    md = (out / "results.md").read_text()
    assert "Trials: 2 complete trials in this table; none pruned or failed." in md, md
    assert "| trial-1 |" in md and "still run" not in md


def test_a_storage_in_a_folder_that_is_not_there_is_refused(tmp_path, capsys):
    """A typo in a shared --storage path: refused (exit 2), naming the nearest folder and mkdir -p."""
    db = tmp_path / "shared" / "typo" / "s.db"
    code, text = cli(capsys, "sweep", sweep_file(tmp_path), "--storage", f"sqlite:///{db}", "--out",
                     tmp_path / "out")  # fmt: skip
    text = " ".join(text.split())
    assert code == 2 and f"the nearest one that is: '{tmp_path}'" in text, text
    assert f"mkdir -p '{db.parent}'" in text and not (tmp_path / "shared").exists()


def test_a_worker_with_another_space_is_refused_naming_the_difference(tmp_path, capsys):
    """The study was started over optim.lr alone; a file adding a key, or changing a range, is refused."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    assert cli(capsys, "sweep", sweep_file(tmp_path), "--storage", storage, "--trials", 1, "--out",
               tmp_path / "w1", "--no-report")[0] == 0  # fmt: skip
    extra = {"type": "categorical", "choices": [16, 32]}
    space = {**tiny_sweep()["space"], "train.batch_size": extra}
    code, text = cli(capsys, "sweep", sweep_file(tmp_path, "b.yaml", space=space), "--storage",
                     storage, "--trials", 2, "--out", tmp_path / "w2")  # fmt: skip
    text = " ".join(text.split())
    assert code == 2 and "'train.batch_size' is not in the study's space" in text, text
    assert (
        "another name (the name: key of its file)" in text and not (tmp_path / "w2/trials").exists()
    )
    wider = {"optim.lr": {**tiny_sweep()["space"]["optim.lr"], "high": 0.5}}
    code, text = cli(capsys, "sweep", sweep_file(tmp_path, "c.yaml", space=wider), "--storage",
                     storage, "--trials", 2, "--out", tmp_path / "w3")  # fmt: skip
    assert code == 2 and "high: 0.5, log: true} here" in " ".join(text.split()), text


def test_a_locked_study_database_is_said_once_while_the_worker_waits(tmp_path, monkeypatch):
    """Another process holding the database in a transaction: a note says the worker waits, and why."""
    db = tmp_path / "study.db"
    sqlite3.connect(db).close()
    monkeypatch.setattr(study_module, "LOCK_PROBE_S", 0.1)
    locked, done = threading.Event(), threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        done.wait(1.0)
        conn.execute("ROLLBACK")
        conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait()
    with pytest.warns(
        Note, match="waiting for the study database .* another process holds it locked"
    ):
        open_storage(f"sqlite:///{db}")
    done.set()
    holder.join()


@pytest.mark.parametrize("call", ["sweep", "run_suite"])
def test_a_model_class_or_arrays_are_refused_with_the_way_to_name_them(tmp_path, call):
    """A sweep or suite writes each run's config to a file: a class or arrays are named there, so they are
    refused (UserError, not a YAML error) with register_model / register_arrays."""

    def run(**kw):
        if call == "sweep":
            return vislab.sweep(tiny_sweep(), out=tmp_path / "sw", trials=1, **kw)
        return vislab.run_suite("quickstart", out=tmp_path / "su", dry_run=True, **kw)

    with pytest.raises(UserError, match=r"got model__name=Small: .*register_model"):
        run(model__name=Small)
    with pytest.raises(
        UserError, match=r"got model=Small, which is no argument .*model__name='net.py:Net'"
    ):
        run(model=Small)
    with pytest.raises(UserError, match=r"data got a tuple.*vislab.register_arrays\(x, y\)"):
        run(data=(np.zeros((4, 8, 8)), np.zeros(4, int)))
    assert not (tmp_path / "sw").exists() and not (tmp_path / "su").exists()


def test_a_repeated_sweep_call_says_it_trains_nothing_and_how_to_add(tmp_path):
    """trials is the study's total: the same call again trains nothing, and a quiet script hears it."""
    vislab.sweep(tiny_sweep(), out=tmp_path / "sw", trials=1)
    with pytest.warns(
        Note, match=r"already holds 1 finished trial .* \(Python: trials=2\) to add trials"
    ):
        study = vislab.sweep(tiny_sweep(), out=tmp_path / "sw", trials=1)
    assert len(study.trials) == 1
