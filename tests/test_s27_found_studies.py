"""Session 27: one way to load a sweep folder's study where a command goes on without it
(``sweeps.recorded_study.study_or_why``): `vislab compare` and `vislab report` of a sweep folder whose
sweep.json records a PostgreSQL storage without its password say so alike, and compare loads the study
once. `vislab compare` tells a folder's rows of seeds apart once (``api.given_rows``): that decision
splits its rows, says its note and words its verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import cli, one_line, table_run
from figures_skipped import skip_report_figures
from vislab.experiments.sweeps import recorded_study

MASKED = "postgresql://u:***@db.example:5432/sweeps"


@pytest.fixture
def masked(tmp_path):
    """A sweep folder whose sweep.json records its storage without the password, no run folder in it."""
    folder = tmp_path / "sw"
    folder.mkdir()
    record = dict(kind="sweep", study="tiny", storage=MASKED, default_storage=False)
    (folder / "sweep.json").write_text(json.dumps(record | dict(metric="val_acc")))
    return folder


def test_compare_says_the_storage_was_recorded_without_its_password(capsys, masked):
    code, said = cli(capsys, "compare", masked)
    said = one_line(said)
    assert code != 0 and "Traceback" not in said, said
    assert f"records its storage without the password ({MASKED})" in said, said
    assert f"`vislab sweep show {masked} --storage URL`" in said, said
    assert "holds no run folder here yet" not in said, said  # not as if its study had loaded


def test_report_says_the_same_of_the_password(capsys, masked, monkeypatch):
    skip_report_figures(monkeypatch)
    (masked / "trials").mkdir()
    table_run(masked / "trials", "0")
    code, said = cli(capsys, "report", masked)
    said = one_line(said)
    assert code == 0, said
    assert f"records its storage without the password ({MASKED})" in said, said
    assert f"`vislab sweep show {masked} --storage URL`, which lists its trials" in said, said


def test_compare_loads_a_sweep_folders_study_once(capsys, masked, monkeypatch):
    calls = []
    real = recorded_study.load_study_of

    def counted(folder):
        calls.append(folder)
        return real(folder)

    monkeypatch.setattr(recorded_study, "load_study_of", counted)
    code, said = cli(capsys, "compare", masked)
    assert code != 0 and "without the password" in one_line(said), said
    assert len(calls) == 1, calls


# ------------------------------------------------- compare's rows of seeds: one decision (found_runs)
def _seeds(root: Path) -> Path:
    """A folder of runs named as seeds, without training: ``a-s0`` and ``a-s1`` differ in train.epochs
    (not seeds of one row), ``b-s0`` and ``b-s1`` alike."""
    folder = root / "seeds"
    folder.mkdir()
    for name, seed, epochs, acc in (
        ("a-s0", 0, 1, 0.50),
        ("a-s1", 1, 3, 0.60),
        ("b-s0", 0, 1, 0.40),
        ("b-s1", 1, 1, 0.45),
    ):
        sets = (f"train.seed={seed}", f"train.epochs={epochs}", "data.split_seed=0")  # one test set
        run = table_run(folder, name, *sets)
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "seed": seed, "test_acc": acc}))
    return folder


@pytest.mark.filterwarnings("ignore:b-s[01]")  # "no predictions_test.npz": runs not trained
def test_compare_tells_seeds_apart_once_and_its_verdicts_follow(capsys, tmp_path, monkeypatch):
    from vislab.api import given_rows
    from vislab.experiments.results import texts

    calls = []
    real = given_rows.seed_split

    def counted(*args, **kw):
        calls.append(args[0])
        return real(*args, **kw)

    monkeypatch.setattr(given_rows, "seed_split", counted)
    monkeypatch.setattr(texts, "seed_split", counted)
    code, text = cli(capsys, "compare", _seeds(tmp_path))
    said = one_line(text)
    assert code == 0, said
    assert len(calls) == 1, calls  # found_runs decides; the table does not decide again
    assert (
        "Not averaged as seeds, though named <row>-s<i>: a-s0, a-s1 differ in train.epochs" in said
    )
    why = "the seeds a-s0, a-s1 differ in train.epochs (a-s0 1, a-s1 3), so they are not averaged"
    verdicts = [line for line in said.split("- **")[1:] if " vs " in line and "a-s" in line]
    assert verdicts and all(why in line for line in verdicts), said
