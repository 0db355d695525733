"""The bold and the verdict hints of the comparison tables (session 26, Fix A): a row whose summary.json
was edited by hand is never bold, the honest rows are bolded among themselves as if it were not there,
alike in `vislab compare`, report.html and the paper's tables (the per-class table too); and a verdict
without a spread because a row's seeds differ in settings says so, not "train with --seeds 2"."""

import json
import re
import shutil
from html import unescape
from pathlib import Path

import pytest

from conftest import cli, one_line, table_run, tiny_sets
from figures_skipped import skip_report_figures
from vislab.cli import main
from vislab.experiments.results.spread import group_verdicts
from vislab.report.build import build_report


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Three tiny 1-epoch digits runs of one split: ``narrow`` (mlp [16]), ``wide`` (mlp [64]) and
    ``majority``."""
    root = tmp_path_factory.mktemp("s26-bold") / "runs"
    for name, model in (("narrow", "model.hidden=[16]"), ("wide", "model.hidden=[64]")):
        assert main(["train", *tiny_sets(model), "--out", str(root / name), "-q"]) == 0
    majority = tiny_sets("model.name=majority", drop="model.hidden=[32]")
    assert main(["train", *majority, "--out", str(root / "majority"), "-q"]) == 0
    return root


def _markdown_bold(text: str) -> dict[str, set[tuple[str, str]]]:
    """Each Markdown pipe table's bold cells, (run, column header), by its columns' headers."""
    out: dict[str, set[tuple[str, str]]] = {}
    lines = [line for line in text.splitlines() if line.startswith("|")]
    heads = [i for i, line in enumerate(lines) if line.startswith("| run |")]
    for at in heads:
        header = [c.strip() for c in lines[at].strip("|").split("|")]
        cells = out.setdefault(" ".join(header[1:4]), set())
        for line in lines[at + 2 :]:
            if line.startswith("| run |") or "---" in line:
                break
            row = [c.strip() for c in line.strip("|").split("|")]
            cells |= {(row[0], h) for h, c in zip(header, row) if c.startswith("**")}
    return out


def _all_bold(tables: dict[str, set[tuple[str, str]]]) -> set[tuple[str, str]]:
    return set().union(*tables.values())


def _html_bold(page: str) -> set[tuple[str, str]]:
    """The results table's bold cells of report.html, (run, column header)."""
    table = page.split('id="results"', 1)[1].split("</table>", 1)[0]
    heads = [unescape(h) for h in re.findall(r"<th data-key=\"[^\"]+\">([^<]*)</th>", table)]
    out = set()
    for run, row in re.findall(r'<tr data-run="([^"]+)">(.*?)</tr>', table, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        out |= {(run, h) for h, c in zip(heads, cells) if "<strong>" in c}
    return out


def _bold_everywhere(capsys, monkeypatch, folder: Path, out: Path) -> tuple[set, set, str, str]:
    """The bold cells (run, header) of `vislab compare FOLDER` (its results table and its per-class
    table), report.html's results table, and the paper's tables.md (results tables and per-class)."""
    code, text = cli(capsys, "compare", folder)
    assert code == 0, text
    shown = _markdown_bold(text)
    per_class = {k for k in shown if k.startswith("0 1")}
    compare_main = _all_bold({k: v for k, v in shown.items() if k not in per_class})
    compare_classes = _all_bold({k: shown[k] for k in per_class})
    skip_report_figures(monkeypatch)
    page = build_report(folder, log=lambda _: None).read_text()
    code, said = cli(capsys, "paper", folder, "--out", out, "--no-figures")
    assert code == 0, said
    paper = _all_bold(_markdown_bold((out / "tables.md").read_text()))
    class_heads = {str(i) for i in range(10)}
    paper_main = {(r, h) for r, h in paper if h not in class_heads}
    paper_classes = {(r, h) for r, h in paper if h in class_heads}
    assert compare_main == _html_bold(page) == paper_main
    assert compare_classes == paper_classes
    return compare_main, compare_classes, text, said


def test_a_doubted_row_is_never_bold_and_the_honest_rows_are_bolded_among_themselves(
    capsys, monkeypatch, runs, tmp_path
):
    edited = shutil.copytree(runs, tmp_path / "edited")
    summary = json.loads((edited / "wide" / "summary.json").read_text())
    (edited / "wide" / "summary.json").write_text(json.dumps({**summary, "test_acc": 0.99}))
    honest = shutil.copytree(runs, tmp_path / "honest", ignore=shutil.ignore_patterns("wide"))
    main_bold, class_bold, text, _ = _bold_everywhere(capsys, monkeypatch, edited, tmp_path / "p1")
    assert "wide: test_acc 0.9900 (predictions_test.npz:" in one_line(text)
    assert not {cell for cell in main_bold | class_bold if cell[0] == "wide"}
    # as if the doubted row were not there: the bold of the honest rows alone
    alone_main, alone_classes, _, _ = _bold_everywhere(capsys, monkeypatch, honest, tmp_path / "p2")
    assert main_bold == alone_main and class_bold == alone_classes
    assert ("narrow", "test ACC") in main_bold  # 0.99 is no best: narrow beats majority's 0.1


def _seed_folder(root: Path) -> Path:
    """A folder of runs named as seeds, without training: ``a-s0`` (train.epochs 1) and ``a-s1``
    (train.epochs 3: trained on by hand), ``b-s0`` and ``b-s1`` alike."""
    folder = root / "seeds"
    folder.mkdir()
    for name, seed, epochs, acc in (
        ("a-s0", 0, 1, 0.50),
        ("a-s1", 1, 3, 0.60),
        ("b-s0", 0, 1, 0.40),
        ("b-s1", 1, 1, 0.45),
    ):
        sets = (f"train.seed={seed}", f"train.epochs={epochs}", "data.split_seed=0")  # one test set
        run = table_run(folder, name, *sets)
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "seed": seed, "test_acc": acc}))
    return folder


