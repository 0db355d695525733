"""Session 25, `sweep show` (and ``vislab.sweep`` run again) on a machine that has the study database but
only some or none of the trials' run folders: every complete trial is a row of the main table, results.csv
and report.html, its parameters and objective from the study database and its run folder "not here";
the trials whose folders are here keep their full rows."""

import csv
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

import vislab
from conftest import cli, first_table, one_line, tiny_sweep
from figures_skipped import skip_report_figures
from vislab.errors import Note


def _swept_once(root: Path, sweep: dict) -> Callable[[], Path]:
    """``sweep``'s 3 trials trained once into ROOT/work/sw and kept aside; returns ``fresh``, which puts back
    ROOT/work as the sweep left it (at the place its study recorded the trials' folders) and returns its
    sweep folder: each test gets the folder of a sweep of its own, trained once for the module."""
    work, kept = root / "work", root / "kept"
    vislab.sweep(sweep, out=work / "sw", trials=3, quiet=True)
    work.rename(kept)

    def fresh() -> Path:
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(kept, work)
        return work / "sw"

    return fresh


@pytest.fixture(scope="module")
def fresh_sweep(tmp_path_factory) -> Callable[[], Path]:
    """``fresh`` of a sweep of 3 tiny trials (tiny_sweep)."""
    return _swept_once(tmp_path_factory.mktemp("s25-swept"), tiny_sweep())


@pytest.fixture
def gone(fresh_sweep, monkeypatch):
    """A sweep of 3 tiny trials in a folder sw of its own; its study, and the run folder of trial 1
    deleted."""
    out = fresh_sweep()
    shutil.rmtree(out / "trials" / "1")
    skip_report_figures(monkeypatch)  # the report's tables alone: no figure is read here
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{out / 'study.db'}")
    return out, {f"trial-{t.number}": t for t in study.trials}


def _csv_rows(out):
    with open(out / "results.csv", newline="") as f:
        return {r["run"]: r for r in csv.DictReader(f)}


def _table_rows(out):
    """results.md's main table: run → its cells by header."""
    lines = (
        (out / "results.md").read_text().split("\n\n| run |", 1)[1].split("\n\n")[0].splitlines()
    )
    head = ["run", *(c.strip() for c in lines[0].strip(" |").split("|"))]
    return {
        cells[0]: dict(zip(head, cells))
        for line in lines[2:]
        if (cells := [c.strip() for c in line.strip().strip("|").split("|")])
    }


def test_a_trial_whose_folder_is_gone_is_a_row_of_every_table(gone, capsys):
    """trial-1's folder deleted: results.md's table, results.csv and report.html each have its row with
    its learning rate and val_pacc from the study database, its run folder "not here"; trial-0 and
    trial-2 keep their test figures and their folders."""
    out, trials = gone
    code, text = cli(capsys, "sweep", "show", out)
    assert code == 0, text
    lr, value = trials["trial-1"].params["optim.lr"], trials["trial-1"].value
    rows = _csv_rows(out)
    assert list(rows) == ["trial-0", "trial-1", "trial-2"], rows
    assert rows["trial-1"]["run folder"] == "not here" and rows["trial-1"]["test_acc"] == ""
    assert float(rows["trial-1"]["optim.lr"]) == lr and float(rows["trial-1"]["val_pacc"]) == value
    assert rows["trial-1"]["model"] == "mlp" and rows["trial-1"]["epochs_run"] == "1"
    for name in ("trial-0", "trial-2"):
        assert rows[name]["run folder"] == f"trials/{name[-1]}" and rows[name]["test_acc"], rows
    table = _table_rows(out)
    assert list(table) == ["trial-0", "trial-1", "trial-2"], table
    one = table["trial-1"]
    assert one["run folder"] == "not here" and one["optim.lr"] == f"{lr:.4g}", one
    assert one["val PACC"].strip("*") == f"{value:.4f}" and one["test ACC"] == "-", one
    assert table["trial-0"]["test ACC"] != "-" and table["trial-0"]["run folder"] == "trials/0"
    md = " ".join((out / "results.md").read_text().split())
    assert "Trials: 3 complete trials in this table" in md, md
    assert "come from the study database: trial-1 (" in md and str(out / "trials" / "1") in md
    assert "Trials from the study database" not in md  # no section apart: the table holds them
    html = " ".join((out / "report.html").read_text().split())
    assert f"{lr:.4g}" in html and f"{value:.4f}" in html and "run folder not here" in html
    results = html.split('id="results"', 1)[1].split("</table>", 1)[0]  # the main table, not Trials
    assert "trial-1" in results and "not here" in results and f"{lr:.4g}" in results, results
    assert "come from the study database: trial-1 (" in html  # results.md's note, under the table


