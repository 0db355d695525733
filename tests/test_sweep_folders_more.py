"""A sweep folder holds one study: a narrowed stage's records go on with that stage, another sweep is refused
the folder, a trial whose worker died says so in trials.csv, and a script hears the notes the command line
prints."""

import csv
import gc
import json
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

import vislab
from conftest import cli, tiny_base
from vislab.errors import UserError
from vislab.experiments.sweeps.study import load_existing_study

# tiny trials: 1 epoch of 120 digits, no figures (nothing here looks at them)
BASE = tiny_base(data__limit=120, model__hidden=[8])
LR = {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}


def spec(name: str, lr: dict = LR) -> dict:
    return {
        "name": name,
        "base": BASE,
        "space": {"optim.lr": lr},
        "sampler": "random",
        "seed": 0,
    }


def spec_file(folder: Path, name: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec(name), sort_keys=False))
    return path


def sweep(capsys, *args) -> tuple[int, str]:
    """``vislab sweep ARGS --no-report`` in-process: (exit code, its output)."""
    return cli(capsys, "sweep", *args, "--no-report")


def test_a_narrowed_stage_goes_on_from_its_own_sweep_yaml(tmp_path, capsys):
    """DIR/narrow/sweep.yaml records the narrowed stage (its study, space and trials), so the documented
    `vislab sweep DIR/narrow/sweep.yaml --out DIR/narrow` goes on with that study: no new study, no trial
    trained again, nothing set aside."""
    out = tmp_path / "sw"
    code, text = sweep(capsys, spec_file(tmp_path, "t"), "--trials", 2, "--out", out, "--narrow",
                       2, "--narrow-trials", 1)  # fmt: skip
    assert code == 0, text
    narrow = out / "narrow"
    url = f"sqlite:///{out / 'study.db'}"
    stage = load_existing_study(url, "t-narrow")
    recorded = yaml.safe_load((narrow / "sweep.yaml").read_text())
    assert recorded["name"] == "t-narrow" and recorded["trials"] == 1
    assert recorded["space"] == stage.user_attrs["narrowed_space"]
    code, text = sweep(capsys, narrow / "sweep.yaml", "--out", narrow)
    assert code == 0 and "study 't-narrow' already holds 1 finished trial" in text, text
    assert not (narrow / "study.db").exists()
    code, text = sweep(capsys, narrow / "sweep.yaml", "--out", narrow, "--trials", 2)
    assert code == 0, text
    done = load_existing_study(url, "t-narrow").get_trials(states=(TrialState.COMPLETE,))
    assert [t.number for t in done] == [0, 1]
    assert sorted(p.name for p in (narrow / "trials").iterdir()) == ["0", "1"]
    assert json.loads((narrow / "sweep.json").read_text())["study"] == "t-narrow"


def test_another_sweep_is_refused_a_folder_that_holds_one(tmp_path, capsys):
    """A sweep of another study, or of the same study in another storage, is refused a sweep folder before
    anything trains or is written (exit 2), naming the study it holds and the fixes; --overwrite takes it."""
    out = tmp_path / "sw"
    assert sweep(capsys, spec_file(tmp_path, "a"), "--trials", 1, "--out", out)[0] == 0
    # the first sweep's SQLite connections, closed now rather than by a later garbage collection (which
    # checkpoints study.db's write-ahead log into it: a change of the folder the refusals did not make)
    gc.collect()
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    code, text = sweep(capsys, spec_file(tmp_path, "b"), "--trials", 1, "--out", out)
    assert code == 2, text
    assert "holds the trials of sweep 'a', not 'b'" in text and "nothing was trained" in text
    assert "--overwrite" in text and "--out" in text
    other = f"sqlite:///{tmp_path / 'other.db'}"
    code, text = sweep(capsys, tmp_path / "a.yaml", "--out", out, "--storage", other)
    assert code == 2 and "study 'a' stored in sqlite:///" in text and "--storage" in text, text
    with pytest.raises(UserError, match="sweep 'a', not 'b'.*Python: overwrite=True"):
        vislab.sweep(spec("b"), out=out, trials=1, quiet=True)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    assert not (tmp_path / "other.db").exists()
    code, text = sweep(capsys, tmp_path / "b.yaml", "--trials", 1, "--out", out, "--overwrite")
    assert code == 0, text
    assert json.loads((out / "sweep.json").read_text())["study"] == "b"


def test_a_trial_whose_worker_died_says_so_in_trials_csv(tmp_path, capsys):
    """A trial left RUNNING by a worker process that is gone: failed, re-queued, and its error column in
    trials.csv says why."""
    out = tmp_path / "sw"
    out.mkdir()
    study = optuna.create_study(storage=f"sqlite:///{out / 'study.db'}", study_name="t",
                                direction="maximize")  # fmt: skip
    trial = study.ask()
    trial.suggest_float("optim.lr", LR["low"], LR["high"], log=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    trial.set_user_attr("host", socket.gethostname())
    trial.set_user_attr("pid", dead.pid)
    code, text = sweep(capsys, spec_file(tmp_path, "t"), "--trials", 1, "--out", out)
    assert code == 0 and f"worker (pid {dead.pid}) is gone" in text, text
    with open(out / "trials.csv", newline="") as f:
        rows = {r["number"]: r for r in csv.DictReader(f)}
    # interrupted, as a Ctrl-C'd trial: its retry counts toward --trials instead
    assert rows["0"]["state"] == "interrupted", rows
    assert f"its worker (pid {dead.pid}) died during the trial" in rows["0"]["error"]
    assert rows["1"]["state"] == "complete" and rows["1"]["error"] == ""


def test_a_study_of_another_search_space_is_refused(tmp_path, capsys):
    """vislab.sweep(mapping) joining the study of another mapping's space (the default name "sweep"): a
    UserError naming the difference, as `vislab sweep` (exit 2): its trials would mix two spaces."""
    out = tmp_path / "sw"
    study = vislab.sweep({"base": BASE, "space": {"optim.lr": LR}}, out=out, trials=1, quiet=True)
    assert study.study_name == "sweep"
    wider = {**LR, "high": 0.5}
    with pytest.raises(UserError, match="study 'sweep' was started with another search space"):
        vislab.sweep({"base": BASE, "space": {"optim.lr": wider}}, out=out, trials=2, quiet=True)
    (tmp_path / "w.yaml").write_text(yaml.safe_dump(spec("sweep", {**LR, "high": 0.7})))
    code, text = sweep(capsys, tmp_path / "w.yaml", "--out", out, "--trials", 2)
    assert code == 2 and "'optim.lr': {type: float" in text and "high: 0.7" in text, text


def test_a_trial_folder_left_by_a_deleted_study_is_set_aside_and_said(tmp_path, capsys):
    """The folder's study.db and sweep.json deleted (study.db alone: refused, test_s27_sweep_mistakes.py): the
    same sweep starts its study anew, and the trial folder the old one left is kept aside as
    <n>.stale-<time>, with a line saying so (not silently)."""
    out = tmp_path / "sw"
    assert sweep(capsys, spec_file(tmp_path, "a"), "--trials", 1, "--out", out)[0] == 0
    (out / "study.db").unlink()
    (out / "sweep.json").unlink()
    code, text = sweep(capsys, tmp_path / "a.yaml", "--trials", 1, "--out", out)
    aside = [p.name for p in (out / "trials").iterdir() if p.name.startswith("0.stale-")]
    assert code == 0 and len(aside) == 1, text
    assert f"held another study's run; kept as {aside[0]}" in text
