"""Session 27, mends T2: a run stopped while its figures were drawn, its scores written, is in every table
of a plain folder (vislab compare, the report's and the paper's), its missing figures said once, not
among the failures; the code column names each version by a sha its runs record, the same whatever
runs a table holds; captum's "IProgress not found" warning stays hidden by vislab's one filter."""

import json
from pathlib import Path

import pytest

import vislab
from conftest import one_line, table_run
from notebook_cells import notebook_stderr
from vislab.errors import Note
from vislab.experiments.results.columns_code import code_note, code_values
from vislab.report.plan import plan_report, plan_runs
from vislab.training.summary import RunSummary

NOT_DRAWN = ["confusion_test.png", "per_class.png"]
CUT_SHORT = "b: in the table, but not finished (status interrupted; its scores are kept"


@pytest.fixture
def runs(tmp_path) -> Path:
    """A finished run ``a`` and a run ``b`` stopped while its figures were drawn, in a plain folder."""
    folder = tmp_path / "runs"
    folder.mkdir()
    table_run(folder, "a")
    b = table_run(folder, "b", "optim.lr=0.01")
    summary = json.loads((b / "summary.json").read_text())
    summary |= dict(status="interrupted", figures_missing=NOT_DRAWN)
    (b / "summary.json").write_text(json.dumps(summary))
    return folder


def test_compare_report_and_paper_table_a_run_whose_figures_were_cut_short(runs):
    with pytest.warns(Note, match="b: in the table, but not finished"):
        assert list(vislab.compare(runs)["run"]) == ["a", "b"]
    report = plan_report(runs, log=lambda _: None)
    paper = plan_runs({"a": runs / "a", "b": runs / "b"}, runs / "paper")  # vislab paper RUN_DIR...
    for plan in (report, paper):
        assert list(plan.table) == ["a", "b"]
        assert plan.failures == {}  # said once: in the notes, not as a failure too
        said = one_line(" ".join(plan.notes))
        assert said.count(CUT_SHORT) == 1, said
        assert "confusion_test.png, per_class.png" in said
        assert "resuming the run draws them: vislab train --resume" in said


def test_a_run_stopped_before_its_scores_is_still_a_failure(runs):
    summary = json.loads((runs / "b" / "summary.json").read_text())
    del summary["figures_missing"]
    (runs / "b" / "summary.json").write_text(json.dumps(summary))
    plan = plan_report(runs, log=lambda _: None)
    assert list(plan.table) == ["a"] and list(plan.failures) == ["b"]
    assert not plan.notes


# ------------------------------------------------------------ the code column's names
OLD = {"source_sha256": "ab" * 32}  # a run before vislab recorded code_sha256
NEW = {"source_sha256": "ab" * 32, "code_sha256": "cd" * 32}  # the same source, recorded since
NEW2 = {"source_sha256": "99" * 32, "code_sha256": "cd" * 32}  # NEW with a comment added
OTHER = {"source_sha256": "ef" * 32, "code_sha256": "1234567" + "0" * 57}
CODES = {"old": OLD, "new": NEW, "new2": NEW2, "other": OTHER}


def _cells(*names: str) -> dict[str, str]:
    """Each run's code cell in a table of ``names`` (each its own row)."""
    summaries = {
        n: RunSummary.from_json(dict(status="complete", model="mlp", model_code=CODES[n]))
        for n in names
    }
    return {
        row: cells["code"] for row, cells in code_values(summaries, {n: [n] for n in names}).items()
    }


def test_each_version_is_named_by_a_sha_its_runs_record_whatever_runs_are_tabled():
    every = _cells("old", "new", "new2", "other")
    assert every == dict(
        old="sha:cdcdcdc", new="sha:cdcdcdc", new2="sha:cdcdcdc", other="sha:1234567"
    )
    assert _cells("new2", "other") == dict(new2="sha:cdcdcdc", other="sha:1234567")
    assert _cells("other", "new2", "new", "old") == every  # another order: the same names
    assert _cells("old", "other")["old"] == "sha:abababa"  # recorded no code_sha256: its source's


def test_the_code_note_says_which_sha_names_a_version():
    values = {
        "a": {"model": "mlp", "code": "sha:cdcdcdc"},
        "b": {"model": "mlp", "code": "sha:1234567"},
    }
    said = code_note(values, ["model", "code"])
    assert "the smallest code_sha256 of them" in said and "the smallest source_sha256" in said
    assert "first run" not in said


# ------------------------------------------------------------ captum's tqdm warning
SALIENCY = """
import torch
from vislab.explain_maps import _gradient_map
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
_gradient_map(model, torch.zeros(1, 1, 2, 2), "saliency", torch.tensor([0]), "m")
assert "captum" in sys.modules
"""


def test_explain_in_a_notebook_without_ipywidgets_prints_no_tqdm_warning(tmp_path):
    assert "IProgress not found" in notebook_stderr(
        tmp_path, "import captum.attr"
    )  # what a notebook shows
    assert "IProgress" not in notebook_stderr(tmp_path, f"import vislab\n{SALIENCY}")
