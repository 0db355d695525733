"""Tables for people stay readable: when more than ``MAX_COLUMNS`` settings differ between the runs,
results.md, report.html and the paper keep run/model/seed and the figures, and list under the table each
row's ``key=value`` for the keys it has (never '-'); few settings stay columns, the paper's tables included.
results.csv and ``vislab.compare`` keep a column per setting. Bold ranks runs of one dataset only, and
the data line calls the circles' samples points."""

import csv
import json
import re
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import tiny_suite
from figures_skipped import skip_report_figures
from vislab.config import build_config
from vislab.experiments.results.data_used import data_line
from vislab.experiments.results.for_people import LISTED, MAX_COLUMNS
from vislab.experiments.results.texts import results_texts, write_tables
from vislab.paper_folder import build as paper_build
from vislab.paper_folder.build import write_paper
from vislab.report.build import build_report
from vislab.training.summary import RunSummary

SUITE = tiny_suite(  # an MLP and a CNN: each model family's own settings (no model.hidden for the CNN), an lr
    runs={
        "mlp": {"optim.lr": 0.01},
        "cnn": {"model.name": "cnn", "model.widths": [4], "model.fc": [8], "model.dropout": 0.1},
    },
)


@pytest.fixture(scope="module")
def families(tmp_path_factory) -> Path:
    """The tiny suite's folder (results.csv, results.md and the two runs), trained once."""
    root = tmp_path_factory.mktemp("families")
    (root / "s.yaml").write_text(yaml.safe_dump(SUITE, sort_keys=False))
    out = root / "suite"
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp)  # its report's figures: no test here reads them
        vislab.run_suite(str(root / "s.yaml"), out=out, log=lambda _: None)
    return out


@pytest.fixture(autouse=True)
def _no_figures(monkeypatch):
    """The reports and papers built here draw no figure: the tests read their tables and texts."""
    skip_report_figures(monkeypatch)


def listed_lines(md: str) -> dict[str, str]:
    """The "Settings each run changed" list under a Markdown table: row → its line."""
    after = md[md.index(f"**{LISTED}**") :]
    return dict(re.findall(r"^- \*\*(.+?)\*\*: (.*)$", after, re.M))


def test_many_settings_are_listed_under_the_table_each_row_its_own_keys(families):
    md = (families / "results.md").read_text()
    assert "| run | model | seed | train ACC |" in md  # no setting column: too many differ
    lines = listed_lines(md)
    assert list(lines) == ["mlp", "cnn"]
    assert "model.hidden=[16]" in lines["mlp"] and "optim.lr=0.01" in lines["mlp"]
    assert "model.widths=[4]" in lines["cnn"] and "model.fc=[8]" in lines["cnn"]
    assert "model.widths" not in lines["mlp"] and "model.hidden" not in lines["cnn"]
    for line in lines.values():  # key=value only for the keys a row has, in sorted order
        pairs = re.split(r", (?=[a-z_]+\.)", line)  # a list value keeps its commas
        assert all("=" in p and not p.endswith("=-") for p in pairs), line
        keys = [p.split("=")[0] for p in pairs]
        assert keys == sorted(keys)
    assert f"more than {MAX_COLUMNS} settings differ" in md
    head = next(csv.reader((families / "results.csv").open()))  # the CSV keeps every column
    assert {"model.hidden", "model.widths", "model.fc", "optim.lr"} <= set(head)


def test_the_report_lists_them_under_its_table_and_compare_keeps_the_columns(families, monkeypatch):
    # tables alone: no run figures
    monkeypatch.setattr("vislab.report.build.run_sections", lambda *a: [])
    page = build_report(families).read_text()
    table = page[page.index('id="results"') : page.index("</table>")]
    assert re.findall(r'<th data-key="([^"]+)"', table)[:4] == ["run", "model", "seed", "train_acc"]
    listed = page[page.index('id="settings-changed"') :]
    listed = listed[: listed.index("</table>")]
    assert re.search(
        r"<td class=\"text\">cnn</td><td class=\"text\">[^<]*model\.widths=\[4\]", listed
    )
    assert ">-<" not in listed and "=-" not in listed
    table = vislab.compare([families / "mlp", families / "cnn"])
    assert {"model.hidden", "model.widths", "optim.lr"} <= set(table.columns)
    assert table.set_index("run")["model.widths"].isna()["mlp"]  # an MLP has no widths: empty, NaN


def test_the_paper_says_how_the_runs_differ(families, tmp_path, monkeypatch):
    monkeypatch.setattr(paper_build, "draw_sections", lambda *a: None)  # its tables alone
    write_paper([families], out=tmp_path / "paper")
    md = (tmp_path / "paper" / "tables.md").read_text()
    lines = listed_lines(md)
    assert "model.widths=[4]" in lines["cnn"] and "optim.lr=0.01" in lines["mlp"]
    assert md.index(f"**{LISTED}**") < md.index("**Table: Training")  # under the first table
    assert "| run | model | seed | val ACC |" in md  # the first table: what each run was
    tex = (tmp_path / "paper" / "tables.tex").read_text()
    assert "run & model & seed & val ACC" in tex and "\\label{tab:settings}" in tex
    assert re.search(r"\ncnn & \\parbox\S* ?\{\\raggedright [^}]*model\.widths=\[4\]", tex)
    assert re.search(r"\nmlp & .*optim\.lr=0\.01\} \\\\\n", tex)  # main.tex compiles: test_paper


