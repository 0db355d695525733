"""A run folder with a damaged file (summary.json, metrics.jsonl or config.yaml cut short or edited by
hand): `vislab report` and `vislab paper` still write what they can, name the file, what was left out and
the fix — in the page's and the paper's notes and on the terminal — and never leave a run out of a table
silently; the fix they give repairs it. A --out that cannot be created is named as such, and the run
folder's JSON is strict JSON (a NaN is written as null)."""

import json
import math
import os
import re
import shutil
from html import unescape
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import cli, one_line, tiny_base, tiny_suite
from figures_skipped import skip_report_figures
from fixtures import made_once
from vislab.cli import main
from vislab.errors import UserError
from vislab.paper_folder.latex import escape
from vislab.report.build import build_report
from vislab.run import Run
from vislab.training.rundir import RunDir

SUITE = tiny_suite(base=tiny_base(data__limit=120, train__seed=0, model__hidden=[8]))


def _make_suite(root: Path) -> dict:
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    args = ["suite", str(spec), "--seeds", "3", "--out", str(root / "suite"), "-q", "--no-report"]
    assert main(args) == 0
    return {}


@pytest.fixture(scope="module")
def made_suite(tmp_path_factory) -> Path:
    """A suite of rows majority and mlp, 3 seeds each (made once per session, never written to)."""
    root, _ = made_once(tmp_path_factory, "test_damaged_runs", _make_suite)
    return root / "suite"


@pytest.fixture
def suite(made_suite, tmp_path, monkeypatch) -> Path:
    """A copy of the suite for one test to damage; its reports and papers drawn without figures."""
    skip_report_figures(monkeypatch)
    monkeypatch.chdir(tmp_path)  # the folders by relative path, as a user types them
    shutil.copytree(made_suite, tmp_path / "mc")
    return Path("mc")


def _seeds_of(page: str, row: str) -> str:
    """The N cell of ``row`` in report.html's table."""
    cells = re.search(rf'<tr data-run="{row}">(.*?)</tr>', page, re.S)[1]
    keys = re.findall(r'<th data-key="([^"]+)"', page)
    return dict(zip(keys, re.findall(r"<td[^>]*>(.*?)</td>", cells)))["seeds"]


def _notes(page: str) -> str:
    """The text of report.html's Notes section."""
    part = page[page.index("<h2>Notes</h2>") :]
    return one_line(unescape(re.sub(r"<[^>]+>", " ", part[: part.index("</ul>")])))


def _report_and_paper(capsys, folder: Path) -> tuple[str, str, str, str]:
    """(terminal, report.html, paper's texts.tex, paper's tables.md) of `vislab report` and `vislab paper`
    of ``folder``, both of which must succeed."""
    code, said = cli(capsys, "report", folder)
    assert code == 0, said
    code, paper_said = cli(capsys, "paper", folder, "--out", "pc")
    assert code == 0, paper_said
    texts = [Path("pc", name).read_text() for name in ("texts.tex", "tables.md")]
    return one_line(said + paper_said), (folder / "report.html").read_text(), *texts


def test_a_run_whose_summary_cannot_be_read_is_named_with_the_fix_that_repairs_it(suite, capsys):
    (suite / "mlp-s1" / "summary.json").write_text('{"status": "complete", "test_acc": \n')
    said, page, main_tex, tables_md = _report_and_paper(capsys, suite)
    named = "mlp-s1: left out of the tables and figures: 'mc/mlp-s1/summary.json' cannot be read"
    fix = "vislab train --resume mc/mlp-s1 (Python: vislab.train(out='mc/mlp-s1', resume=True))"
    assert said.count(f"warning: {named}") == 2 and fix in said  # report's, then paper's
    assert named in _notes(page) and fix in _notes(page)
    assert _seeds_of(page, "mlp") == "2" and _seeds_of(page, "majority") == "3"
    assert escape(named) in one_line(main_tex)
    assert "Not in these tables: mlp-s1, whose summary.json could not be read" in tables_md
    # the fix given repairs it: the row has its 3 seeds again, and nothing is said
    assert cli(capsys, "train", "--resume", "mc/mlp-s1")[0] == 0
    code, said = cli(capsys, "report", suite)
    page = (suite / "report.html").read_text()
    assert code == 0 and "warning" not in said and _seeds_of(page, "mlp") == "3"


