"""A finished run whose metrics.jsonl is missing or empty, or whose config.yaml is missing, is named —
the file, what is left out, the fix — by `vislab report`, `vislab paper`, `vislab compare` and
``Run.plot("curves")`` (before: report and paper left the run's curves, per-epoch table and settings out
without a word, compare said nothing of metrics.jsonl, and Run.plot said the run had no rows "yet")."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from html import unescape
from pathlib import Path

import pytest

import vislab
from conftest import TINY_DIGITS, cli, one_line
from figures_skipped import skip_report_figures
from vislab.errors import Note, UserError
from vislab.paper_folder.latex import escape

DAMAGED = ("empty", "nomet", "nocfg")


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished 2-epoch digits run (trained once for the module, never written to)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    vislab.train(out=out, **dict(TINY_DIGITS, train__epochs=2))
    return out


@pytest.fixture
def runs(finished, tmp_path, monkeypatch) -> Path:
    """Folder ``rs2`` (relative, as a user types it) of five copies of the run: ``a`` and ``b`` whole,
    ``empty`` with an empty metrics.jsonl, ``nomet`` without it, ``nocfg`` without its config.yaml."""
    skip_report_figures(monkeypatch)
    monkeypatch.chdir(tmp_path)
    for name in ("a", "b", *DAMAGED):
        shutil.copytree(finished, Path("rs2", name))
    Path("rs2/empty/metrics.jsonl").write_text("")
    Path("rs2/nomet/metrics.jsonl").unlink()
    Path("rs2/nocfg/config.yaml").unlink()
    return Path("rs2")


def _lost(run: str, state: str) -> str:
    return (
        f"'rs2/{run}/metrics.jsonl' is {state}, though summary.json says the run is complete "
        f"(2 epochs): its per-epoch rows are lost"
    )


def _fix(run: str) -> str:
    return f"vislab train --resume rs2/{run} (Python: vislab.train(out='rs2/{run}', resume=True))"


NO_CONFIG = "'rs2/nocfg/config.yaml' is missing: the run's settings are unknown"


def _notes(page: str) -> str:
    """The text of report.html's Notes section."""
    part = page[page.index("<h2>Notes</h2>") :]
    return one_line(unescape(re.sub(r"<[^>]+>", " ", part[: part.index("</ul>")])))


def test_the_report_names_each_damaged_file_and_the_fix_repairs_it(runs, capsys):
    code, said = cli(capsys, "report", runs)
    assert code == 0, said
    said, notes = one_line(said), _notes((runs / "report.html").read_text())
    for text in (said, notes):
        assert f"empty: {_lost('empty', 'empty')}" in text and _fix("empty") in text
        assert f"nomet: {_lost('nomet', 'missing')}" in text and _fix("nomet") in text
        assert (
            f"nocfg: its settings and the figures needing its config are left out: {NO_CONFIG}"
            in text
        )
        assert _fix("nocfg") in text
    assert said.count("warning: ") == 3
    for name in DAMAGED:  # the fix given writes the files again: nothing is said
        assert cli(capsys, "train", "--resume", runs / name)[0] == 0
    code, said = cli(capsys, "report", runs)
    assert code == 0 and "warning" not in said and "note" not in said, said


def test_the_paper_names_each_damaged_file(runs, capsys):
    code, said = cli(capsys, "paper", runs, "--out", "pp")
    assert code == 0, said
    said, texts = one_line(said), one_line(Path("pp/texts.tex").read_text())
    for note in (_lost("empty", "empty"), _lost("nomet", "missing"), NO_CONFIG):
        assert f"warning: {note.split('/')[1]}: " in said and note in said
        assert escape(note) in texts
    epoch_tables = sorted(p.name for p in Path("pp/tables").glob("*_epochs.tex"))
    assert epoch_tables == ["a_epochs.tex", "b_epochs.tex", "nocfg_epochs.tex"]


def test_compare_names_the_missing_and_empty_metrics(runs, capsys):
    code, said = cli(capsys, "compare", runs)
    assert code == 0, said
    said = one_line(said)
    assert f"note: {_lost('empty', 'empty')}" in said and _fix("empty") in said
    assert f"note: {_lost('nomet', 'missing')}" in said and _fix("nomet") in said
    assert NO_CONFIG in said  # under the table, as before
    for name in ("a", "b", *DAMAGED):  # each run keeps its row: summary.json holds its scores
        assert f"| {name} |" in said


def _noted(read) -> list[str]:
    """The Notes warned while ``read()`` runs."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        read()
    return [str(w.message) for w in seen if issubclass(w.category, Note)]


def test_run_plot_says_the_rows_are_lost_not_yet_to_come(runs):
    """A finished run: the file, the rows lost, the fix (Run.history warns the same); a run in progress
    keeps its message."""
    for name, state in (("empty", "empty"), ("nomet", "missing")):
        with pytest.raises(UserError) as e:
            vislab.load_run(runs / name).plot("curves")
        said = one_line(str(e.value))
        assert _lost(name, state) in said and _fix(name) in said and "yet" not in said
        run = vislab.load_run(runs / name)
        assert [_lost(name, state) in n for n in _noted(lambda r=run: r.history)] == [True]
    # a run stopped after epoch 1 says how far it ran
    (runs / "nomet" / "summary.json").write_text(
        json.dumps({"status": "interrupted", "epochs_run": 1})
    )
    with pytest.raises(
        UserError, match="summary.json says the run ran 1 epoch: its per-epoch rows are lost"
    ):
        vislab.load_run(runs / "nomet").plot("curves")
    # a run in progress (no summary.json), or stopped before its first epoch: nothing was written, nothing
    # is lost — the message stays "no rows yet", and no note is warned
    run = runs / "empty"
    for summary in (None, {"status": "interrupted", "epochs_run": 0}):
        (run / "summary.json").unlink(missing_ok=True)
        if summary is not None:
            (run / "summary.json").write_text(json.dumps(summary))
        with pytest.raises(UserError, match=r"has no metrics.jsonl rows yet: nothing to plot"):
            vislab.load_run(run).plot("curves")
        assert _noted(lambda: vislab.load_run(run).history) == []


def test_load_run_of_a_run_without_its_config_names_the_resume(runs):
    """A folder holding a run's checkpoints but no config.yaml is that run, its config lost: load_run says
    so and how to write it again (it said "not a vislab run directory"); a folder of nothing stays refused."""
    with pytest.raises(UserError) as e:
        vislab.load_run(runs / "nocfg")
    said = one_line(str(e.value))
    assert (
        f"'{runs / 'nocfg' / 'config.yaml'}' is missing" in said
        and f"--resume {runs / 'nocfg'}" in said
    )
    (runs / "bare").mkdir()
    with pytest.raises(UserError, match="is not a vislab run directory"):
        vislab.load_run(runs / "bare")
