"""Comparison tables say what each run was — its model, seed and the settings the runs changed (a sweep:
its swept values) — and bold the best cells by the paper's rule: vislab.compare, a suite's results.csv /
results.md, and report.html."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import TINY_DIGITS, first_table, tiny_suite
from figures_skipped import skip_report_figures
from vislab.config import build_config
from vislab.errors import UserError
from vislab.experiments.results.table import COLUMNS
from vislab.experiments.results.texts import results_texts, write_tables
from vislab.experiments.sweeps.runner import run_sweep
from vislab.experiments.sweeps.spec import load_sweep
from vislab.report.build import build_report
from vislab.training.summary import RunSummary

FIGURES = [k for k, _ in COLUMNS[1:]]


@pytest.fixture(scope="module")
def two_lrs(tmp_path_factory) -> tuple[Path, Path]:
    """Two tiny MLP runs on the digits that differ in optim.lr (and in train.threads, which leaves results
    alone)."""
    root = tmp_path_factory.mktemp("two-lrs")
    a = vislab.train(out=root / "lr-0.01", optim__lr=0.01, **TINY_DIGITS)
    b = vislab.train(out=root / "lr-0.001", optim__lr=0.001, train__threads=1, **TINY_DIGITS)
    return a.path, b.path


def test_compare_says_each_runs_model_seed_and_the_setting_that_changed(two_lrs):
    a, b = two_lrs
    table = vislab.compare([a, b])
    assert list(table.columns) == ["run", "model", "seed", "optim.lr", "test_set", *FIGURES]
    assert table[["run", "model", "seed", "optim.lr"]].values.tolist() == [
        ["lr-0.01", "mlp", 0, 0.01],
        ["lr-0.001", "mlp", 0, 0.001],
    ]
    assert vislab.compare([a]).columns[:5].tolist() == [
        "run",
        "model",
        "seed",
        "test_set",
        "train_acc",
    ]


def test_compare_names_a_run_whose_config_cannot_be_read(two_lrs, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for name in ("summary.json", "config.yaml"):
        (broken / name).write_bytes((two_lrs[0] / name).read_bytes())
    (broken / "config.yaml").write_text("optim: {lr: [unclosed\n")
    with pytest.raises(UserError, match=r"broken/config\.yaml' is not valid YAML"):
        vislab.compare([two_lrs[0], broken])


def _write_suite(path: Path) -> Path:
    """The majority baseline and two MLPs, one with its learning rate raised, one lowered: a second of
    training each."""
    spec = tiny_suite(
        runs={
            "majority": {"model.name": "majority"},
            "mlp": {"optim.lr": 0.01},
            "mlp-slow": {"optim.lr": 0.0001},
        }
    )
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_suite_tables_have_a_column_per_changed_setting_and_bold_the_best(tmp_path, monkeypatch):
    out = tmp_path / "suite"
    vislab.run_suite(str(_write_suite(tmp_path / "s.yaml")), out=out, log=lambda _: None)
    rows = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    head = list(rows[0])
    assert head[:3] == ["run", "model", "seed"] and head[-len(FIGURES) :] == FIGURES
    changed, test_set = head[3 : -len(FIGURES) - 1], head[-len(FIGURES) - 1]
    assert test_set == "test_set" and {r["test_set"] for r in rows} == {"1"}  # one split, seed 0
    # the model column says model.name; the majority reads no optim.* or schedule.*: they do not
    # differ for it (only model.hidden, which one model family has and the other lacks)
    assert changed == ["model.hidden", "optim.lr"]
    assert [(r["run"], r["model"], r["optim.lr"]) for r in rows] == [
        ("majority", "majority", ""),  # a fitted baseline reads no optim.*: no value to compare
        ("mlp", "mlp", "0.01"),
        ("mlp-slow", "mlp", "0.0001"),
    ]
    md = (out / "results.md").read_text()
    assert "| run | model | seed | model.hidden | optim.lr | train ACC |" in md
    mlp_acc = float(rows[1]["test_acc"])
    assert mlp_acc > float(rows[0]["test_acc"])  # an MLP beats the majority class
    cells = _markdown_rows(md)
    assert cells["mlp"]["test ACC"] == f"**{mlp_acc:.4f}**"
    assert cells["majority"]["test ACC"] == f"{float(rows[0]['test_acc']):.4f}"
    for row in cells.values():  # the majority class "trains" in no time: times are never ranked
        assert "**" not in row["train time (s)"] + row["test time (s)"] + row["parameters"]
    assert "In bold, the best of vislab's runs" in md
    # tables alone: no run figures
    monkeypatch.setattr("vislab.report.build.run_sections", lambda *a: [])
    page = build_report(out).read_text()
    assert 'data-key="model"' in page and 'data-key="optim.lr"' in page
    assert f"<strong>{mlp_acc:.4f}</strong>" in page and 'id="bold-note"' in page
    # what the train ACC column is, as results.md says it under its table
    assert 'id="train-acc-note">Train ACC is the mean accuracy over the best epoch' in page
    assert "Train ACC is the mean accuracy over the best epoch" in md


def _markdown_rows(md: str) -> dict[str, dict[str, str]]:
    """results.md's table as run → {header: cell}."""
    lines = [ln.strip("|").split(" | ") for ln in first_table(md) if ln.startswith("| ")]
    heads = [h.strip() for h in lines[0]]
    return {c[0].strip(): dict(zip(heads, (x.strip() for x in c))) for c in lines[1:]}