def test_a_run_folder_whose_summary_is_no_json_object_is_noted_not_failed(suite, capsys):
    (suite / "mlp-s2" / "summary.json").write_text("[1, 2]\n")
    code, said = cli(capsys, "report", suite / "mlp-s2")
    page = (suite / "mlp-s2" / "report.html").read_text()
    assert (
        code == 0
        and "'mc/mlp-s2/summary.json' cannot be read (it holds a JSON list" in one_line(said)
    )
    assert "Failed or unfinished runs" not in page and "cannot be read" in _notes(page)
    code, said = cli(capsys, "paper", suite / "mlp-s2", "--out", "pc")
    assert code == 2 and "'mc/mlp-s2/summary.json' cannot be read" in one_line(said)


def test_a_metrics_line_that_cannot_be_read_is_a_note_naming_it(suite, capsys):
    metrics = suite / "mlp-s1" / "metrics.jsonl"
    metrics.write_text('{"epoch": 0, "train_lo\n' + metrics.read_text())
    said, page, main_tex, _ = _report_and_paper(capsys, suite)
    named = (
        "mlp-s1: its training curves are left out: 'mc/mlp-s1/metrics.jsonl' cannot be read "
        "(Unterminated string starting at: line 1 column 14). Resuming the run writes it again"
    )
    assert said.count(f"warning: {named}") == 2
    assert named in _notes(page)
    first, fix = named.split(". ")  # the paper's PDF: what is left out and why; the fix in notes.md
    assert escape(first) in one_line(main_tex) and fix not in main_tex
    assert named in one_line(Path("pc", "notes.md").read_text())
    assert _seeds_of(page, "mlp") == "3"  # the table still holds the run: only its curves are gone
    with pytest.raises(UserError, match="metrics.jsonl' cannot be read"):
        _ = Run(
            suite / "mlp-s1"
        ).history  # the Python API says the same (it raised JSONDecodeError)
    assert cli(capsys, "train", "--resume", "mc/mlp-s1")[0] == 0  # the fix given repairs it
    assert [r["epoch"] for r in RunDir(suite / "mlp-s1").read_metrics()] == [1]


def test_a_cut_last_metrics_line_is_left_out_as_resume_leaves_it(suite, capsys):
    """A writer killed mid-line leaves a cut last line: the rows before it are read (report, paper, the
    next epoch's append) and resuming rewrites the file, as for any interrupted run."""
    metrics = suite / "mlp-s1" / "metrics.jsonl"
    whole = metrics.read_text()
    metrics.write_text(whole + '{"epoch": 2, "train_lo\n')
    said, page, _, _ = _report_and_paper(capsys, suite)
    assert "warning" not in said and "metrics.jsonl" not in page
    assert RunDir(suite / "mlp-s1").read_metrics() == [json.loads(whole)]
    assert cli(capsys, "train", "--resume", "mc/mlp-s1")[0] == 0
    assert metrics.read_text() == whole
    # the next epoch's step rows go after the whole ones (train.log_every, on resume too)
    steps = suite / "mlp-s1" / "steps.jsonl"
    steps.write_text('{"step": 4, "epoch": 1, "loss": 2.0, "lr": 0.001}\n{"step": 8, "epo\n')
    RunDir(suite / "mlp-s1").append_rows("steps.jsonl", [dict(step=8, epoch=2)], after_epoch=1)
    assert [r["step"] for r in RunDir(suite / "mlp-s1").read_rows("steps.jsonl")] == [4, 8]


def test_a_config_that_cannot_be_read_is_a_note_in_report_and_paper(suite, capsys):
    (suite / "mlp-s2" / "config.yaml").write_text("model: {name: mlp\n")
    said, page, main_tex, _ = _report_and_paper(capsys, suite)
    named = (
        "mlp-s2: its settings and the figures needing its config are left out: Run config file "
        "'mc/mlp-s2/config.yaml' is not valid YAML"
    )
    fix = (
        "Resuming the run writes it again from its last checkpoint: vislab train --resume mc/mlp-s2"
    )
    assert said.count(f"warning: {named}") == 2 and fix in said
    assert named in _notes(page) and escape(named) in one_line(main_tex)
    assert _seeds_of(page, "mlp") == "3"
    assert cli(capsys, "train", "--resume", "mc/mlp-s2")[0] == 0  # the fix given repairs it
    assert yaml.safe_load((suite / "mlp-s2" / "config.yaml").read_text())["model"]["name"] == "mlp"


