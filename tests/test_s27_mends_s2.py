"""Session 27, mends S2: the code column groups runs of the same code (one recorded before code_sha256 and
one after alike), its cells survive results.csv as text, a row whose seeds ran different code says so; the
PDF's short notes never cut after an abbreviation and keep a failed run's reason; a figure deleted from a
row of two leaves the other in figures.tex."""

import json
import re
from pathlib import Path

import pandas as pd

import vislab
from conftest import first_table, one_line, table_run
from vislab.experiments.results.texts import results_texts, write_tables
from vislab.paper_folder.build import write_paper
from vislab.paper_folder.figures import PageFigure
from vislab.paper_folder.figures_tex import figures_tex
from vislab.paper_folder.notes import brief
from vislab.training.summary import RunSummary

OLD = {"source_sha256": "ab" * 32}  # a run before vislab recorded code_sha256
NEW = {"source_sha256": "ab" * 32, "code_sha256": "cd" * 32}  # the same source, recorded since
OTHER = {"source_sha256": "ef" * 32, "code_sha256": "1234567" + "0" * 57}  # other code


def _runs(folder: Path, codes: dict[str, dict]) -> Path:
    """A finished mlp run per name of ``codes`` with that model_code in its summary.json, its train.seed
    its place among them; none trained."""
    folder.mkdir(exist_ok=True)
    for seed, (name, code) in enumerate(codes.items()):
        run = table_run(folder, name, "data.name=digits", f"train.seed={seed}")
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "model_code": code, "seed": seed}))
    return folder


def _tables(folder: Path, rows: dict[str, list[str]] | None = None) -> tuple[pd.DataFrame, str]:
    """results.csv read back by pandas and results.md of the runs in ``folder`` (``rows``: of seeds)."""
    dirs = {p.name: p for p in sorted(folder.iterdir())}
    summaries = {
        n: RunSummary.from_json(json.loads((p / "summary.json").read_text()))
        for n, p in dirs.items()
    }
    out = folder.parent / "tables"
    out.mkdir(exist_ok=True)
    write_tables(out, results_texts(out, summaries, rows=rows, run_dirs=dirs))
    return pd.read_csv(out / "results.csv"), (out / "results.md").read_text()


def test_runs_of_the_same_source_before_and_after_code_sha256_are_one_version(tmp_path):
    runs = _runs(tmp_path / "runs", {"a": OLD, "b": NEW})
    assert "code" not in vislab.compare(runs).columns  # one version: no column
    _, md = _tables(runs)
    assert "ran different code" not in md
    runs = _runs(tmp_path / "runs", {"c": OTHER})
    table = vislab.compare(runs)
    assert list(table["code"]) == ["sha:cdcdcdc", "sha:cdcdcdc", "sha:1234567"]  # b's code_sha256
    assert "the runs of mlp ran different code" in one_line(_tables(runs)[1])


def test_runs_linked_through_a_third_are_one_version_named_by_its_code_sha256(tmp_path):
    commented = {"source_sha256": "99" * 32, "code_sha256": "cd" * 32}  # NEW with a comment added
    runs = _runs(tmp_path / "runs", {"a": OLD, "b": commented, "c": NEW, "d": OTHER})
    assert list(vislab.compare(runs)["code"]) == ["sha:cdcdcdc"] * 3 + ["sha:1234567"]


def test_the_code_column_reads_back_from_results_csv_as_the_text_compare_returns(tmp_path):
    runs = _runs(
        tmp_path / "runs",
        {"a": {"code_sha256": "1234567" + "0" * 57}, "b": {"code_sha256": "12e4567" + "0" * 57}},
    )
    read, md = _tables(runs)
    assert list(read["code"]) == ["sha:1234567", "sha:12e4567"]  # not 1234567.0 and inf
    table = vislab.compare(runs)
    assert list(table["code"]) == list(read["code"]) and table["code"].dtype == read["code"].dtype
    head, _, *rows = first_table(md)
    assert "| code |" in head and "sha:12e4567" in rows[1]


def test_a_row_whose_seeds_ran_different_code_says_mixed(tmp_path):
    runs = _runs(tmp_path / "runs", {"mlp-s0": NEW, "mlp-s1": OTHER})
    read, md = _tables(runs, rows={"mlp": ["mlp-s0", "mlp-s1"]})
    assert list(read["code"]) == ["mixed"]  # the only row: the column is there all the same
    said = one_line(md)
    assert "the runs of mlp ran different code" in said
    assert "mixed: the row's seeds ran different code, and its figures average them" in said
    assert "(mlp): compare its runs on their own" in said
    assert "a model of vislab's own" not in said


# ------------------------------------------------------------ the PDF's notes in brief
def test_a_brief_note_never_ends_after_an_abbreviation():
    note = (
        "a: its optimizer state is left out: "
        + "x" * 120
        + " with a setting of its own, e.g. Adam or SGD, i.e. One of torch's. Then what to do: "
        + "y" * 100
    )
    said = brief(note)
    assert said.startswith(note.split(" Then")[0].removesuffix("."))
    assert (
        "e.g (" not in said
        and "i.e (" not in said
        and said.endswith("(in full, with what to do: notes.md).")
    )


def test_a_failed_runs_brief_note_keeps_its_reason(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    table_run(runs, "ok", "data.name=digits")
    bad = table_run(runs, "bad", "data.name=digits")
    why = (
        "CUDA out of memory; "
        + "lower train.batch_size: --set train.batch_size=16 / train__batch_size=16. " * 3
    )
    (bad / "summary.json").write_text(json.dumps(dict(status="failed", message=why)))
    write_paper([runs], out=tmp_path / "paper", figures=False, log=lambda _: None)
    tex = (tmp_path / "paper" / "texts.tex").read_text()
    said = one_line(tex[tex.index("\\section*{Notes}") :])
    assert (
        "bad: not in the tables, it did not finish (CUDA out of memory; in full, with what to do: "
        "notes.md)." in said
    ), said
    assert "train.batch_size" not in said


# ------------------------------------------------------------ a figure deleted from a row of two
def test_a_figure_deleted_from_a_row_of_two_leaves_the_other_in_figures_tex(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    table_run(runs, "a", "data.name=digits")
    paper = tmp_path / "paper"
    write_paper([runs], out=paper, figures=False, log=lambda _: None)
    figures = [PageFigure(s, s.title(), 3.3, 2.2) for s in ("conf", "roc", "pc")]
    (paper / "figures").mkdir(exist_ok=True)
    for f in figures:
        (paper / f.pdf).write_bytes(b"%PDF")
    (paper / "figures.tex").write_text(figures_tex(figures, ["a"]))  # conf and roc a row of two
    (paper / "figures/roc.pdf").unlink()  # the student deletes one of the pair, then rebuilds
    said: list[str] = []
    write_paper([runs], out=paper, figures=False, log=said.append)
    text = (paper / "figures.tex").read_text()
    body = text[text.index("\\begin{") :]
    assert "roc" not in body and "conf.pdf" in body and "pc.pdf" in body
    pair = re.search(r"\\begin\{figure\*\}.*?\\end\{figure\*\}", body, re.S)
    assert pair and "conf.pdf" in pair[0] and "pc.pdf" in pair[0]  # the two left share a row
    assert any("figures/roc.pdf" in line and "dropped" in line for line in said), said
