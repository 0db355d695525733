"""The comparison tables a course report copies: each run's per-class test accuracy (results.md, the
paper's tables.md and tables.tex), the per-epoch table's selection metric (val PACC, what best.pt is
chosen by), and rows of seeds that each gave one value every seed, told apart (bold, "exceeds the
spread") when their values differ."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import vislab
from conftest import TINY_DIGITS
from figures_skipped import skip_report_figures
from vislab.experiments.results.cells import best_row
from vislab.experiments.results.spread import Spread, verdict
from vislab.experiments.results.texts import results_texts
from vislab.training.summary import RunSummary


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished 2-epoch digits run (trained once for the module, never written to)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    vislab.train(out=out, **dict(TINY_DIGITS, train__epochs=2))
    return out


def _per_class(run: Path, values: dict) -> None:
    """Set the run's summary.json test_per_class to ``values``."""
    summary = json.loads((run / "summary.json").read_text())
    summary["test_per_class"] = values
    (run / "summary.json").write_text(json.dumps(summary))


@pytest.fixture
def runs(finished, tmp_path, monkeypatch) -> Path:
    """Folder ``runs`` of three copies of the run: ``a`` and ``b`` scored on classes cat and dog (b
    better on dog), ``odd`` on other classes."""
    skip_report_figures(monkeypatch)
    folder = tmp_path / "runs"
    for name, per_class in (
        ("a", {"cat": 0.5, "dog": 0.25}),
        ("b", {"cat": 0.5, "dog": 0.75}),
        ("odd", {"x": 1.0, "y": 0.0}),
    ):
        shutil.copytree(finished, folder / name)
        _per_class(folder / name, per_class)
    return folder


def _summaries(folder: Path) -> dict[str, RunSummary]:
    return {
        p.parent.name: RunSummary.from_json(json.loads(p.read_text()))
        for p in sorted(folder.glob("*/summary.json"))
    }


def test_results_md_has_a_per_class_table_of_the_runs_sharing_their_classes(runs):
    markdown = results_texts(runs, _summaries(runs), title="t")[1]
    table = markdown.split("## Per-class test accuracy")[1]
    assert "| run | cat | dog |" in table
    assert "| a | 0.5000 | 0.2500 |" in table
    assert "| b | 0.5000 | **0.7500** |" in table  # the best of a column in bold, a tie not
    assert "| odd |" not in table
    assert "Not in this table: odd, whose classes differ from the table's (cat and dog)" in table


def test_the_papers_tables_have_the_per_class_table(runs, tmp_path):
    vislab.paper(runs, out=tmp_path / "pp", figures=False, log=None)
    md = (tmp_path / "pp" / "tables.md").read_text()
    assert "**Table: Per-class test accuracy" in md and "| b | 0.5000 | **0.7500** |" in md
    tex = (tmp_path / "pp" / "tables.tex").read_text()
    assert "\\label{tab:per-class}" in tex
    assert "run & cat & dog \\\\" in tex and "b & 0.5000 & \\textbf{0.7500} \\\\" in tex
    assert "Not in this table: odd" in tex


def test_the_per_epoch_table_shows_the_metric_best_pt_is_chosen_by(runs, tmp_path):
    vislab.paper(runs, out=tmp_path / "pp", figures=False, log=None)
    tex = (tmp_path / "pp" / "tables" / "a_epochs.tex").read_text()
    assert "val ACC & val PACC & learning rate" in tex
    assert "(best.pt: the best val PACC, train.select\\_metric)" in tex
    history = [json.loads(line) for line in (runs / "a" / "metrics.jsonl").read_text().splitlines()]
    best = next(r for r in history if r["epoch"] == 2)
    assert f"\\textbf{{{best['val_pacc']:.4f}}} & \\textbf{{" in tex  # its bold row has the PACC


def test_rows_whose_seeds_all_gave_one_value_differ_beyond_the_spread():
    v = verdict("cnn", [1.0, 1.0], "majority", [0.1, 0.1])
    assert v.exceeds is True
    assert v.sentence() == (
        "cnn vs majority: +90.0 pt test ACC over 2 seeds: exceeds the spread (every seed of each row "
        "gave the same value: no spread at all)."
    )
    rows = [{"test_acc": Spread([0.1, 0.1])}, {"test_acc": Spread([1.0, 1.0])}]
    assert best_row(rows, "test_acc") == 1  # printed in bold
    same = verdict("a", [0.5, 0.5], "b", [0.5, 0.5])
    assert same.exceeds is None and "no spread to test" in same.sentence()


