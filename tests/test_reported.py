"""The figures the courses' reports published, beside vislab's: the suite schema, the tables and the report;
the data each run actually used in titles; `vislab quickstart`'s report."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
import yaml

import vislab
import vislab.experiments.suites.quickstart as quickstart
from conftest import cli, one_line
from figures_skipped import skip_report_figures
from vislab.errors import ConfigError
from vislab.experiments.results.reported import FIGURES, mismatches
from vislab.experiments.results.table import COLUMNS
from vislab.experiments.results.texts import results_texts, write_tables
from vislab.experiments.suites.spec import builtin_suites, load_suite
from vislab.training.summary import RunSummary

REPORTED = {
    "sources": {
        "course-A": {
            "title": "Course X, group report A",
            "data": "CIFAR-10 test set, 10 epochs",
            "dataset": "cifar10",
        },
        "course-B": {"title": "Course X, group report B", "data": "CIFAR-10, read off Figure 2"},
    },
    "runs": {
        "majority": {
            "course-A": {"where": "Table 1", "test_acc": "0.1000", "train_time_s": "12.5"},
            "course-B": {"where": "Figure 2", "test_acc": "~0.09", "val_acc": "0.08-0.11"},
        }
    },
}


def write_suite(path: Path, reported: dict | None = REPORTED, **extra) -> Path:
    """A suite of two fitted baselines on digits (a second each): one with reported figures, one without."""
    spec = {
        "description": "Course X CIFAR-10 comparison",
        # no run figures: these tests read tables and reports
        "base": {"data": {"name": "cifar10"}, "train": {"device": "cpu", "figures": False}},
        "runs": {
            "majority": {"model.name": "majority"},
            "small": {"model.name": "majority", "data.limit": 300},
        },
        **({"reported": reported} if reported is not None else {}),
        **extra,
    }
    path.write_text(yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    return path


def test_every_builtin_suite_names_its_sources_and_figures_only_of_its_runs():
    assert set(FIGURES) <= {k for k, _ in COLUMNS}
    cited = 0
    for name in builtin_suites():
        suite = load_suite(name)  # validates the block: its runs exist, its sources are declared
        for by_source in (suite.reported.runs if suite.reported else {}).values():
            for src, figs in by_source.items():
                info = suite.reported.sources[src]
                # a course's report, or a paper with its venue and year
                course = re.match(r"^(DLVC assignment 1|RDFIA 1-[a-e]+)", info.title)
                paper = re.search(r"\((ICLR|ICML|NeurIPS|CVPR|ICCV|ECCV) \d{4}\)$", info.title)
                assert course or paper, info
                assert info.data and figs.where
                cited += 1
        # names users know: courses and practicals, never the reference files' numbers
        text = Path(suite.path).read_text()
        assert not re.search(r"\breports?\s+00\d|\b00[0-4]\s+(Q|§)", text, re.I), name
    assert cited > 20


def test_dlvc_compare_table_holds_the_suite_files_figures_on_the_data_used(tmp_path):
    """The table code with the real suite file: runs on another dataset keep the reported columns, and the
    title, data line and a note say what each side measured."""
    suite = load_suite("dlvc-compare")
    summary = dict(status="complete", data="fashion-mnist", n_train=54000, n_val=6000, n_test=10000)
    summaries = {
        "resnet18": RunSummary.from_json({**summary, "test_acc": 0.5, "val_acc": 0.4}),
        "resnet18-noaug": RunSummary.from_json({**summary, "test_acc": 0.45}),
    }
    write_tables(
        tmp_path,
        results_texts(tmp_path, summaries, title="suite dlvc-compare", reported=suite.reported),
    )
    rows = {
        r["run"]: r for r in csv.DictReader(io.StringIO((tmp_path / "results.csv").read_text()))
    }
    given = suite.reported.runs["resnet18"]["dlvc-B"]
    for key in ("val_acc", "val_pacc", "test_acc", "test_pacc", "train_time_s", "test_time_s"):
        assert rows["resnet18"][f"{key}_reported_dlvc-B"] == getattr(given, key)
        assert rows["resnet18-noaug"][f"{key}_reported_dlvc-B"] == ""  # the report gives none
    assert given.test_acc == "0.6305" and rows["resnet18"]["test_acc"] == "0.5"
    md = (tmp_path / "results.md").read_text()
    assert md.startswith("# suite dlvc-compare on fashion-mnist\n")
    assert "Data: fashion-mnist (54,000 train / 6,000 val / 10,000 test images)" in md
    assert "| test ACC | test ACC (reported, dlvc-B) |" in md and "| 0.5000 | 0.6305 |" in md
    assert "Test set unknown for resnet18" in one_line(md)  # summaries alone: not ranked in bold
    flat = one_line(md)
    assert "DLVC assignment 1, group report B" in flat and "Measured on: CIFAR-10" in flat
    assert "dlvc-B's figures were measured on cifar10; the runs here used fashion-mnist" in flat


def test_suite_run_shows_reported_columns_in_csv_markdown_console_and_report(
    tmp_path, capsys, monkeypatch
):
    skip_report_figures(monkeypatch)  # the report's texts are checked here, not its figures
    spec = write_suite(tmp_path / "x.yaml")
    out = tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "--data", "digits", "-q")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO((out / "results.csv").read_text())))
    assert [r["run"] for r in rows] == ["majority", "small"]
    assert [k for k in rows[0] if "reported" in k] == [
        "val_acc_reported_course-B",
        "test_acc_reported_course-A",
        "test_acc_reported_course-B",
        "train_time_s_reported_course-A",
    ]
    assert rows[0]["test_acc_reported_course-A"] == "0.1000"  # as printed, digits kept
    assert rows[0]["test_acc_reported_course-B"] == "≈0.09"  # '~' written as '≈'
    assert rows[0]["val_acc_reported_course-B"] == "0.08–0.11"
    assert rows[1]["test_acc_reported_course-A"] == ""  # blank where the report gives none
    # the console shows results.md: the title follows the data the runs used, not the suite's default
    assert "# suite x on digits" in text and "Data: digits" in text
    assert "test ACC (reported, course-A)" in text and "≈0.09" in text
    flat = one_line(text)
    assert (
        "course-A**: Course X, group report A. Measured on: CIFAR-10 test set, 10 epochs." in flat
    )
    assert "majority: Table 1." in flat and "majority: Figure 2." in flat
    assert "course-A's figures were measured on cifar10; the runs here used digits" in flat
    html = (out / "report.html").read_text()
    assert "<title>Suite x on digits</title>" in html and "CIFAR-10 comparison" in html
    assert 'id="data-used"' in html and "Data: digits" in html
    assert 'data-key="test_acc_reported_course-B"' in html and 'data-sort="0.09"' in html
    assert "Measured on:</i> CIFAR-10 test set, 10 epochs." in html
    assert "course-A&#39;s figures were measured on cifar10" in html
    # the Python API's table has the same columns (the finished runs are skipped, not retrained)
    res = vislab.run_suite(spec, out=out, data="digits", log=lambda _: None)
    assert list(res.table.columns) == list(rows[0])
    assert res.table["test_acc_reported_course-B"].fillna("").tolist() == ["≈0.09", ""]


def test_suite_without_reported_figures_keeps_the_plain_table(tmp_path, capsys, monkeypatch):
    skip_report_figures(monkeypatch)
    spec = write_suite(tmp_path / "plain.yaml", reported=None)
    code, text = cli(capsys, "suite", spec, "--out", tmp_path / "o", "--data", "digits", "-q")
    assert code == 0 and "(reported," not in text and "Reported figures" not in text
    with open(tmp_path / "o" / "results.csv") as f:
        assert next(csv.reader(f)) == [
            "run",
            "model",
            "seed",
            "data.limit",
            "test_set",
            *[k for k, _ in COLUMNS[1:]],
        ]


@pytest.mark.parametrize(
    "change, fragment",
    [
        (
            lambda r: r["runs"]["majority"]["course-A"].update(tset_acc="0.1"),
            "unknown suite key 'reported.runs.majority.course-A.tset_acc'. Did you mean "
            "'reported.runs.majority.course-A.test_acc'?",
        ),
        (
            lambda r: r["runs"]["majority"]["course-A"].update(test_acc="80%"),
            "'reported.runs.majority.course-A.test_acc' = '80%' is invalid: a reported figure is a number",
        ),
        (
            lambda r: r["runs"]["majority"]["course-A"].update(test_acc="80"),
            "test_acc 80 is above 1: write accuracies as fractions",
        ),
        (
            lambda r: r["runs"]["majority"]["course-A"].pop("where"),
            "'reported.runs.majority.course-A.where' is missing: table, figure or question",
        ),
        (
            lambda r: r["runs"].update(nope={"course-A": {"where": "Table 1"}}),
            "figures reported for unknown runs ['nope'] (runs: majority, small)",
        ),
        (
            lambda r: r["runs"]["majority"].update(other={"where": "Table 9"}),
            "run 'majority' cites ['other'], not under reported.sources",
        ),
        (
            lambda r: r["sources"]["course-A"].pop("data"),
            "'reported.sources.course-A.data' is missing: on which data its figures were measured",
        ),
    ],
)
def test_a_wrong_reported_block_is_a_clear_error_before_training(
    tmp_path, capsys, change, fragment
):
    reported = json.loads(json.dumps(REPORTED))
    change(reported)
    spec = write_suite(tmp_path / "bad.yaml", reported=reported)
    with pytest.raises(ConfigError) as e:
        load_suite(spec)
    assert fragment in one_line(str(e.value)) and str(spec) in str(e.value)
    code, text = cli(capsys, "suite", spec, "--out", tmp_path / "o", "--data", "digits", "-q")
    assert code == 2 and fragment in one_line(text) and not (tmp_path / "o").exists()


def test_quickstart_writes_report_and_says_where(tmp_path, capsys, monkeypatch):
    """The wiring of `vislab quickstart` (the real suite: tests/test_cli.py), on a suite of baselines."""
    skip_report_figures(monkeypatch)  # the report is checked by its texts
    tiny = write_suite(tmp_path / "quickstart.yaml", reported=None)
    spec = yaml.safe_load(tiny.read_text())
    spec["base"]["data"] = {"name": "digits"}
    tiny.write_text(yaml.safe_dump(spec))
    monkeypatch.setattr(quickstart, "load_suite", lambda name: load_suite(tiny))
    out = tmp_path / "qs"
    code, text = cli(capsys, "quickstart", "--out", out, "--quiet")
    assert code == 0
    assert (out / "results.md").is_file() and (out / "suite.json").is_file()
    html = (out / "report.html").read_text()
    assert "<title>Suite quickstart on digits</title>" in html and 'data-run="small"' in html
    assert f"report: {out / 'report.html'}" in text
    assert "quickstart on digits" in text and "test PACC" in text
    # again: nothing is retrained, the report is rewritten
    code, text = cli(capsys, "quickstart", "--out", out, "--quiet")
    assert code == 0 and "already complete, skipped" in text and "report:" in text


def test_a_run_may_cite_another_dataset_than_its_source():
    """mlp-basics: report A's figures are on circles, its MNIST run's on MNIST; a note only on a real mismatch."""
    reported = load_suite("mlp-basics").reported
    on = {"default": RunSummary(data="circles"), "mnist": RunSummary(data="mnist")}
    assert mismatches(reported, on) == []
    [note] = mismatches(reported, {**on, "mnist": RunSummary(data="fashion-mnist")})
    assert note.startswith(
        "rdfia-A's figures were measured on mnist; the runs here used fashion-mnist"
    )
