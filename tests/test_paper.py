"""`vislab paper`: a seeded digits suite → figures sized for a page (PDF and 300-dpi PNG, text ≥ 8 pt), each
row's test figures over its seeds as the report draws them, tables.tex whose numbers are results.csv's
(recomputed from the runs), and a main.tex that compiles."""

import csv
import json
import re
import shutil
import statistics
from pathlib import Path

import pytest
import yaml
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from conftest import cli, tiny_base, tiny_suite
from fixtures import made_once
from seed_scores import check_row_numbers, drawn
from vislab.cli import main
from vislab.experiments.results.spread import verdict
from vislab.experiments.results.table import COLUMNS
from vislab.plotting.style import cut_texts

SUITE = tiny_suite(
    description="paper test",
    # the runs skip their own figures/ (the paper draws its own; test_train checks theirs)
    base=tiny_base(data__limit=240, train__epochs=2, train__seed=0, model__hidden=[32]),
    runs={
        "majority": {"model.name": "majority"},
        "mlp": {},
        # augmented: the paper gets its augmentation preview (augment_1)
        "cnn": {"model.name": "cnn", "model.widths": [8], "model.fc": [16], "augment.hflip.p": 0.5},
    },
    groups={"nets": ["majority", "mlp"]},  # a group of part of the suite: its own curves figure
)
ROWS = tuple(SUITE["runs"])
WIDTHS_IN = (3.3, 6.9)
TEX = shutil.which("latexmk") or shutil.which("pdflatex")


def _make_paper(root: Path) -> dict:
    """The seeded suite in ROOT/suite, then `vislab paper` of it in ROOT/paper, with --pdf when TeX is
    installed (the figures are drawn once for all the tests). {"saved": {saved file: [[width, height] in
    inches, dpi, smallest text in pt, the texts that run off it]}, "shown": {confusion or per-class
    figure's stem: what it shows (seed_scores.drawn)}, "code": the command's exit code}."""
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    suite, out = root / "suite", root / "paper"
    saved: dict[str, list] = {}
    shown: dict[str, dict] = {}
    real = Figure.savefig

    def spy(fig, fname, *args, **kw):  # what each figure holds as it is saved into the paper
        if str(out) in str(fname):
            texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
            smallest = float(min(t.get_fontsize() for t in texts))
            size = [float(x) for x in fig.get_size_inches()]
            cut = cut_texts(fig) if str(fname).endswith(".png") else []  # once a figure
            saved[Path(fname).name] = [size, kw.get("dpi"), smallest, cut]
            if Path(fname).stem.startswith(("confusion_", "per_class_")):
                shown[Path(fname).stem] = drawn(fig)
        return real(fig, fname, *args, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Figure, "savefig", spy)
        assert (
            main(["suite", str(spec), "--seeds", "2", "--out", str(suite), "-q", "--no-report"])
            == 0
        )
        code = main(["paper", str(suite), "--out", str(out), *(["--pdf"] if TEX else [])])
    return {"saved": saved, "shown": shown, "code": code}


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    """(suite folder, paper folder, {saved file: [size in inches, dpi, smallest text in pt]}, exit code of
    `vislab paper`, {confusion or per-class figure: what it shows}). The folder is written before main.tex
    is compiled: a failed compilation fails only test_main_tex_compiles_into_a_pdf_holding_tables_and_figures.
    Under pytest-xdist, made once for all workers: the first to need it makes it while the others wait, and
    the tests only read it."""
    root, made = made_once(tmp_path_factory, "test_paper", _make_paper)
    assert made["code"] == 0 or TEX
    return root / "suite", root / "paper", made["saved"], made["code"], made["shown"]


