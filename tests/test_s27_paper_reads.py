"""The paper and the tables as a student's report reads them: two versions of a notebook's class told apart
by a code column, the data line naming where the splits were drawn from, each table's notes fitting it (n/a,
-, where the data is said), the PDF's notes in brief with notes.md in full, and column-wide figures two to a
row."""

import json
import re
import shutil
from pathlib import Path

import pytest

import vislab
from conftest import DROP, first_table, notebook_cell, one_line, pdflatex_log, table_run, tiny_base
from vislab.config import build_config
from vislab.experiments.results.data_used import data_line, drawn_from
from vislab.paper_folder.build import write_paper
from vislab.paper_folder.figures import PageFigure
from vislab.paper_folder.latex import figure_environments
from vislab.paper_folder.notes import brief
from vislab.training.summary import RunSummary

V1 = """
class NetS27(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.fc = nn.Linear(input_shape[0] * input_shape[1] * input_shape[2], num_classes)

    def forward(self, x):
        return self.fc(x.flatten(1))
"""
V2 = """
class NetS27(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(input_shape[0] * (input_shape[1] // 2) * (input_shape[2] // 2), num_classes)

    def forward(self, x):
        return self.fc(self.pool(x).flatten(1))
"""


def _paper(runs: Path, out: Path) -> Path:
    write_paper([runs], out=out, figures=False, log=lambda _: None)
    return out


def test_two_versions_of_a_notebook_class_differ_in_the_code_column(notebook, tmp_path):
    runs = tmp_path / "runs"
    notebook_cell(notebook, V1, "s27_v1")
    vislab.train(tiny_base(model=DROP), model=notebook["NetS27"], out=runs / "a")
    notebook_cell(notebook, V2, "s27_v2")  # redefined: another version of the same name
    vislab.train(tiny_base(model=DROP), model=notebook["NetS27"], out=runs / "b")
    shas = {
        r: "sha:"
        + json.loads((runs / r / "summary.json").read_text())["model_code"]["code_sha256"][:7]
        for r in "ab"
    }
    table = vislab.compare(runs)
    assert list(table["code"]) == [shas["a"], shas["b"]] and shas["a"] != shas["b"]
    paper = _paper(runs, tmp_path / "paper")
    md = (paper / "tables.md").read_text()
    head, _, *rows = first_table(md)
    assert "| code |" in head and all(shas[r] in line for r, line in zip("ab", rows))
    said = one_line(md)
    assert "code: the version of the model's code each run trained" in said
    assert "the runs of user-NetS27 ran different code" in said
    tex = one_line((paper / "tables.tex").read_text())
    assert (
        tex.count("the runs of user-NetS27 ran different code") == 1
    )  # under the first table only


def test_one_version_of_each_model_has_no_code_column(notebook, tmp_path):
    runs = tmp_path / "runs"
    notebook_cell(notebook, V1, "s27_one")
    for name in ("a", "b"):
        vislab.train(tiny_base(model=DROP), model=notebook["NetS27"], out=runs / name)
    assert "code" not in vislab.compare(runs).columns


def _config(*sets: str):
    return build_config({}, ["model.name=mlp", *sets])


@pytest.mark.parametrize(
    ("sets", "said"),
    [
        (
            ["data.name=mnist", "data.use=[test]", "data.split=[1000,300,300]"],
            ", all three drawn from mnist's official test set by data.split",
        ),
        (
            ["data.name=mnist", "data.split=[1000,300,300]"],
            ", all three drawn from mnist's official train and test sets pooled by data.split",
        ),
        (
            ["data.name=mnist", "data.use=[train]"],
            ", test carved from mnist's official train set (its official test set not used: "
            "data.use=[train])",
        ),
        (["data.name=mnist"], ""),  # the official train and test sets: nothing to say
        (["data.name=digits", "data.split=[1000,300,300]"], ""),  # no official sets: all carved
    ],
)
def test_the_data_line_says_where_the_splits_were_drawn_from(sets, said):
    assert drawn_from(_config(*sets)) == said


