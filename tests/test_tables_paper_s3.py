"""What a user-tester found in the tables, the paper and two commands: the mistakes gallery laid out anew at
a page's width (no text overlapping or cut off), a fitted baseline without epochs in a seeded table, the
data commands' option help, the paper's seed-0 model figures named as such, a verdict that names a
missing seed run and how to get it back, and the like-for-like caveat under the paper's tables."""

import csv
import html
import json
import re

import numpy as np
import pytest
import yaml

from conftest import cli, one_line, tiny_config
from test_figure_layout import outside, overlapping, text_boxes
from vislab.data.sources.idx import FASHION_MNIST
from vislab.experiments.records import SuiteInfo
from vislab.experiments.results.spread import verdict
from vislab.experiments.results.table import seed_rows, table_rows
from vislab.experiments.results.texts import results_texts, write_tables
from vislab.experiments.suites.runner import SuiteState, write_results
from vislab.experiments.suites.spec import load_suite, with_seeds
from vislab.paper_folder.build import write_paper
from vislab.paper_folder.latex import escape
from vislab.plotting.mistake_picks import Mistake
from vislab.plotting.mistakes import mistakes_figure
from vislab.plotting.style import COLUMN_IN, MIN_PT, PAGE_IN, fit_to_page, page_style, page_width
from vislab.report.build import build_report, plan_report
from vislab.report.figure_set import FigureSet
from vislab.report.model_figures import model_figures
from vislab.report.run_sections import run_labels
from vislab.training.summary import RunSummary
from vislab.training.trainer import train

VEHICLES = ["automobile", "airplane", "truck"]