@pytest.mark.slow
def test_every_figure_is_drawn_for_a_page_as_pdf_and_300_dpi_png(paper):
    _, out, saved, _, _ = paper
    pdfs = sorted(p.stem for p in (out / "figures").glob("*.pdf"))
    pngs = sorted(p.stem for p in (out / "figures").glob("*.png"))
    assert pdfs == pngs and "curves" in pdfs and "curves_nets" in pdfs
    assert {"confusion_mlp", "per_class_cnn"} <= set(pdfs)
    for stem in pdfs:
        (w_in, h_in), dpi, smallest, cut = saved[f"{stem}.png"]
        assert dpi == 300 and smallest >= 8, (stem, dpi, smallest)
        assert cut == [], (stem, cut)  # no text runs off the figure
        assert saved[f"{stem}.pdf"][2] >= 8
        assert min(abs(w_in - w) for w in WIDTHS_IN) < 1e-6, (stem, w_in)
        with Image.open(out / "figures" / f"{stem}.png") as img:
            assert round(img.info["dpi"][0]) == 300
            assert any(abs(img.size[0] - w * 300) <= 2 for w in WIDTHS_IN), (stem, img.size)
            assert abs(img.size[1] - h_in * 300) <= 2
        box = re.search(
            rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)",
            (out / "figures" / f"{stem}.pdf").read_bytes(),
        )
        assert box and abs(float(box[1]) - w_in * 72) < 0.5 and abs(float(box[2]) - h_in * 72) < 0.5
    figures_tex = (out / "figures.tex").read_text()
    assert sorted(re.findall(r"\\label\{fig:([^}]*)\}", figures_tex)) == pdfs  # each, labelled
    captions = re.findall(r"\\caption\{(.*)\}", figures_tex)
    assert len(captions) == len(pdfs) and all(c.strip() for c in captions), captions
    assert "augment_1" in pdfs and "\\caption{augmentation of run(s) cnn-s0 (" in figures_tex
    assert "each curve the mean over 2 seeds, band $\\pm$ 1 std" in figures_tex


@pytest.mark.slow
def test_paper_draws_the_same_row_figures(paper):
    """Each row's test figures over all its seeds, as the report draws them (test_seed_figures): the
    seeds' confusion matrices summed, per-class accuracy their mean ± 1 std; no test figure per seed."""
    suite, out, _, _, shown = paper
    stems = {p.stem for p in (out / "figures").glob("*.pdf")}
    assert {f"{k}_{r}" for k in ("confusion", "per_class", "roc") for r in ROWS} <= stems
    assert not {s for s in stems if re.match(r"(confusion|per_class|roc)_.*-s\d", s)}
    tex = (out / "figures.tex").read_text()
    for row in ROWS:
        assert f"{row}: test confusion matrix summed over 2 seeds" in tex
        assert f"{row}: test accuracy per class, the mean over 2 seeds" in tex
        check_row_numbers(shown, suite, row)


def _latex_rows(tex: str) -> list[dict[str, str]]:
    """Each tabular of tables.tex as {header: cell} per row (LaTeX markup stripped)."""
    rows = []
    for table in re.findall(r"\\toprule\n(.*?)\\bottomrule", tex, re.S):
        header, _, body = table.partition("\\midrule\n")
        heads = [h.strip() for h in header.strip().removesuffix("\\\\").split("&")]
        for line in body.strip().splitlines():
            cells = [c.strip() for c in line.strip().removesuffix("\\\\").split("&")]
            rows.append(dict(zip(heads, cells)))
    return rows


