"""Session 24, S1: `vislab sweep FILE --dry-run` (Python: vislab.sweep(..., dry_run=True)) checks the sweep
as a real one is before its first trial and says its plan, writing nothing."""

import dataclasses

import pytest
import yaml

import vislab
from conftest import cli, tiny_sweep
from vislab.experiments.sweeps.preview import SweepPlan


def write(path, spec: dict):
    path.write_text(yaml.safe_dump(spec))
    return path


def files_in(folder) -> dict:
    """Each file under ``folder`` with its size and modification time."""
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def test_dry_run_of_a_new_sweep_says_its_plan_and_writes_nothing(tmp_path, capsys):
    """A new folder: the plan line by line (folder, study, storage, metric, sampler, pruner, no trials
    held, how many to train, the space, the base as --set lines, the trials' notes); exit 0; neither the
    folder nor its study.db is made."""
    spec = tiny_sweep(base__augment={"hflip": {"p": 0.5}}, pruner="median")
    file = write(tmp_path / "tiny.yaml", spec)
    out = tmp_path / "sw"
    code, text = cli(capsys, "sweep", file, "--out", out, "--trials", "3", "--dry-run")
    assert code == 0, text
    lines = text.splitlines()
    assert f"sweep folder: {out}" in lines, text
    assert f"study: tiny in sqlite:///{out.resolve() / 'study.db'}" in lines, text
    assert "metric: val_pacc (maximize)" in lines, text
    assert "sampler: random (seed=0); pruner: median" in lines, text
    assert "trials the study holds: none yet (the study is made by its first worker)" in lines
    assert "trials to train: 3 (the study should hold 3)" in lines, text
    assert "  optim.lr: float from 0.001 to 0.1, log scale" in lines, text
    for s in ("data.limit=200", "model.name=mlp", "model.hidden=[16]", "augment.hflip.p=0.5"):
        assert f"  --set {s}" in lines, text
    assert any(line.startswith("note: augment.hflip.p=0.5 mirrors the digits") for line in lines)
    assert lines[-1] == "dry run: nothing was trained or written", text
    assert not out.exists()


def test_dry_run_of_a_sweep_in_its_folder_reads_its_study_only(tmp_path, capsys):
    """A folder whose study holds a trial: the dry run counts it and trains the rest; no file of the folder
    (its study.db neither) is made or changed."""
    file = write(tmp_path / "tiny.yaml", tiny_sweep())
    out = tmp_path / "sw"
    vislab.sweep(file, out=out, trials=1, quiet=True)
    before = files_in(out)
    code, text = cli(capsys, "sweep", file, "--out", out, "--trials", "3", "--dry-run")
    assert code == 0, text
    assert "trials the study holds: 1 complete" in text and "trials to train: 2 (the study" in text
    assert files_in(out) == before, set(files_in(out)) ^ set(before)