@pytest.mark.filterwarnings("ignore:b-s[01]")  # "no predictions_test.npz": runs not trained
def test_a_verdict_on_seeds_that_differ_in_settings_names_the_settings(
    capsys, monkeypatch, tmp_path
):
    folder = _seed_folder(tmp_path)
    hint = (
        "no spread to compare with: the seeds a-s0, a-s1 differ in train.epochs (a-s0 1, a-s1 3), so "
        'they are not averaged; train them alike (the note "Not averaged as seeds" says how).'
    )
    code, text = cli(capsys, "compare", folder)
    assert code == 0, text
    verdicts = [line for line in one_line(text).split("- **")[1:] if " vs " in line]
    assert verdicts and all(hint in line for line in verdicts if "a-s" in line.split(":")[1]), text
    assert "--seeds 2" not in text
    skip_report_figures(monkeypatch)
    page = one_line(unescape(build_report(folder, log=lambda _: None).read_text()))
    assert hint in page and "--seeds 2" not in page


def test_the_seeds_hint_stays_for_a_row_of_one_seed():
    found = group_verdicts({"g": ["a", "b-s0", "b-s1"]}, {"a": [0.5], "b-s0": [0.4], "b-s1": [0.6]})
    assert [v.sentence().endswith("(train with --seeds 2 or more).") for v in found["g"]] == [
        True,
        True,
    ]
    why = {"b-s0": "b-s0, b-s1 differ in optim.lr (b-s0 0.1, b-s1 0.01)"}
    told = group_verdicts(
        {"g": ["a", "b-s0"]}, {"a": [0.5, 0.6], "b-s0": [0.4]}, unlike={**why, "b-s1": why["b-s0"]}
    )
    assert (
        told["g"][0]
        .sentence()
        .endswith(
            "no spread to compare with: the seeds b-s0, b-s1 differ in optim.lr (b-s0 0.1, b-s1 0.01), "
            'so they are not averaged; train them alike (the note "Not averaged as seeds" says how).'
        )
    )