# ------------------------------------------------------------------ run folders faked: no training
def fake_run(folder: Path, data: str, test_acc: float, *sets: str) -> Path:
    """A finished run's folder (config.yaml and summary.json) on ``data``, its ``sets`` in its config."""
    folder.mkdir(parents=True)
    cfg = build_config({}, [f"data.name={data}", "model.name=mlp", *sets])
    (folder / "config.yaml").write_text(cfg.to_yaml())
    sizes = dict(n_train=600, n_val=150, n_test=300)
    summary = dict(status="complete", model="mlp", seed=0, data=data, test_acc=test_acc, **sizes)
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def summaries_of(folders: list[Path]) -> dict[str, RunSummary]:
    return {
        p.name: RunSummary.from_json(json.loads((p / "summary.json").read_text())) for p in folders
    }


def test_few_settings_stay_columns_in_results_md_and_the_paper(tmp_path):
    """The user-tester's runs cnn and cnn_lrf differed in optim.lr: the paper now says so."""
    runs = [
        fake_run(tmp_path / "cnn", "digits", 0.80, "optim.lr=0.001"),
        fake_run(tmp_path / "cnn_lrf", "digits", 0.90, "optim.lr=0.01"),
    ]
    write_tables(tmp_path, results_texts(tmp_path, summaries_of(runs)))
    md = (tmp_path / "results.md").read_text()
    assert "| run | model | seed | optim.lr | train ACC |" in md and LISTED not in md
    write_paper(runs, out=tmp_path / "paper")
    tables = (tmp_path / "paper" / "tables.md").read_text()
    assert "| run | model | seed | optim.lr | test ACC |" in tables and LISTED not in tables
    assert "| cnn_lrf | mlp | 0 | 0.01 |" in tables
    tex = (tmp_path / "paper" / "tables.tex").read_text()
    assert "run & model & seed & optim.lr & test ACC" in tex and "cnn\\_lrf & mlp & 0 & 0.01" in tex
    assert "\\begin{tabular}{llll" in tex  # what each run was: left-aligned text


def test_swept_values_past_the_threshold_are_listed_too(tmp_path):
    params = {  # five swept keys: a list, like any table of as many settings
        f"trial-{i}": {"optim.lr": 0.1 / (i + 1), "optim.weight_decay": 0.0, "model.hidden": [8 * i],
                       "train.epochs": i + 1, "train.batch_size": 32 * (i + 1)}
        for i in range(2)
    }  # fmt: skip
    runs = [fake_run(tmp_path / n, "digits", 0.5 + i / 10) for i, n in enumerate(params)]
    write_tables(tmp_path, results_texts(tmp_path, summaries_of(runs), params=params))
    md = (tmp_path / "results.md").read_text()
    assert "| run | model | seed | train ACC |" in md  # a sweep's trials are runs too: model, seed
    assert listed_lines(md)["trial-1"] == (
        "model.hidden=[8], optim.lr=0.05, optim.weight_decay=0, train.batch_size=64, train.epochs=2"
    )
    assert "optim.weight_decay" in next(csv.reader((tmp_path / "results.csv").open()))


def test_bold_ranks_runs_of_one_dataset_never_circles_against_digits(tmp_path):
    runs = [
        fake_run(tmp_path / "digits-a", "digits", 0.30),
        fake_run(tmp_path / "digits-b", "digits", 0.40),
        fake_run(tmp_path / "circles", "circles", 0.90),  # easier data: no "best" over the digits
    ]
    write_tables(tmp_path, results_texts(tmp_path, summaries_of(runs)))
    md = (tmp_path / "results.md").read_text()
    assert "| **0.4000** |" in md and "**0.9000**" not in md
    assert "the best of vislab's runs on each dataset" in md
    page = build_report(tmp_path).read_text()
    assert "<strong>0.4000</strong>" in page and "<strong>0.9000</strong>" not in page
    write_paper(runs, out=tmp_path / "paper")
    tables = (tmp_path / "paper" / "tables.md").read_text()
    assert "| **0.4000** |" in tables and "**0.9000**" not in tables
    assert "on each dataset" in tables
    tex = (tmp_path / "paper" / "tables.tex").read_text()
    assert "\\textbf{0.4000}" in tex and "\\textbf{0.9000}" not in tex


def test_the_circles_are_points_not_images(tmp_path):
    circles = {"c": RunSummary(data="circles", n_train=800, n_val=200, n_test=1000)}
    assert data_line(circles) == "Data: circles (800 train / 200 val / 1,000 test points)."
    digits = {"d": RunSummary(data="digits", n_train=1, n_val=1, n_test=1)}
    assert "images)" in data_line(digits)
    runs = [fake_run(tmp_path / "c1", "circles", 0.8), fake_run(tmp_path / "c2", "circles", 0.9)]
    write_paper(runs, out=tmp_path / "paper")
    for name in ("tables.md", "texts.tex"):  # tables.tex points to texts.tex for the data
        text = (tmp_path / "paper" / name).read_text()
        assert "600 train / 150 val / 300 test points" in text and "images" not in text, name
