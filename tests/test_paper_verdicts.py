"""The paper carries what results.md carries: the reports' words on the runs (a report that prints no
numbers for them, as vit-study's) under its tables in results.md's words, a source's footnote only where a
table cites it; "Settings each run changed" names only real differences (a fitted baseline without an
optim section, a schedule key its schedule does not read, make none); text columns left-aligned in both.
Suite folders are faked (suite.json, config.yaml and summary.json): nothing is trained."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from vislab.config import build_config
from vislab.experiments.records import SuiteInfo
from vislab.experiments.suites.runner import SuiteState, write_results
from vislab.experiments.suites.spec import load_suite
from vislab.paper_folder import build as paper_build
from vislab.paper_folder.build import write_paper
from vislab.paper_folder.latex import escape

SAY = "What the reports say about these runs"
RDFIA = {  # words, no numbers: as vit-study's report A (§ as the reports write their sections)
    "title": "RDFIA 1-e, students' report A",
    "data": "MNIST, train and test curves (split and epochs not given)",
}
WORDS = {"where": "§2.2, Figure 20", "note": "the best patch size, with more stable convergence"}
DLVC = {"title": "DLVC assignment 1, group report B", "data": "CIFAR-10 test set"}


def fake_suite(root: Path, runs: dict[str, list[str]], reported: dict | None = None) -> Path:
    """A finished suite's folder as ``vislab suite`` leaves it: suite.json written by the runner's own
    state, and per run a config.yaml of its ``--set`` assignments and a summary.json on digits."""
    spec = root / "s.yaml"
    body = {"runs": {name: {} for name in runs}, **({"reported": reported} if reported else {})}
    spec.write_text(yaml.safe_dump(body, sort_keys=False))
    out = root / "suite"
    out.mkdir()
    SuiteState(out, load_suite(spec), []).save()
    for i, (name, sets) in enumerate(runs.items()):
        cfg = build_config({}, ["data.name=digits", "model.name=mlp", "train.figures=false", *sets])
        (out / name).mkdir()
        (out / name / "config.yaml").write_text(cfg.to_yaml())
        summary = dict(status="complete", model=cfg.model.name, seed=0, data="digits")
        summary.update(test_acc=0.5 + i / 10, val_acc=0.5, n_train=600, n_val=150, n_test=300)
        if cfg.model.name == "majority":
            summary["trained_by"] = "fit_arrays"
        (out / name / "summary.json").write_text(json.dumps(summary))
    return out


def results_and_paper(out: Path, paper: Path, monkeypatch) -> tuple[str, str, str]:
    """(results.md, tables.md, tables.tex) of the faked suite ``out``: the paper's tables alone."""
    write_results(out, SuiteInfo.read(out), log=lambda _: None)
    monkeypatch.setattr(paper_build, "draw_sections", lambda *a: None)  # its tables alone
    write_paper([out], out=paper)
    texts = [out / "results.md", paper / "tables.md", paper / "tables.tex"]
    return tuple(p.read_text() for p in texts)


# ------------------------------------------------------------------ 1. the reports' words
def test_a_report_of_words_alone_is_said_under_the_tables_as_results_md_says_it(
    tmp_path, monkeypatch
):
    reported = {"sources": {"rdfia-A": RDFIA}, "runs": {"patch-14": {"rdfia-A": WORDS}}}
    out = fake_suite(tmp_path, {"patch-7": [], "patch-14": ["model.hidden=[8]"]}, reported)
    md, tables, tex = results_and_paper(out, tmp_path / "paper", monkeypatch)
    source = (
        "- **rdfia-A**: RDFIA 1-e, students' report A. Measured on: MNIST, train and test curves "
        "(split and epochs not given)."
    )
    run = "  - patch-14: §2.2, Figure 20. The best patch size, with more stable convergence."
    for text in (md, tables):  # results.md's lines, word for word
        assert f"{SAY} (they print no numbers for them):" in text.replace("**", "")
        assert f"{source}\n{run}\n" in text
    assert "[^rdfia-A]" not in tables  # no column cites it: no footnote
    assert tables.index(run) > tables.rindex("**Table: ")  # under the tables
    assert "\\paragraph*{What the reports say about these runs} (they print no numbers" in tex
    assert "\\item patch-14: \\S{}2.2, Figure 20. The best patch size" in tex
    assert (
        "\\item \\textbf{rdfia-A}: " + escape("RDFIA 1-e, students' report A. Measured on") in tex
    )