def test_the_python_sweep_run_again_writes_the_same_rows(gone):
    """``vislab.sweep`` run again on the folder (it trains nothing more) writes the same tables."""
    out, trials = gone
    with pytest.warns(Note, match="nothing to train"):
        vislab.sweep(tiny_sweep(), out=out, trials=3, quiet=True)
    assert not (out / "trials" / "1").exists()  # not trained again
    rows = _csv_rows(out)
    assert rows["trial-1"]["run folder"] == "not here"
    assert float(rows["trial-1"]["val_pacc"]) == trials["trial-1"].value


def test_a_study_without_any_folder_here_fills_the_table_from_its_database(
    tmp_path, capsys, monkeypatch
):
    """A shared study whose run folders are all on other machines: `sweep show --storage --study`
    writes a table of every complete trial, each "not here", with its value and objective."""
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    vislab.sweep(tiny_sweep(), out=tmp_path / "pw", trials=2, storage=storage, quiet=True)
    shutil.rmtree(tmp_path / "pw")
    skip_report_figures(monkeypatch)
    monkeypatch.chdir(tmp_path)
    code, text = cli(capsys, "sweep", "show", "--storage", storage, "--study", "tiny")
    assert code == 0, text
    out = tmp_path / "runs" / "sweep-tiny"
    study = optuna.load_study(study_name="tiny", storage=storage)
    rows, table = _csv_rows(out), _table_rows(out)
    assert list(rows) == list(table) == ["trial-0", "trial-1"], (rows, table)
    for t in study.trials:
        name = f"trial-{t.number}"
        assert rows[name]["run folder"] == table[name]["run folder"] == "not here"
        assert float(rows[name]["val_pacc"]) == t.value
        assert float(rows[name]["optim.lr"]) == t.params["optim.lr"]
    html = (out / "report.html").read_text()
    assert all(f"{t.params['optim.lr']:.4g}" in html for t in study.trials)
    assert "0 run(s) with scores of 0, and 2 from the study database" in html  # the page's subtitle


def test_a_sweep_whose_folders_are_all_here_has_no_run_folder_column(fresh_sweep):
    """Every trial's folder here: the tables are as before, without a run folder column."""
    out = fresh_sweep()
    assert "run folder" not in (out / "results.csv").read_text()
    assert "run folder" not in (out / "results.md").read_text()


@pytest.fixture(scope="module")
def fresh_tied(tmp_path_factory) -> Callable[[], Path]:
    """``fresh`` of the sweep behind ``tied``."""
    lr, log_every = ({"type": "categorical", "choices": c} for c in ([0.001, 0.05], [0, 1]))
    sweep = tiny_sweep(space={"optim.lr": lr, "train.log_every": log_every})
    return _swept_once(tmp_path_factory.mktemp("s25-tied"), sweep)


@pytest.fixture
def tied(fresh_tied, monkeypatch):
    """A sweep of 3 tiny trials over two learning rates and train.log_every, which changes no figure:
    trial-0 and trial-1 train with 0.05 (the same run but for its logging, so the same val_pacc, the
    best; the same values twice would not be trained again), trial-2 with 0.001; trial-0's run folder
    moved away."""
    out = fresh_tied()
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{out / 'study.db'}")
    drawn = [(t.params["optim.lr"], t.params["train.log_every"]) for t in study.trials]
    assert drawn == [(0.05, 0), (0.05, 1), (0.001, 0)]
    shutil.move(out / "trials" / "0", out.parent / "elsewhere")
    skip_report_figures(monkeypatch)
    return out