def test_python_dry_run_returns_the_plan(tmp_path):
    """vislab.sweep(mapping, dry_run=True): a frozen SweepPlan (its space entries typed), nothing made."""
    out = tmp_path / "sw"
    plan = vislab.sweep(tiny_sweep(), out=out, trials=4, dry_run=True, train__epochs=2)
    assert isinstance(plan, SweepPlan) and plan.to_train == 4 and plan.held is None
    assert "train.epochs=2" in plan.base_sets and plan.study == "tiny"
    (entry,) = plan.space
    assert (entry.name, entry.kind, entry.low, entry.high, entry.log) == (
        "optim.lr",
        "float",
        1e-3,
        0.1,
        True,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.trials = 5
    assert not out.exists()


@pytest.mark.parametrize(
    "args, said",
    [
        (["--set", "nope.x=1"], "unknown config key 'nope'"),
        (
            ["--storage", "sqlite:////no/such/folder/s.db"],
            "the folder '/no/such/folder' is not there",
        ),
        (["--storage", "nosuch://host/db"], "cannot open the study storage 'nosuch://host/db'"),
        (["--overwrite"], "a dry run says what the sweep would do with its folder as it is"),
    ],
)
def test_dry_run_refuses_what_the_sweep_refuses(tmp_path, capsys, args, said):
    """A mistake the sweep refuses before its first trial: exit 2, one message naming it, nothing made."""
    file = write(tmp_path / "tiny.yaml", tiny_sweep())
    out = tmp_path / "sw"
    code, text = cli(capsys, "sweep", file, "--out", out, "--dry-run", *args)
    assert code == 2 and said in " ".join(text.split()), text
    assert not out.exists()


def test_dry_run_checks_the_base_on_its_data_and_downloads_nothing(tmp_path, capsys, monkeypatch):
    """A base whose model cannot take its data is refused as the sweep refuses it (exit 2); data that is
    not here yet, which the sweep would download into the default folder, is a note: nothing downloaded."""
    monkeypatch.chdir(tmp_path)
    file = write(
        tmp_path / "cnn.yaml",
        tiny_sweep(base__model={"name": "cnn"}, base__data={"name": "circles"}),
    )
    code, text = cli(capsys, "sweep", file, "--out", "sw", "--dry-run")
    assert code == 2 and "its base config cannot train on its data" in text, text
    file = write(tmp_path / "tiny.yaml", tiny_sweep())
    code, text = cli(capsys, "sweep", file, "--out", "sw", "--dry-run", "--data", "mnist")
    assert (
        code == 0 and "note: its base's data is not here yet: a real sweep downloads it" in text
    ), text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cnn.yaml", "tiny.yaml"]


def test_dry_run_refuses_a_folder_holding_another_sweep(tmp_path, capsys):
    """The folder holds sweep 'tiny': a dry run of sweep 'other' into it is refused, as the sweep is, and
    the folder is left as it was."""
    out = tmp_path / "sw"
    vislab.sweep(tiny_sweep(), out=out, trials=1, quiet=True)
    before = files_in(out)
    file = write(tmp_path / "other.yaml", tiny_sweep(name="other"))
    code, text = cli(capsys, "sweep", file, "--out", out, "--dry-run")
    assert code == 2 and "holds the trials of sweep 'tiny', not 'other'" in text, text
    assert files_in(out) == before


def test_dry_run_counts_a_dead_workers_trial_as_to_train_again(tmp_path, capsys):
    """A running trial whose worker on this host is dead is re-queued by a real sweep before it counts:
    the dry run counts it as the real sweep will (it said "trials to train: 0" where one would train)."""
    import socket

    import optuna

    from vislab.experiments.sweeps import attrs

    file = write(tmp_path / "tiny.yaml", tiny_sweep())
    out = tmp_path / "sw"
    vislab.sweep(file, out=out, trials=2, quiet=True)
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{out / 'study.db'}")
    trial = study.ask()  # RUNNING, its worker a pid that is not alive
    trial.set_user_attr(attrs.HOST, socket.gethostname())
    trial.set_user_attr(attrs.PID, 2**22 + 12345)
    code, text = cli(capsys, "sweep", file, "--out", out, "--trials", "3", "--dry-run")
    assert code == 0, text
    assert "1 running" in text and "trials to train: 1 (the study" in text, text


def test_dry_run_of_data_a_sweep_would_download_into_dot_slash_data_notes_it(
    tmp_path, capsys, monkeypatch
):
    """data.root=./data is the default folder, which a real sweep downloads into: a note, not a refusal."""
    monkeypatch.chdir(tmp_path)
    spec = tiny_sweep(base__data={"name": "mnist", "root": "./data"})
    code, text = cli(capsys, "sweep", write(tmp_path / "m.yaml", spec), "--dry-run")
    assert code == 0, text
    assert "its base's data is not here yet: a real sweep downloads it" in " ".join(text.split())
    assert not (tmp_path / "data").exists()