def test_footnotes_only_for_the_sources_a_table_cites_and_their_notes_said_after(
    tmp_path, monkeypatch
):
    """A report with figures keeps its footnote (mark a, though declared second) and its notes on runs
    are said after the tables; one of words alone has no footnote, and where its figures were measured
    on other data, the note saying so is under its words (no table carries it)."""
    reported = {
        "sources": {"rdfia-A": {**RDFIA, "dataset": "mnist"}, "dlvc-B": DLVC},
        "runs": {
            "mlp": {
                "rdfia-A": WORDS,
                "dlvc-B": {"where": "Table 1", "test_acc": "0.61", "note": "pretrained"},
            },
            "cnn": {"dlvc-B": {"where": "Table 1", "test_acc": "0.70"}},
        },
    }
    out = fake_suite(tmp_path, {"mlp": [], "cnn": ["model.name=cnn"]}, reported)
    md, tables, tex = results_and_paper(out, tmp_path / "paper", monkeypatch)
    assert "test ACC (reported, dlvc-B)[^dlvc-B]" in tables and "\n[^dlvc-B]: dlvc-B: " in tables
    assert "[^rdfia-A]" not in tables and "textsuperscript{b}" not in tex
    assert "dlvc-B\\textsuperscript{a}" in tex
    said = tables[tables.index(f"**{SAY}**:") :]
    assert (
        "  - mlp: Table 1. Pretrained.\n" in said and "  - cnn:" not in said
    )  # its where: footnote
    assert "  - mlp: §2.2, Figure 20. The best patch size" in said
    other_data = "rdfia-A's figures were measured on mnist; the runs here used digits"
    assert other_data in md and other_data in said and escape(other_data) in tex


@pytest.mark.skipif(
    not (shutil.which("pdflatex") and shutil.which("pdftotext")), reason="needs pdflatex, pdftotext"
)
def test_the_pdf_prints_the_reports_words(tmp_path, monkeypatch):
    reported = {"sources": {"rdfia-A": RDFIA}, "runs": {"patch-14": {"rdfia-A": WORDS}}}
    out = fake_suite(tmp_path, {"patch-7": [], "patch-14": ["model.hidden=[8]"]}, reported)
    results_and_paper(out, tmp_path / "paper", monkeypatch)
    cmd = ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "main.tex"]
    done = subprocess.run(cmd, cwd=tmp_path / "paper", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
    pdf = tmp_path / "paper" / "main.pdf"
    text = subprocess.run(["pdftotext", pdf, "-"], capture_output=True, text=True).stdout
    assert "patch-14: §2.2, Figure 20. The best patch size" in " ".join(text.split())


# ------------------------------------------------------------------ 2. settings each run changed
def listed_lines(md: str) -> dict[str, str]:
    after = md[md.index("**Settings each run changed**") :]
    return dict(re.findall(r"^- \*\*(.+?)\*\*: (.*)$", after, re.M))


def test_settings_a_run_has_no_say_on_are_no_difference(tmp_path, monkeypatch):
    """majority reads no optim or schedule settings; flat's schedule (none) reads no gamma or step_size:
    neither makes the others' values a difference, nor lists them."""
    out = fake_suite(
        tmp_path,
        {
            "majority": ["model.name=majority"],
            "mlp": ["model.hidden=[16]", "schedule.name=exponential", "schedule.gamma=0.9"],
            "cnn": ["model.name=cnn", "model.widths=[4]", "model.fc=[8]",
                    "schedule.name=exponential", "schedule.gamma=0.8"],
            "flat": ["model.hidden=[16]", "optim.lr=0.01", "schedule.step_size=3"],
        },
    )  # fmt: skip
    md, tables, _ = results_and_paper(out, tmp_path / "paper", monkeypatch)
    expected = {
        "majority": "none of these settings",
        "mlp": "model.hidden=[16], optim.lr=0.001, schedule.gamma=0.9, schedule.name=exponential",
        "cnn": "model.fc=[8], model.widths=[4], optim.lr=0.001, schedule.gamma=0.8, "
        "schedule.name=exponential",
        "flat": "model.hidden=[16], optim.lr=0.01",  # schedule.name=none: off, at vislab's default
    }  # optim.lr=0.001 (vislab's default) beside flat's 0.01: what tells the rows apart
    assert listed_lines(md) == expected
    assert listed_lines(tables) == expected


# ------------------------------------------------------------------ 3. alignment
def test_text_columns_are_left_aligned_in_results_md_as_in_the_paper(tmp_path, monkeypatch):
    out = fake_suite(tmp_path, {"a": ["optim.lr=0.01"], "b": []})
    md, tables, _ = results_and_paper(out, tmp_path / "paper", monkeypatch)
    head = "| run | model | seed | optim.lr |"
    for text in (md, tables):
        lines = text.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith(head))
        assert lines[at + 1].startswith("|---|---|---|---|---:|"), lines[at + 1]
