"""Three ways a run was left out or misread without a word: a run trained inside a suite's (or a sweep's)
folder, which the folder's report, paper and compare never list (refused now, as a run into the suite's
folder itself is); a finished run's metrics.jsonl whose last line is cut short (a ``note:`` names the
lost row); and ``data.image_size`` on a source that is no image folder (a ``note:``, and no column in
the comparison tables)."""

from __future__ import annotations

import json
import shutil
import warnings

import pytest

import vislab
from conftest import TINY_DIGITS, cli, one_line, table_run, tiny_sets
from vislab.config import build_config, config_notes
from vislab.errors import Note, UserError
from vislab.training.rundir import RunDir

# ------------------------------------------------------------------ a run inside a suite's folder


@pytest.fixture
def suite(tmp_path):
    """A suite folder as vislab marks one (its suite.json), holding its run ``a``."""
    folder = tmp_path / "suite1c"
    folder.mkdir()
    (folder / "suite.json").write_text(json.dumps({"name": "s", "order": ["a"]}))
    table_run(folder, "a")
    return folder


def test_a_new_run_inside_a_suite_folder_is_refused(capsys, suite, monkeypatch):
    """``vislab train --out SUITE/extra2`` exits 2 naming the suite and a folder outside it, and makes
    nothing (before: it trained, and ``vislab report/compare/paper SUITE`` never showed extra2)."""
    monkeypatch.chdir(suite.parent)
    code, text = cli(capsys, "train", "--out", "suite1c/extra2", *tiny_sets("train.figures=false"))
    assert code == 2, text
    said = one_line(text)
    assert "'suite1c/extra2' is inside the vislab suite 'suite1c'" in said
    assert "--out suite1c-extra2" in said
    assert "add it to the suite's file and run the suite again" in said
    assert not (suite / "extra2").exists()
    with pytest.raises(UserError, match="inside the vislab suite"):
        vislab.train(out=suite / "extra3", **TINY_DIGITS)
    assert sorted(p.name for p in suite.iterdir()) == ["a", "suite.json"]


def test_starting_over_a_run_of_a_suite_by_hand_is_refused_before_deleting(capsys, suite):
    """``--overwrite`` of a suite's run from ``vislab train`` is refused with its files kept (before: the
    run was deleted and trained again with another config than the suite's)."""
    code, text = cli(
        capsys, "train", "--out", suite / "a", "--overwrite", *tiny_sets("train.figures=false")
    )
    assert code == 2, text
    assert "inside the vislab suite" in one_line(text)
    assert sorted(p.name for p in (suite / "a").iterdir()) == ["config.yaml", "summary.json"]


def test_a_new_run_among_a_sweeps_trials_is_refused(tmp_path):
    """SWEEP/trials/NEW would be listed as a trial it is not; SWEEP/NEW not at all."""
    sweep = tmp_path / "sw"
    (sweep / "trials").mkdir(parents=True)
    (sweep / "sweep.json").write_text("{}")
    for out in (sweep / "trials" / "7", sweep / "extra"):
        with pytest.raises(UserError, match="inside the vislab sweep"):
            vislab.train(out=out, **TINY_DIGITS)
        assert not out.exists()


# ------------------------------------------------------------------ a metrics.jsonl cut short


@pytest.fixture(scope="module")
def cut_short(tmp_path_factory):
    """A finished 2-epoch run whose metrics.jsonl's last line (epoch 2's row) is cut short."""
    run = vislab.train(
        out=tmp_path_factory.mktemp("cut") / "r3", **dict(TINY_DIGITS, train__epochs=2)
    ).path
    metrics = run / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    metrics.write_text("\n".join([*lines[:-1], lines[-1][:40]]) + "\n")
    return run


def test_the_paper_of_a_complete_run_names_the_row_cut_short(capsys, cut_short, tmp_path):
    """``vislab paper`` keeps epoch 1's row and says, naming the file, that epoch 2's is lost and what
    writes it again (before: its per-epoch table stopped at epoch 1 without a word)."""
    code, text = cli(capsys, "paper", cut_short, "--out", tmp_path / "p", "--no-figures")
    assert code == 0, text
    (note,) = [one_line(x) for x in text.splitlines() if x.startswith("note: ")]
    assert f"'{cut_short / 'metrics.jsonl'}' ends in a line cut short" in note
    assert "summary.json says the run is complete: epoch 2's row is lost" in note
    assert f"vislab train --resume {cut_short}" in note


def test_run_history_warns_the_row_cut_short(cut_short):
    with pytest.warns(Note, match="epoch 2's row is lost"):
        assert vislab.load_run(cut_short).history["epoch"].tolist() == [1]


def test_a_run_stopped_mid_write_is_read_without_a_note(cut_short, tmp_path):
    """A run interrupted after epoch 1 whose epoch-2 line was being written: resuming writes it, nothing
    is lost (nor for a run that completed at epoch 1); a summary saying it ran 2 epochs means the row was
    written, and lost."""
    run = tmp_path / "stopped"
    shutil.copytree(cut_short, run)
    for status, epochs_run, noted in (
        ("interrupted", 1, 0),
        ("complete", 1, 0),
        ("interrupted", 2, 1),
    ):
        (run / "summary.json").write_text(json.dumps({"status": status, "epochs_run": epochs_run}))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            assert [r["epoch"] for r in RunDir(run).read_metrics()] == [1]
        said = [str(w.message) for w in seen if issubclass(w.category, Note)]
        assert len(said) == noted, said
        assert all(
            "summary.json says the run ran 2 epochs: epoch 2's row is lost" in s for s in said
        )


# ------------------------------------------------------------------ data.image_size where nothing reads it


def test_image_size_of_a_source_that_is_no_image_folder_is_noted():
    notes = config_notes(build_config({}, ["data.name=digits", "data.image_size=16"]))
    assert notes == [
        "data.image_size=16 does nothing with data.name=digits: only the folder data source reads it."
    ]
    resized = build_config({}, ["data.name=folder", "data.image_size=16", "data.resize=64"])
    assert config_notes(resized) == [
        "data.image_size=16 does nothing with data.resize=64: an image folder is decoded to "
        "data.resize instead."
    ]
    assert config_notes(build_config({}, ["data.name=folder", "data.image_size=16"])) == []
    points = build_config({}, ["data.name=circles", "data.resize=16", "model.name=mlp"])
    assert config_notes(points) == [
        "data.resize=16 does nothing with data.name=circles: its points are no images, and only "
        "images are resized."
    ]


def test_compare_of_digits_runs_with_another_image_size_shows_no_column(tmp_path):
    """Both ran on 8×8 digits: no data.image_size column 32 vs 16 (before: there was)."""
    a = table_run(tmp_path, "a", "data.name=digits")
    b = table_run(tmp_path, "b", "data.name=digits", "data.image_size=16")
    table = vislab.compare([a, b])
    assert "data.image_size" not in table.columns, list(table.columns)