def _seeded_runs(folder: Path, rows: dict[str, tuple[float, list[float]]]) -> None:
    """Finished runs ``<row>-s<i>`` (summary.json and config.yaml): each row's optim.lr, each seed its
    train.seed and test accuracy."""
    for row, (lr, accuracies) in rows.items():
        for i, acc in enumerate(accuracies):
            run = folder / f"{row}-s{i}"
            run.mkdir(parents=True)
            cfg = build_config({}, [f"optim.lr={lr}", f"train.seed={i}", "model.name=mlp"])
            (run / "config.yaml").write_text(cfg.to_yaml())
            summary = dict(status="complete", model="mlp", seed=i, test_acc=acc, data="digits")
            (run / "summary.json").write_text(json.dumps(summary))


SEEDED = {"slow": (0.001, [0.80, 0.81, 0.79]), "fast": (0.01, [0.90, 0.91, 0.92])}


def test_seeded_tables_bold_the_mean_never_the_std_and_seeds_are_no_setting(tmp_path):
    _seeded_runs(tmp_path, SEEDED)
    summaries = {
        p.name: RunSummary.from_json(json.loads((p / "summary.json").read_text()))
        for p in tmp_path.iterdir()
    }
    rows = {row: [f"{row}-s{i}" for i in range(3)] for row in SEEDED}
    write_tables(tmp_path, results_texts(tmp_path, summaries, rows=rows))
    md = (tmp_path / "results.md").read_text()
    assert "| run | N | model | optim.lr | train ACC |" in md  # no seed: a row's seeds differ
    assert "| fast | 3 | mlp | 0.01 |" in md and "| **0.9100** ± 0.0100 |" in md
    table = "".join(first_table(md))
    assert table.count("**") == 2 and "beyond the spread of the seeds" in md
    page = build_report(tmp_path).read_text()  # a folder of runs <row>-s<i>: the same table
    heads = re.findall(r'<th data-key="([^"]+)"', page)
    assert heads[:4] == ["run", "seeds", "model", "optim.lr"] and "train.seed" not in heads
    assert "<strong>0.9100</strong> ± 0.0100" in page and page.count("<strong>") == 1


def test_a_run_whose_config_is_unreadable_keeps_the_table_and_is_named(tmp_path):
    _seeded_runs(tmp_path, {"a": (0.001, [0.5]), "b": (0.01, [0.6]), "c": (0.1, [0.7])})
    (tmp_path / "c-s0" / "config.yaml").write_text("optim: [")
    summaries = {
        p.name: RunSummary.from_json(json.loads((p / "summary.json").read_text()))
        for p in tmp_path.iterdir()
    }
    write_tables(tmp_path, results_texts(tmp_path, dict(sorted(summaries.items()))))
    md = (tmp_path / "results.md").read_text()
    assert "| a-s0 | mlp | 0 | 0.001 |" in md and "| c-s0 | mlp | 0 | - |" in md
    assert "Settings not compared for c-s0" in md and "c-s0/config.yaml' is not valid YAML" in md


def test_a_sweeps_report_has_a_column_per_swept_value(tmp_path, monkeypatch):
    skip_report_figures(monkeypatch)  # the sweep's reports: their results table is what is read
    spec = {
        "name": "limits",
        "base": {
            "data": {"name": "digits"},
            "train": {"device": "cpu", "figures": False},
            "model": {"name": "majority"},
        },
        "space": {"data.limit": {"type": "int", "low": 100, "high": 300}},  # ≥ batch 64
        "metric": "val_pacc",
        "sampler": "random",
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    study = run_sweep(load_sweep(tmp_path / "s.yaml"), tmp_path / "sw", trials=2, log=lambda _: 0)
    # tables alone: no run figures
    monkeypatch.setattr("vislab.report.build.run_sections", lambda *a: [])
    page = build_report(tmp_path / "sw").read_text()
    table = page[page.index('<table class="sortable" id="results">') :]
    table = table[: table.index("</table>")]
    assert re.findall(r'<th data-key="([^"]+)"', table)[:4] == [
        "run",
        "model",
        "seed",
        "data.limit",
    ]
    for t in study.trials:
        assert (
            f'<tr data-run="trial-{t.number}"><td class="text" data-sort="trial-{t.number}">'
            in table
        )
        assert f'data-sort="{t.params["data.limit"]}">{t.params["data.limit"]}</td>' in table