def _report(out):
    """report.html's data line and its main table's cells in bold."""
    html = " ".join((out / "report.html").read_text().split())
    line = re.sub(r"<[^>]+>", "", html.split("Data: ", 1)[1].split("</", 1)[0])
    table = html.split('id="results"', 1)[1].split("</table>", 1)[0]
    return f"Data: {line}", re.findall(r"<strong>([^<]*)</strong>", table)


def test_a_row_from_the_database_ties_like_any_other_and_claims_no_test_set(tied, capsys):
    """trial-0 (from the study database) ties trial-1 on val PACC: results.md bolds neither (the note
    says none where two tie), as report.html; it is named in no "Test set unknown" sentence, and both
    files have the same data line, the runs' own split sizes."""
    code, text = cli(capsys, "sweep", "show", tied)
    assert code == 0, text
    md = (tied / "results.md").read_text()
    table = _table_rows(tied)
    assert table["trial-0"]["val PACC"] == table["trial-1"]["val PACC"], table
    assert all("*" not in row["val PACC"] for row in table.values()), table
    assert "Test set unknown" not in md and "nor a config.yaml" not in md, md
    data = next(line for line in md.splitlines() if line.startswith("Data: "))
    assert data == "Data: digits (200 train / 162 val / 180 test images), all runs.", data
    line, bold = _report(tied)
    assert line == data, (line, data)
    in_md = re.findall(r"\*\*([^*]+)\*\*", "\n".join(first_table(md)))
    assert bold == in_md and "0.4577" not in bold, (
        bold,
        in_md,
    )  # trial-1 and -2 test figures alone


def test_compare_of_a_sweep_folder_prints_its_results_table(tied, capsys):
    """`vislab compare SWEEP_DIR` prints results.md's table: trial-0's row from the study database with
    its run folder "not here", the same cells in bold; its note names where trial-0 ran."""
    assert cli(capsys, "sweep", "show", tied)[0] == 0
    code, text = cli(capsys, "compare", tied)
    assert code == 0, text
    assert first_table(text) == first_table((tied / "results.md").read_text())
    assert "| trial-0 |" in text and "not here" in text
    assert "come from the study database: trial-0" in one_line(text)
    with pytest.warns(Note, match="come from the study database: trial-0"):
        df = vislab.compare(tied)
    assert list(df["run"]) == ["trial-0", "trial-1", "trial-2"]
    assert list(df["run folder"]) == ["not here", "trials/1", "trials/2"]


def test_the_note_says_what_rows_give_when_the_study_recorded_no_base(gone, capsys):
    """A study that recorded no base config: the rows from its database give the objective and the
    epochs alone, and the note under the table says so, not "the model, seed and data"."""
    out, _ = gone
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{out / 'study.db'}")
    study.set_user_attr("base", {})
    code, text = cli(capsys, "sweep", "show", out)
    assert code == 0, text
    md = one_line((out / "results.md").read_text())
    assert "They give val_pacc and the epochs alone: the study recorded no base config" in md, md
    assert "the model, seed and data of their config" not in md
    assert "so their model, seed and data are not known here." in md, md
    assert md.startswith("# sweep tiny on digits Data: "), md  # no "?" for trial-1's data
    assert _table_rows(out)["trial-1"]["model"] == "-", _table_rows(out)


def test_compare_finds_the_trials_where_results_md_finds_them(gone, capsys):
    """A copy of the sweep folder without its trials/ (its study records the original trials' folders,
    still on this machine): compare takes each trial's run folder from the study, as results.md does,
    so trial-0 and trial-2 keep their figures and trial-1 (deleted) alone is "not here"."""
    out, _ = gone
    copy = out.parent / "copy"
    shutil.copytree(out, copy)
    shutil.rmtree(copy / "trials")
    assert cli(capsys, "sweep", "show", copy)[0] == 0
    code, text = cli(capsys, "compare", copy)
    assert code == 0, text
    table = first_table(text)
    assert table == first_table((copy / "results.md").read_text()), text
    row = next(line for line in table if line.startswith("| trial-0 |"))
    assert str(out / "trials" / "0") in row and "not here" not in row, row
    assert "come from the study database: trial-1 (" in one_line(text), text


