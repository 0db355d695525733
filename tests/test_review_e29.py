"""A reviewer's attempts to break this session's typed records and checks: a hand-edited summary.json
missing a key or its status, an epoch written as 2.0, a fitted baseline on a train split smaller than a
batch, and a sweep study started before trials were scored at their best by the sweep's metric."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

import vislab
from conftest import cli, tiny_config, tiny_sweep
from figures_skipped import skip_report_figures
from vislab.training.summary import RunSummary
from vislab.training.trainer import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("e29") / "run"
    train(tiny_config("train.epochs=1", "train.figures=false"), out, quiet=True)
    return out


def _edited(trained, tmp_path, name: str, drop: str):
    folder = tmp_path / "runs" / name
    shutil.copytree(trained, folder)
    path = folder / "summary.json"
    summary = json.loads(path.read_text())
    del summary[drop]
    path.write_text(json.dumps(summary))
    return folder


def test_a_summary_missing_a_key_is_read_without_it(trained, tmp_path, capsys, monkeypatch):
    """params deleted by hand: the report is written (it crashed formatting a null), and Run.summary is
    still the file's dict (a .get default holds, no null put in its place)."""
    folder = _edited(trained, tmp_path, "no-params", "params")
    assert vislab.load_run(folder).summary.get("params", 0) == 0
    skip_report_figures(monkeypatch)
    code, out = cli(capsys, "report", folder.parent)
    assert code == 0, out


def test_a_summary_without_its_status_is_said_to_be_so(trained, tmp_path, capsys):
    """Was 'stopped before writing its summary.json; continue it: …' though the file is there."""
    _edited(trained, tmp_path, "no-status", "status")
    shutil.copytree(trained, tmp_path / "runs" / "whole")
    code, out = cli(capsys, "compare", tmp_path / "runs")
    assert code == 0 and "status unknown (its summary.json names none)" in " ".join(out.split()), (
        out
    )


def test_an_epoch_written_as_a_float_is_an_epoch():
    s = RunSummary.from_json({"status": "complete", "best_epoch": 2.0, "epochs_run": 3})
    assert s.best_epoch == 2 and isinstance(s.best_epoch, int)
    with pytest.raises(ValueError, match="epochs_run is 3.5, not a whole number"):  # no epoch
        RunSummary.from_json({"status": "complete", "epochs_run": 3.5})


def test_a_fitted_baseline_on_a_split_smaller_than_a_batch_finishes(tmp_path, capsys):
    """data.limit=12: its lr figure divided by zero optimizer steps an epoch (a traceback at the end)."""
    sets = ["model.name=majority", "data.name=digits", "data.limit=12", "train.device=cpu"]
    code, out = cli(
        capsys, "train", "--out", tmp_path / "r", *[a for s in sets for a in ("--set", s)]
    )
    assert code == 0 and "done (fitted on the train split)" in out, out


def test_a_study_whose_trials_chose_their_epoch_by_another_metric_names_the_ways_on(
    tmp_path, capsys
):
    """A study started by a vislab that picked each trial's epoch by val_pacc, joined by one that picks it
    by the sweep's metric: not 'started with another base config … join it with the same sweep file'."""
    old = tiny_sweep(metric="val_acc", base__train__select_metric="val_pacc")
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(old))
    into = ("--out", tmp_path / "s", "--no-report")  # what is read: the study, not a report
    code, out = cli(capsys, "sweep", tmp_path / "old.yaml", "--trials", "1", *into)
    assert code == 0, out
    new = tiny_sweep(metric="val_acc")
    (tmp_path / "new.yaml").write_text(yaml.safe_dump(new))
    code, out = cli(capsys, "sweep", tmp_path / "new.yaml", "--trials", "2", *into)
    said = " ".join(out.split())
    assert code == 2 and "chose each trial's best epoch by val_pacc" in said, out
    assert "--set train.select_metric=val_pacc" in said
    args = ["--trials", "2", *into, "--set", "train.select_metric=val_pacc"]
    code, out = cli(capsys, "sweep", tmp_path / "new.yaml", *args)
    assert code == 0, out


def test_unknown_keys_holding_whole_floats_are_kept_as_read():
    """A key vislab does not know, 0.0 in a hand-made file: kept in extra (reading it raised a TypeError)."""
    s = RunSummary.from_json({"status": "complete", "lr_at_end": 0.0, "test_acc": 1.0})
    assert s.extra == {"lr_at_end": 0.0} and s.test_acc == 1.0