@pytest.mark.slow
def test_tables_tex_numbers_are_results_csv_recomputed_from_the_runs(paper):
    suite, out, _, _, _ = paper
    with open(suite / "results.csv") as f:
        csv_rows = {r["run"]: r for r in csv.DictReader(f)}
    assert list(csv_rows) == ["majority", "mlp", "cnn"]
    heads = {head: key for key, head in COLUMNS}
    checked = 0
    best_test, *others = sorted(csv_rows, key=lambda r: -float(csv_rows[r]["test_acc"]))
    seeds = {  # the test ACC of each seed of every row
        name: [
            json.loads((suite / f"{name}-s{i}" / "summary.json").read_text())["test_acc"]
            for i in (0, 1)
        ]
        for name in csv_rows
    }
    # bold only when the best beats every other row beyond the spread of the seeds
    best_is_bold = all(verdict("", seeds[best_test], "", seeds[o]).exceeds for o in others)
    for row in _latex_rows((out / "tables.tex").read_text()):
        # the table of each row's settings (more than 4 differ); the per-class one (a row per class)
        if "settings" in row or "class" in row:
            continue
        name = row.pop("run").replace("\\_", "_")
        assert row.pop("N") == "2"
        assert row.pop("model", name) == name  # what each row was: the first table's column
        runs = [json.loads((suite / f"{name}-s{i}" / "summary.json").read_text()) for i in (0, 1)]
        for head, cell in row.items():
            if head not in heads:  # a setting's column: what the row was, not a figure
                continue
            key = heads[head]
            if cell == "-":  # a fitted baseline's epochs: none to count, in results.csv neither
                assert key in ("epochs_run", "best_epoch"), (name, head)
                assert runs[0].get("trained_by") == "fit_arrays" and csv_rows[name][key] == ""
                checked += 1
                continue
            numbers = [float(x.replace(",", "")) for x in re.findall(r"\d[\d,]*(?:\.\d+)?", cell)]
            values = [float(s[key]) for s in runs]
            mean, std = statistics.mean(values), statistics.stdev(values)
            assert float(csv_rows[name][key]) == pytest.approx(mean, abs=1e-12)
            assert float(csv_rows[name][f"{key}_std"]) == pytest.approx(std, abs=1e-12)
            first = re.search(r"\d[\d,]*(?:\.(\d+))?", cell)
            places = len(first[1] or "")  # the decimals the table prints
            assert numbers[0] == pytest.approx(mean, abs=0.51 * 10**-places), (name, head, cell)
            if len(numbers) > 1:
                assert numbers[1] == pytest.approx(std, abs=0.51 * 10**-places), (name, head, cell)
            checked += 1
        if "test ACC" in row:  # the accuracy table: the best mean test ACC, if bold
            assert ("\\textbf" in row["test ACC"]) == (name == best_test and best_is_bold)
    assert checked == 3 * (len(COLUMNS) - 1)
    md = (out / "tables.md").read_text()
    assert "| run | N | train ACC |" in md and "beyond the spread of the seeds" in md
    tex = (out / "tables.tex").read_text()
    assert tex.count("?") <= md.count("?")  # no letter or symbol of the texts became "?"
    assert "nets: mlp vs majority:" in md and "Welch" in md


@pytest.mark.slow
@pytest.mark.skipif(TEX is None, reason="no latexmk or pdflatex installed")
def test_main_tex_compiles_into_a_pdf_holding_tables_and_figures(paper):
    _, out, _, code, _ = paper  # made by `vislab paper --pdf`
    log = (out / "main.log").read_text(errors="replace") if (out / "main.log").is_file() else ""
    assert code == 0, log[-3000:]
    pdf = out / "main.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "LaTeX Warning" not in log, log[-3000:]
    figures = len(list((out / "figures").glob("*.pdf")))
    assert log.count("figures/") >= figures  # every figure's file was read into the PDF


def test_paper_refuses_what_it_cannot_use(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, text = cli(capsys, "paper", empty, "--out", tmp_path / "p")
    assert code == 2 and "holds no runs" in text
    runs = []
    for name in ("a", "b"):
        run = tmp_path / name
        run.mkdir()
        (run / "summary.json").write_text(json.dumps({"status": "complete", "test_acc": 0.5}))
        (run / "config.yaml").write_text("{}")
        runs.append(run)
    code, text = cli(capsys, "paper", *runs)
    assert code == 2 and "give --out" in text
    mine = tmp_path / "thesis"  # a folder of the user's own: never written into
    mine.mkdir()
    (mine / "main.tex").write_text("\\documentclass{article}")
    code, text = cli(capsys, "paper", runs[0], "--out", mine)
    assert code == 2 and "did not write" in text
    assert (mine / "main.tex").read_text() == "\\documentclass{article}"
    (tmp_path / "file").write_text("")
    code, text = cli(capsys, "paper", runs[0], "--out", tmp_path / "file" / "paper")
    assert code == 2 and "cannot write --out" in text and "Choose a folder you can write to" in text