# ------------------------------------------------------------------ the mistakes gallery on a page
def vehicle_gallery(n: int, names: list[str]):
    """``n`` mistakes of an image folder (file names like automobile_photo_0015.png), each class taken
    for the next one, the pairs of the user-tester's run."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)
    k = len(names)
    wrong = [
        Mistake(i, i % k, (i + 1) % k, 0.63 - i / 100, f"test/{names[i % k]}/x_{i:04d}.png")
        for i in range(n)
    ]
    pairs = [(i % k, (i + 1) % k, 10 - i) for i in range(min(5, k))]
    return mistakes_figure(images, wrong, pairs, names, title="c1, test")


@pytest.mark.parametrize("n", [2, 16])
@pytest.mark.parametrize(
    "names", [VEHICLES, list(FASHION_MNIST.class_names)], ids=["cars", "fashion"]
)
def test_the_gallery_sized_for_a_page_keeps_every_text_apart_and_on_it(n, names):
    with page_style():
        fig = vehicle_gallery(n, names)
        width = page_width(fig)  # what the paper picks: the text width for a row of 8 images
        assert width == (PAGE_IN if n == 16 else COLUMN_IN)
        for w in {width, PAGE_IN}:
            fit_to_page(fig, w)
            boxes = text_boxes(fig)
            assert fig.get_figwidth() == pytest.approx(w)
            assert overlapping(boxes) == []
            assert outside(fig, boxes) == []  # "airplane → automobile" not cut at the left edge
            assert sum("p=" in s for s, _ in boxes) == n  # every image still has its title
            assert min(t.get_fontsize() for t in fig.texts) >= MIN_PT


def test_the_gallery_at_its_own_size_is_unchanged_by_a_page():
    fig = vehicle_gallery(16, VEHICLES)
    assert fig.get_figwidth() == pytest.approx(
        8 * 1.3
    )  # eight images a row, as vislab eval saves it
    fit_to_page(fig, PAGE_IN)
    rows = {round(t.get_position()[1], 3) for t in fig.texts if "p=" in t.get_text()}
    assert len(rows) == 3  # 16 images in rows of 6 at 6.9 in (2 rows of 8 at its own 10.4 in)


# ------------------------------------------------------------------ a seeded suite's folder, faked
def seeded_folder(tmp_path, reported: dict | None = None, seeds: int = 2):
    """A seeded suite's folder as `vislab suite --seeds` leaves it (suite.json by the runner's own state,
    a summary.json per run): majority (fitted once), mlp and cnn on digits."""
    spec = {
        "runs": {"majority": {"model.name": "majority"}, "mlp": {}, "cnn": {"model.name": "cnn"}}
    }
    if reported:
        spec["reported"] = reported
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    out = tmp_path / "out"
    out.mkdir()
    suite = with_seeds(load_suite(path), seeds)
    SuiteState(out, suite, []).save()
    acc = {"majority": 0.1, "mlp": 0.8, "cnn": 0.9}
    for name, row in suite.run_names().items():
        seed = int(name.rsplit("-s", 1)[1])
        summary = {
            "status": "complete",
            "model": row,
            "data": "digits",
            "test_acc": acc[row] + seed / 100,
            "epochs_run": 1 if row == "majority" else 3,
            "best_epoch": 1 if row == "majority" else 2,
        }
        if row == "majority":
            summary["trained_by"] = "fit_arrays"
        (out / name).mkdir()
        (out / name / "summary.json").write_text(json.dumps(summary))
    return out, suite.rows()


def summaries_of(out) -> dict[str, RunSummary]:
    return {
        p.name: RunSummary.from_json(json.loads((p / "summary.json").read_text()))
        for p in sorted(out.iterdir())
        if (p / "summary.json").is_file()
    }


# ------------------------------------------------ a fitted baseline's epochs: its one fit, as summary.json
def test_a_seeded_table_gives_a_fitted_baseline_the_epochs_its_summary_says(tmp_path):
    out, rows = seeded_folder(tmp_path)
    summaries = summaries_of(out)
    [single] = table_rows({"majority-s0": summaries["majority-s0"]})
    seeded = {r["run"]: r for r in seed_rows(summaries, rows)}
    assert single["epochs_run"] == single["best_epoch"] == 1
    assert seeded["majority"]["epochs_run"] == 1 and seeded["majority"]["best_epoch"] == 1
    assert seeded["mlp"]["epochs_run"] == 3 and seeded["mlp"]["best_epoch"] == 2

    write_tables(out, results_texts(out, summaries, rows=rows))
    by_run = {r["run"]: r for r in csv.DictReader((out / "results.csv").open())}
    assert float(by_run["majority"]["epochs_run"]) == float(by_run["majority"]["best_epoch"]) == 1
    assert float(by_run["mlp"]["epochs_run"]) == 3
    [line] = [
        s for s in (out / "results.md").read_text().splitlines() if s.startswith("| majority")
    ]
    assert not line.endswith("| - | - |")
    page = build_report(out).read_text()
    keys = re.findall(r'<th data-key="([^"]+)"', page)
    row = re.search(r'<tr data-run="majority">(.*?)</tr>', page, re.S)[1]
    cells = dict(zip(keys, re.findall(r"<td[^>]*>(.*?)</td>", row)))
    assert "-" not in (cells["epochs_run"], cells["best_epoch"])


# ------------------------------------------------------------------ the data commands' help
@pytest.mark.parametrize("command", ["info", "preview"])
def test_the_data_commands_explain_config_and_set(capsys, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "200")
    code, text = cli(capsys, "data", command, "--help")
    text = one_line(text)
    assert code == 0
    assert "--config -c <str> YAML config file or preset name." in text
    assert "Override a config key: key.sub=value (repeatable)." in text


# ------------------------------------------------------------------ seed 0's model figures, so named
def test_a_seed_runs_figures_are_captioned_with_its_row_and_seed(tmp_path):
    out, _ = seeded_folder(tmp_path)
    labels = run_labels(plan_report(out))
    assert labels["cnn-s0"] == "cnn, seed 0 (cnn-s0)"
    assert labels["mlp-s1"] == "mlp, seed 1 (mlp-s1)"


def test_the_papers_model_figures_are_the_first_seeds_and_say_so(tmp_path, monkeypatch):
    """The paper keeps each row's first seed's model figures: their captions name the row and the seed."""
    import vislab.report.build as report_build

    drawn = {}

    def offered(figs, name, run_dir, cfg, trust_code=False, label=None):
        drawn[name] = label
        return []

    monkeypatch.setattr(report_build, "model_figures", offered)
    out, _ = seeded_folder(tmp_path)
    write_paper([out], out=tmp_path / "paper")
    assert drawn == {
        "majority-s0": "majority, seed 0 (majority-s0)",
        "mlp-s0": "mlp, seed 0 (mlp-s0)",
        "cnn-s0": "cnn, seed 0 (cnn-s0)",
    }


def test_a_grad_cam_caption_names_the_seed_it_shows(tmp_path):
    sets = ("model.name=cnn", "model.widths=[4]", "model.fc=[8]", "train.epochs=1")
    cfg = tiny_config(*sets, "train.figures=false")
    run = tmp_path / "cnn-s0"
    train(cfg, run, quiet=True)
    figs = FigureSet(tmp_path / "figures", [])
    found = model_figures(figs, "cnn-s0", run, cfg, label="cnn, seed 0 (cnn-s0)")
    assert [f["caption"] for f in found] == [
        "cnn, seed 0 (cnn-s0): Grad-CAM of the predicted class on test images"
    ]
    assert [f["name"] for f in found] == ["gradcam_cnn-s0.png"]  # the file keeps the run's name


# ------------------------------------------------------------------ a missing seed run, named
def test_a_verdict_over_a_missing_seed_names_it_and_how_to_get_it_back(tmp_path):
    out, _ = seeded_folder(tmp_path)
    for f in (out / "mlp-s1").iterdir():
        f.unlink()
    (out / "mlp-s1").rmdir()
    fix = (
        "no spread to compare with: mlp-s1 has no result (failed, stopped or its folder removed); "
        "re-run the same vislab suite command, without --only if it had one (Python: only=), to train it."
    )
    page = html.unescape(build_report(out).read_text())
    assert "mlp vs majority: +69.5 pt test ACC over 1 and 2 seeds: " + fix in page
    assert "cnn vs mlp: +10.5 pt test ACC over 2 and 1 seeds: " + fix in page
    assert "--seeds 2 or more" not in page  # the suite ran with --seeds 2
    write_results(out, SuiteInfo.read(out), log=lambda _: None)
    assert fix in (out / "results.md").read_text()
    # a row trained without seeds keeps the advice to train some
    assert "(train with --seeds 2 or more)" in verdict("a", [0.1], "b", [0.2, 0.3]).sentence()


# ------------------------------------------------------------------ like-for-like under the tables
REPORTED = {  # a paper's figure for mlp, measured on CIFAR-10; a key LaTeX must escape
    "sources": {"paper_b": {"title": "A paper", "data": "CIFAR-10 test set", "dataset": "cifar10"}},
    "runs": {"mlp": {"paper_b": {"where": "Table 2", "test_acc": "0.944"}}},
}


def test_the_papers_tables_say_under_them_that_reported_figures_are_not_like_for_like(tmp_path):
    out, _ = seeded_folder(tmp_path, REPORTED)
    write_paper([out], out=tmp_path / "paper")
    md = (tmp_path / "paper" / "tables.md").read_text()
    tables = md.split("**Table: ")[1:]
    accuracy, others = tables[0], tables[1:]
    notes = [line for line in accuracy.splitlines() if line.startswith("**Note:**")]
    assert len(notes) == 1  # one line, under the table with the reported column
    assert "paper_b's figures were measured on cifar10" in notes[0]
    assert "like-for-like" in notes[0]
    assert accuracy.index(notes[0]) > accuracy.index("| cnn |")
    assert not any("**Note:**" in t for t in others)  # no reported column there
    tex = (tmp_path / "paper" / "tables.tex").read_text()
    [first, *rest] = tex.split("\\end{table}")[:-1]
    assert "\\textbf{Note:} " + escape("paper_b's figures were measured on cifar10") in first
    assert first.index("\\textbf{Note:}") > first.index("\\end{tabular}")
    assert not any("Note:" in t for t in rest)