def test_a_suite_rerun_names_a_run_whose_config_cannot_be_read(suite, capsys, tmp_path):
    """It ended on yaml's ParserError and a traceback; now that run fails with the file and the fix."""
    spec = tmp_path / "suite.yaml"
    spec.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    (suite / "mlp-s2" / "config.yaml").write_text("model: {name: mlp\n")
    code, said = cli(capsys, "suite", spec, "--seeds", "3", "--out", suite, "-q", "--no-report")
    assert code == 1, said
    said = one_line(said)
    assert "mlp-s2: FAILED — Run config file 'mc/mlp-s2/config.yaml' is not valid YAML" in said
    assert "vislab train --resume mc/mlp-s2" in said and "mlp-s1: already complete" in said


def test_a_runs_python_view_names_the_file_it_cannot_read(suite):
    (suite / "mlp-s1" / "summary.json").write_text('{"status": "complete", "test_acc": \n')
    (suite / "mlp-s2" / "config.yaml").write_text("model: {name: mlp\n")
    run = Run(suite / "mlp-s1")
    with pytest.raises(UserError, match=r"mc/mlp-s1/summary.json' cannot be read"):
        _ = run.summary
    assert "summary.json&#x27; cannot be read" in run._repr_html_()  # the notebook view says it
    with pytest.raises(UserError, match=r"mc/mlp-s2/config.yaml' is not valid YAML"):
        _ = Run(suite / "mlp-s2").config


# ------------------------------------------------------------------ an --out that cannot be made
def _spec(tmp_path: Path) -> Path:
    spec = tmp_path / "my.yaml"
    spec.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    return spec


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_an_out_that_cannot_be_created_is_named_with_the_reason(tmp_path, capsys, train_spy):
    """/proc exists, but nothing can be made in it: the folder that cannot be created is named with
    the system's reason (the message named /proc "not writable (No such file or directory)")."""
    code, text = cli(capsys, "suite", _spec(tmp_path), "--out", "/proc/vislab-nope/suite", "-q")
    text = one_line(text)
    assert code == 2 and train_spy == [], text
    assert re.search(
        r"cannot create '/proc/vislab-nope' \([A-Z][a-z ]+\): the folder '/proc'", text
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_an_out_in_a_read_only_folder_names_the_folder_to_create(tmp_path, capsys, train_spy):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    code, text = cli(capsys, "suite", _spec(tmp_path), "--out", ro / "new", "-q")
    assert code == 2 and train_spy == []
    assert f"cannot create '{ro / 'new'}' (Permission denied)" in one_line(text)


# ------------------------------------------------------------------ NaN is written as null
def _strict(text: str):
    """``text`` parsed as strict JSON: NaN and Infinity, which are not JSON, raise."""

    def refuse(token):
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_nan_is_written_as_null_and_the_run_still_reports(trained, capsys, monkeypatch):
    skip_report_figures(monkeypatch)
    run = RunDir(trained)
    summary = run.read_summary()
    classes = list(summary.test_per_class)
    summary.test_per_class[classes[3]] = float("nan")  # a class with no test sample
    summary.val_per_class[classes[3]] = np.float32("nan")
    summary.test_loss = np.float64("inf")
    run.write_summary(summary)
    rows = run.read_metrics()
    rows[-1]["val_per_class"][3] = float("nan")
    run.write_metrics(rows)
    written = _strict((trained / "summary.json").read_text())
    assert written["test_per_class"][classes[3]] is None and written["test_loss"] is None
    assert written["val_per_class"][classes[3]] is None
    assert written["test_per_class"][classes[0]] == summary.test_per_class[classes[0]]
    [last] = [_strict(line) for line in (trained / "metrics.jsonl").read_text().splitlines()][-1:]
    assert last["val_per_class"][3] is None and math.isfinite(last["val_per_class"][0])
    assert Run(trained).summary["test_per_class"][classes[3]] is None
    page = build_report(trained).read_text()
    assert "cannot be read" not in page and 'data-run="run"' in page
    code, said = cli(capsys, "paper", trained, "--out", trained.parent / "paper")
    assert code == 0, said
