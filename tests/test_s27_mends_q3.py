"""Session 27, mends Q3: the notes on a table's `-` cells and its code column, and where the splits were
drawn from, everywhere the tables are (results.md / vislab compare, report.html; vislab paper names
notes.md); a run stopped as its figures were drawn, its scores written, in vislab.compare's and
run_suite's tables; the shared runner's tables cut short by a Ctrl-C; compare's and report's
`vislab sweep show DIR --storage URL` only where the storage is what failed."""

import html
import json
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import cli, one_line, table_run, tiny_suite
from figures_skipped import skip_report_figures
from vislab.errors import Note

SPLIT = ("data.name=mnist", "data.use=[test]", "data.split=[1000,300,300]")
DRAWN = "all three drawn from mnist's official test set by data.split"
DASH = "-: the run has no value of the setting"
CODE = "code: the version of the model's code each run trained"


def _summary(run: Path, **changes) -> None:
    """``run``'s summary.json with ``changes``."""
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**summary, **changes}))


@pytest.fixture
def runs(tmp_path) -> Path:
    """Two mlp runs of other code and learning rates beside a majority baseline (no optim.lr read), all
    on splits drawn from mnist's official test set; nothing trained."""
    folder = tmp_path / "runs"
    folder.mkdir()
    sizes = dict(data="mnist", n_train=1000, n_val=300, n_test=300)
    for name, lr, sha in (("a", "0.1", "a" * 64), ("b", "0.01", "b" * 64)):
        run = table_run(folder, name, *SPLIT, f"optim.lr={lr}")
        _summary(run, model_code={"code_sha256": sha}, **sizes)
    base = table_run(folder, "majority", *SPLIT, "model.name=majority")
    _summary(base, model="majority", trained_by="fit_arrays", test_acc=0.1, **sizes)
    return folder


def _said_of_the_table(text: str) -> None:
    said = one_line(text)
    assert DRAWN in said, said
    assert DASH in said and "(majority: optim.lr)" in said, said
    assert CODE in said and "the runs of mlp ran different code" in said, said
    assert "-: not in the run's summary.json (a: train ACC, val ACC" in said, said


def test_compares_results_md_says_the_dash_the_code_column_and_where_the_splits_came_from(
    runs, capsys
):
    code, text = cli(capsys, "compare", runs)
    assert code == 0, text
    _said_of_the_table(text)


def test_the_report_says_them_too(runs, capsys, monkeypatch):
    skip_report_figures(monkeypatch)
    code, text = cli(capsys, "report", runs)
    assert code == 0, text
    _said_of_the_table(html.unescape((runs / "report.html").read_text()))


def test_paper_names_notes_md_among_the_files_it_wrote(runs, capsys):
    code, text = cli(capsys, "paper", runs, "--no-figures")
    assert code == 0, text
    assert "figures.tex, notes.md;" in one_line(text), text
    assert (runs / "paper" / "notes.md").is_file()


# ------------------------------------------------------------ a run stopped as its figures were drawn
NOT_DRAWN = ["confusion_test.png", "per_class.png"]


def _cut_short(run: Path) -> None:
    """``run`` as a signal leaves it that came while its figures were drawn, its scores written."""
    _summary(run, status="interrupted", figures_missing=NOT_DRAWN)


def test_compare_keeps_a_run_scored_before_its_figures_were_cut_short(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    table_run(folder, "a")
    _cut_short(table_run(folder, "b", "optim.lr=0.01"))
    with pytest.warns(Note) as noted:
        assert list(vislab.compare(folder)["run"]) == ["a", "b"]
    said = one_line(" ".join(str(n.message) for n in noted))
    assert "b: in the table, but not finished (status interrupted; its scores are kept" in said
    assert "resuming the run draws them: vislab train --resume" in said


def test_run_suites_table_keeps_a_run_scored_before_its_figures_were_cut_short(tmp_path):
    from vislab.api.suites import _suite_result, resolve_suite

    spec, out = tmp_path / "tiny.yaml", tmp_path / "s"
    spec.write_text(yaml.safe_dump(tiny_suite(name="tiny")))
    suite, out = resolve_suite(spec, out)
    out.mkdir()
    table_run(out, "majority", "model.name=majority")
    _cut_short(table_run(out, "mlp"))
    with pytest.warns(Note, match="mlp: in the table, but not finished"):
        result = _suite_result(suite, out)
    assert list(result.table["run"]) == ["majority", "mlp"] and set(result.runs) == {
        "majority",
        "mlp",
    }


# ------------------------------------------------------------------------- the sweep's storage hint
SHOW = "--storage URL`"


def _sweep_folder(tmp_path, record: str) -> Path:
    folder = tmp_path / "sw"
    (folder / "trials").mkdir(parents=True)
    (folder / "sweep.json").write_text(record)
    return folder


@pytest.mark.parametrize("command", ["compare", "report"])
def test_a_damaged_sweep_json_gets_its_own_fix_alone(tmp_path, capsys, monkeypatch, command):
    skip_report_figures(monkeypatch)
    folder = _sweep_folder(tmp_path, "{bad")
    code, text = cli(capsys, command, folder)
    said = one_line(text)
    assert "cannot be read" in said and "--study NAME" in said, said
    assert SHOW not in said, said


MASKED = "postgresql://u:***@db.example:5432/sweeps"


@pytest.mark.parametrize("command", ["compare", "report"])
def test_a_storage_without_its_password_names_sweep_show_once(
    tmp_path, capsys, monkeypatch, command
):
    skip_report_figures(monkeypatch)
    record = dict(kind="sweep", study="tiny", storage=MASKED, default_storage=False)
    folder = _sweep_folder(tmp_path, json.dumps(record))
    code, text = cli(capsys, command, folder)
    said = one_line(text)
    assert "without the password" in said, said
    assert f"`vislab sweep show {folder} {SHOW}, which lists its trials" in said, said
    per_line = [line for line in text.splitlines() if SHOW in line]
    assert all(one_line(line).count(SHOW) == 1 for line in per_line), text
