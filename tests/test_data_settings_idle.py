"""Data settings that only one source or normalisation reads: ``data.noise``/``data.n_samples`` (circles),
``data.label_mode`` (cifar100), ``data.zca_epsilon`` (zca) — a note where nothing reads them, and no
column in the comparison tables (they did nothing, so they tell the runs apart by nothing)."""

import pytest

import vislab
from conftest import table_run
from vislab.config import build_config, config_notes

CASES = {
    "data.noise=0.3": "only the circles data source reads it",
    "data.n_samples=50": "only the circles data source reads it",
    "data.label_mode=coarse": "only the cifar100 data source reads it",
    "data.zca_epsilon=0.01": "only the zca normalisation reads it",
}


@pytest.mark.parametrize("setting", CASES)
def test_a_data_setting_nothing_reads_is_noted(setting):
    (note,) = config_notes(build_config({}, ["data.name=digits", setting]))
    assert note.startswith(f"{setting} does nothing with data.") and CASES[setting] in note


@pytest.mark.parametrize(
    "sets",
    [
        ["data.name=circles", "data.noise=0.3", "data.n_samples=50"],
        ["data.normalize=zca", "data.zca_epsilon=0.01"],
    ],
)
def test_where_they_are_read_there_is_no_note(sets):
    assert config_notes(build_config({}, sets)) == []


def test_the_tables_leave_an_unread_data_setting_out(tmp_path):
    a = table_run(tmp_path, "a")
    b = table_run(tmp_path, "b", "data.noise=0.3", "data.zca_epsilon=0.01")
    assert [c for c in vislab.compare([a, b]).columns if c.startswith("data.")] == []
    c = table_run(tmp_path, "c", "data.normalize=zca", "data.zca_epsilon=0.01")
    d = table_run(tmp_path, "d", "data.normalize=zca")
    assert "data.zca_epsilon" in vislab.compare([c, d]).columns