def _summary_set(run: Path, **values) -> None:
    """Set keys of the run's summary.json."""
    summary = json.loads((run / "summary.json").read_text())
    summary.update(values)
    (run / "summary.json").write_text(json.dumps(summary))


def test_runs_trained_by_other_process_counts_show_them(runs, tmp_path):
    _summary_set(runs / "b", world_size=2)  # vislab train --nproc 2, the same config
    markdown = results_texts(runs, _summaries(runs), title="t")[1]
    assert "| run | model | seed | processes | train ACC |" in markdown
    assert "| a | mlp | 0 | 1 |" in markdown and "| b | mlp | 0 | 2 |" in markdown
    vislab.paper(runs, out=tmp_path / "pp", figures=False, log=None)
    assert "run & model & seed & processes &" in (tmp_path / "pp" / "tables.tex").read_text()


def test_a_table_of_runs_of_one_process_count_has_no_processes_column(runs):
    markdown = results_texts(runs, _summaries(runs), title="t")[1]
    assert "processes" not in markdown


def test_a_run_that_trained_some_of_its_parameters_says_how_many(runs, tmp_path):
    summary = _summaries(runs)["b"]
    _summary_set(runs / "b", trainable_params=10)  # a head-only fine-tune
    said = (
        "the parameters column counts every parameter of the model; those its steps trained (the "
        f"rest frozen, as train.freeze does): b 10 of {summary.params:,}"
    )
    markdown = results_texts(runs, _summaries(runs), title="t")[1]
    assert f"\n{said[0].upper()}{said[1:]}.\n" in markdown
    vislab.paper(runs, out=tmp_path / "pp", figures=False, log=None)
    assert said in (tmp_path / "pp" / "tables.md").read_text()


OWN_NET = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes, input_shape, width=8, flag=False):
        super().__init__()
        c, h, w = input_shape
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, width), nn.ReLU())
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.body(x))
"""


@pytest.fixture(scope="module")
def own_runs(finished, tmp_path_factory) -> Path:
    """Folder of runs of a model in a file (own/net.py:Net, options ``width=8`` and ``flag=False`` by
    default): ``dflt`` leaves both unset, ``w4`` sets width 4, ``flagged`` flag true; and ``mlp``, the
    built-in model, which has neither option."""
    root = tmp_path_factory.mktemp("own")
    (root / "own").mkdir()
    (root / "own" / "net.py").write_text(OWN_NET)
    runs = root / "runs"
    name = str(root / "own" / "net.py") + ":Net"
    for run, options in (
        ("dflt", {}),
        ("w4", {"model__width": 4}),
        ("flagged", {"model__flag": True}),
    ):
        vislab.train(
            out=runs / run, **dict(TINY_DIGITS, train__epochs=1, model__name=name, **options)
        )
    shutil.copytree(finished, runs / "mlp")
    return runs


def test_a_model_in_a_file_shows_its_defaults_and_n_a_and_booleans_as_the_config_spells_them(
    own_runs,
):
    summaries = _summaries(own_runs)
    csv_text, markdown = results_texts(own_runs, summaries, title="t")
    assert (
        "| run | model | seed | model.flag | model.hidden | model.width | train.epochs |"
        in markdown
    )
    net = str(own_runs.parent / "own" / "net.py") + ":Net"
    # left unset: its signature's defaults
    assert f"| dflt | {net} | 0 | false | n/a | 8 | 1 |" in markdown
    assert f"| flagged | {net} | 0 | true | n/a | 8 | 1 |" in markdown
    assert f"| w4 | {net} | 0 | false | n/a | 4 | 1 |" in markdown
    assert "| mlp | mlp | 0 | n/a | [16] | n/a | 2 |" in markdown
    assert "mlp: model.flag, model.width; w4: model.hidden)." in markdown  # the n/a note
    assert "True" not in csv_text and "False" not in csv_text
    assert ",true,,8," in csv_text  # no model.hidden: an empty cell