def test_compare_of_a_sweep_whose_trials_are_all_elsewhere(gone, capsys):
    """No trial's run folder here: compare prints every complete trial's row from the study database
    (not "holds no run folder here yet"), as results.md; report.html's title and data line are results.md's."""
    out, _ = gone
    for trial in (out / "trials").iterdir():
        shutil.rmtree(trial)
    assert cli(capsys, "sweep", "show", out)[0] == 0
    code, text = cli(capsys, "compare", out)
    assert code == 0, text
    md = (out / "results.md").read_text()
    assert first_table(text) == first_table(md) and len(first_table(md)) == 5, text
    assert "come from the study database: trial-0 (" in one_line(text), text
    assert md.startswith("# sweep tiny on digits\n\nData: digits, all runs.\n"), md
    html = " ".join((out / "report.html").read_text().split())
    assert "<h1>Sweep tiny on digits</h1>" in html, html
    assert _report(out)[0] == "Data: digits, all runs.", _report(out)[0]
    with pytest.raises(
        vislab.UserError, match="holds no run folder here yet .*: plot it once one has trained here"
    ):
        vislab.plot_curves(out)  # a row from the database has no curves to draw


def test_compare_names_a_narrow_stages_rows_and_folders(tmp_path, capsys, monkeypatch):
    """A sweep with a --narrow stage, trial 1's and the narrow stage's trial 0's folders moved away:
    compare gives narrow/trial-1 its own folder (narrow/trials/1, not trials/1) and its note names the
    narrow stage's row from the database as narrow/trial-0."""
    out = tmp_path / "nw"
    vislab.sweep(tiny_sweep(), out=out, trials=3, narrow=2, narrow_trials=2, quiet=True)
    shutil.move(out / "trials" / "1", tmp_path / "t1")
    shutil.move(out / "narrow" / "trials" / "0", tmp_path / "n0")
    skip_report_figures(monkeypatch)
    code, text = cli(capsys, "compare", out)
    assert code == 0, text
    said = one_line(text)
    assert "come from the study database: narrow/trial-0 (" in said, said
    assert "come from the study database: trial-1 (" in said, said
    with pytest.warns(Note):
        df = vislab.compare(out)
    folders = dict(zip(df["run"], df["run folder"]))
    assert folders == {
        "trial-0": "trials/0",
        "trial-1": "not here",
        "trial-2": "trials/2",
        "narrow/trial-0": "not here",
        "narrow/trial-1": "narrow/trials/1",
    }, folders


def test_a_copied_sweep_folder_compares_its_own_trial_folders(fresh_sweep):
    """trial_dirs preferred the folder each trial recorded (the original's), so a copy compared the
    original's runs — after the original was trained again, figures of other trials beside its values."""
    out = fresh_sweep()
    copy = shutil.copytree(out, out.parent / "copy")
    found = vislab.compare(copy)
    assert len(found) == 3
    from vislab.api.found_runs import find_runs

    folders = find_runs([copy]).folders
    assert len(folders) == 3 and all(p.is_relative_to(copy) for p in folders.values()), folders


def test_the_run_folder_column_is_no_setting_that_turns_four_swept_keys_into_a_list():
    """Four swept keys and the run folder column: the swept keys went under the table ("more than 4
    settings differ"), "run folder=not here" listed among them as a changed setting."""
    from vislab.experiments.results.for_people import for_people
    from vislab.experiments.results.settings import RUN_FOLDER, Settings

    swept = ["optim.lr", "optim.weight_decay", "train.batch_size", "model.dropout"]
    values = {
        f"trial-{i}": {"model": "mlp", "seed": 0, **dict.fromkeys(swept, i), RUN_FOLDER: where}
        for i, where in enumerate(["trials/0", "not here"])
    }
    shown = for_people(Settings(["model", "seed", *swept, RUN_FOLDER], values, {}, swept=True))
    assert shown.listed == {} and RUN_FOLDER in shown.columns.keys, shown