def test_the_papers_data_sentence_names_the_official_test_set_it_drew_from(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    split = ("data.name=mnist", "data.use=[test]", "data.split=[1000,300,300]")
    run = table_run(runs, "cnn", *split)
    summary = json.loads((run / "summary.json").read_text())
    summary.update(data="mnist", n_train=1000, n_val=300, n_test=300)
    (run / "summary.json").write_text(json.dumps(summary))
    line = "Data: mnist (1,000 train / 300 val / 300 test images, all three drawn from mnist's official test"
    paper = _paper(runs, tmp_path / "paper")
    assert line in one_line((paper / "tables.md").read_text())
    assert line in one_line((paper / "texts.tex").read_text()).replace("\\textquotesingle{}", "'")
    summaries = {"cnn": RunSummary.from_json(summary)}
    assert (
        data_line(summaries) == "Data: mnist (1,000 train / 300 val / 300 test images)."
    )  # no config


def _fitted_beside(runs: Path) -> None:
    """A majority baseline (no optim.lr read) beside two mlp runs of other learning rates."""
    runs.mkdir()
    for name, lr in (("a", "0.1"), ("b", "0.01")):
        table_run(runs, name, "data.name=digits", f"optim.lr={lr}")
    base = runs / "majority"
    base.mkdir()
    (base / "config.yaml").write_text(build_config({}, ["model.name=majority"]).to_yaml())
    summary = dict(status="complete", model="majority", seed=0, test_acc=0.1, data="digits")
    (base / "summary.json").write_text(json.dumps(dict(summary, trained_by="fit_arrays")))


def test_each_table_note_fits_its_table_and_says_what_a_dash_is(tmp_path):
    runs = tmp_path / "runs"
    _fitted_beside(runs)
    paper = _paper(runs, tmp_path / "paper")
    tex = (paper / "tables.tex").read_text()
    tables = re.findall(r"\\begin\{table\*?\}.*?\\end\{table\*?\}", tex, re.S)
    first, *others = [one_line(t) for t in tables]
    assert "optim.lr" in first and "-: the run has no value of the setting" in first
    assert "(majority: optim.lr)" in first
    assert not any("optim.lr" in t or "-: the run has no value" in t for t in others)
    # LaTeX points to the section by its name and page, not to a file name the PDF would print
    pointer = "Data and how the runs were made: see ``Data and runs'' on page~\\pageref{sec:runs}."
    assert all(pointer in t for t in [first, *others]) and "(texts.tex)" not in tex
    assert "\\section*{Data and runs}\\label{sec:runs}" in (paper / "texts.tex").read_text()
    md = (paper / "tables.md").read_text()
    assert one_line(md).count("-: the run has no value of the setting") == 1


def test_a_dash_in_a_figure_column_is_said_under_its_table(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    for name, auc in (("a", 0.9), ("b", None)):
        run = table_run(runs, name, "data.name=digits")
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps(dict(summary, test_auc=auc)))
    md = one_line((_paper(runs, tmp_path / "paper") / "tables.md").read_text())
    assert "-: not in the run's summary.json (b: test AUC)." in md


NOTE = (
    "a: its model figures (Grad-CAM, attention maps) are left out: run 'runs3/a' was trained with model "
    "'user-MyNet', the class MyNet as it was defined then, but MyNet has been redefined since (its source "
    "changed: - self.head = nn.Linear(width * h * w, num_classes); + self.pool = nn.MaxPool2d(2)): the model "
    "built now would not be the one trained. Run the original definition of MyNet again (e.g. its notebook "
    "cell) and reopen the run, or give the new version another name (overwrite=True, resume=True)."
)


def test_a_long_note_is_said_in_brief_in_the_pdf_and_in_full_in_notes_md(tmp_path):
    assert brief(NOTE) == (
        "a: its model figures (Grad-CAM, attention maps) are left out: run 'runs3/a' was trained with "
        "model 'user-MyNet', the class MyNet as it was defined then, but MyNet has been redefined since: "
        "the model built now would not be the one trained (in full, with what to do: notes.md)."
    )  # no source diff, no instructions
    error = "a: left out: 'a/summary.json' cannot be read (Expecting value: line 2 column 1). " * 3
    assert brief(error).startswith(error.split(". ")[0])  # an error's position is no listing: kept
    short = "cut: epoch 3, whose weights were kept (best.pt), has no row in its metrics.jsonl."
    assert brief(short) == short
    said = (
        f"Said in training: note: data.limit=50 is small. {'Give more data, or fewer epochs. ' * 9}"
    )
    assert brief(f"{said}(runs: a and b)") == (
        "Said in training: note: data.limit=50 is small (runs: a and b; in full, with what to do: notes.md)."
    )
    runs = tmp_path / "runs"
    runs.mkdir()
    table_run(runs, "ok", "data.name=digits")
    bad = table_run(runs, "bad", "data.name=digits")
    why = "status failed; " + "after fixing Bad (its cell run again), train it anew: " * 4
    (bad / "summary.json").write_text(json.dumps(dict(status="failed", message=why)))
    paper = _paper(runs, tmp_path / "paper")
    notes = (paper / "texts.tex").read_text()
    notes = one_line(notes[notes.index("\\section*{Notes}") :])
    said = "bad: not in the tables, it did not finish (status failed; in full, with what to do: notes.md)."
    assert said in notes and "train it anew" not in notes
    full = one_line((paper / "notes.md").read_text())
    assert "bad: not in the tables, it did not finish (" in full and "train it anew" in full


def test_a_paper_rebuilt_by_the_api_replaces_its_notes_md(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    table_run(runs, "a", "data.name=digits")
    out = tmp_path / "paper"
    vislab.paper(runs, out=out, figures=False, log=lambda _: None)
    assert (out / "notes.md").read_text() == "# Notes on the runs\n\nNo notes on these runs.\n"
    vislab.paper(runs, out=out, figures=False, log=lambda _: None)  # its own notes.md: replaced
    (out / "notes.md").write_text("my notes\n")
    with pytest.raises(vislab.UserError, match="notes.md"):
        vislab.paper(runs, out=out, figures=False, log=lambda _: None)


NARROW = [PageFigure(s, s.title(), 3.3, 2.2) for s in ("conf", "roc", "pc")]


def test_two_column_wide_figures_share_a_row(tmp_path):
    text = figure_environments([PageFigure("wide", "Wide", 6.9, 2.2), *NARROW])
    pair = re.search(
        r"\\begin\{figure\*\}\[tbp\]\n(?:(?!\\end\{figure\*\}).)*conf\.pdf.*?\\end\{figure\*\}",
        text,
        re.S,
    )
    assert pair and "roc.pdf" in pair[0] and pair[0].count("\\begin{minipage}") == 2
    assert pair[0].count("\\caption") == 2 and "\\label{fig:roc}" in pair[0]
    assert re.search(r"\\begin\{figure\}\[tbp\]\n.*pc\.pdf.*?\\end\{figure\}", text, re.S)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="needs pdflatex")
def test_a_row_of_two_prints_side_by_side_at_their_drawn_width(tmp_path):
    from matplotlib.figure import Figure

    (tmp_path / "figures").mkdir()
    for f in NARROW[:2]:
        fig = Figure(figsize=(f.width_in, f.height_in))
        fig.add_subplot().plot([0, 1])
        fig.savefig(tmp_path / "figures" / f"{f.stem}.pdf")
    (tmp_path / "figures.tex").write_text(figure_environments(NARROW[:2]))
    (tmp_path / "main.tex").write_text(
        "\\documentclass[10pt]{article}\n\\usepackage[letterpaper,margin=0.8in]{geometry}\n"
        "\\usepackage{graphicx}\n\\let\\ig\\includegraphics\n"
        "\\renewcommand{\\includegraphics}[2][]{\\setbox0\\hbox{\\ig[#1]{#2}}\\typeout{IG #2=\\the\\wd0}"
        "\\box0}\n\\begin{document}\n\\input{figures}\n\\end{document}\n"
    )
    log = pdflatex_log(tmp_path)
    widths = re.findall(r"^IG figures/\w+\.pdf=([\d.]+)pt", log, re.M)
    assert [float(w) for w in widths] == pytest.approx([3.3 * 72.27] * 2, abs=0.5)
    assert "Overfull \\hbox" not in log
