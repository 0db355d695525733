"""`vislab paper` built again, of fitted baselines, of a sweep with pruned trials, and of runs whose names
differ only in punctuation: what a student writing a report checks in the folder.

- A build without --pdf removes the main.pdf (and LaTeX files) an earlier --pdf compiled, and says so; a
  main.pdf the user compiled, or changed, is kept, with a note that it is not this build's.
- A model fitted once (majority) has no per-epoch table: it has no epochs.
- texts.tex names a sweep's pruned trials, which are in no table.
- Runs ``a b`` and ``a_b``, ``x-1`` and ``x_1`` each get their own epoch table file and LaTeX label.
"""

import hashlib
import json
import re
import shutil
from pathlib import Path

import optuna
import pytest

import vislab
from conftest import TINY_DIGITS, cli, one_line, tiny_sweep
from vislab.experiments.sweeps import samplers
from vislab.experiments.sweeps.runner import run_sweep
from vislab.experiments.sweeps.spec import load_sweep

LATEX = shutil.which("latexmk") or shutil.which("pdflatex")
COMPILED = ("main.pdf", "main.aux", "main.log")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """ROOT/one (1 epoch), ROOT/two (2 epochs) and ROOT/maj (the majority baseline, fitted once)."""
    root = tmp_path_factory.mktemp("e22-runs")
    vislab.train(out=root / "one", **TINY_DIGITS)
    vislab.train(out=root / "two", **{**TINY_DIGITS, "train__epochs": 2})
    majority = dict(data="digits", data__limit=200, train__device="cpu", train__figures=False)
    vislab.train(out=root / "maj", model="majority", **majority)
    return root


def _copies(runs: Path, where: Path, names: dict[str, str]) -> list[Path]:
    """Run folders ``where/<new>`` copied from ``runs/<old>`` (``names``: new → old)."""
    made = []
    for new, old in names.items():
        shutil.copytree(runs / old, where / new)
        made.append(where / new)
    return made


def _record_compiled(paper: Path) -> None:
    """What a --pdf build leaves: main.pdf, .aux and .log beside main.tex, listed in the folder's record of
    the files vislab wrote (api/written.py records each file written while the command runs)."""
    record_file = paper / ".vislab-written.json"
    record = json.loads(record_file.read_text())
    for name in COMPILED:
        (paper / name).write_bytes(f"{name} of the earlier build's runs".encode())
        record["files"][name] = hashlib.sha256((paper / name).read_bytes()).hexdigest()
    record_file.write_text(json.dumps(record))


# ------------------------------------------------------------------ A: an earlier build's main.pdf
@pytest.mark.skipif(LATEX is None, reason="needs latexmk or pdflatex")
def test_a_rebuild_without_pdf_removes_the_main_pdf_of_the_earlier_runs(runs, tmp_path, capsys):
    one, two = _copies(runs, tmp_path, {"one": "one", "two": "two"})
    paper = tmp_path / "paper"
    code, out = cli(capsys, "paper", one, two, "--out", paper, "--pdf", "--no-figures")
    assert code == 0 and (paper / "main.pdf").is_file(), out
    code, out = cli(capsys, "paper", one, "--out", paper, "--no-figures")
    assert code == 0, out
    left = sorted(p.name for p in paper.glob("main.*"))
    assert left == ["main.tex"], left  # no main.pdf of both runs beside tables of one
    said = one_line(out)
    assert "main.pdf, compiled by an earlier build" in said and "removed" in said, said
    assert "the same with --pdf" in said, said
    code, out = cli(capsys, "paper", one, "--out", paper, "--pdf", "--no-figures")
    assert code == 0 and (paper / "main.pdf").is_file() and "removed" not in out, out


def test_the_main_pdf_an_earlier_build_compiled_goes_with_its_latex_files(runs, tmp_path, capsys):
    one, two = _copies(runs, tmp_path, {"one": "one", "two": "two"})
    paper = tmp_path / "paper"
    assert cli(capsys, "paper", one, two, "--out", paper, "--no-figures")[0] == 0
    _record_compiled(paper)
    code, out = cli(capsys, "paper", one, "--out", paper, "--no-figures")
    assert code == 0, out
    assert not any((paper / name).exists() for name in COMPILED)
    said = one_line(out)
    assert "main.pdf, compiled by an earlier build" in said, said
    assert "main.aux, main.log" in said and "the same with --pdf (Python: pdf=True)" in said, said
    table = (paper / "tables.md").read_text()
    assert "| one |" in table and "| two |" not in table, table  # the tables: of one run now
    # built again: nothing to remove, nothing said
    code, out = cli(capsys, "paper", one, "--out", paper, "--no-figures")
    assert code == 0 and "main.pdf" not in out, out


def test_a_main_pdf_vislab_did_not_compile_is_kept_and_said_to_be_older(runs, tmp_path, capsys):
    (one,) = _copies(runs, tmp_path, {"one": "one"})
    paper = tmp_path / "paper"
    assert cli(capsys, "paper", one, "--out", paper, "--no-figures")[0] == 0
    _record_compiled(paper)
    (paper / "main.pdf").write_bytes(b"the user's own, compiled by hand")  # changed since: theirs
    code, out = cli(capsys, "paper", one, "--out", paper, "--no-figures")
    assert code == 0, out
    assert (paper / "main.pdf").read_bytes() == b"the user's own, compiled by hand"
    assert not (paper / "main.aux").exists() and not (paper / "main.log").exists()
    said = one_line(out)
    assert "main.pdf is not one vislab compiled" in said and "kept" in said, said
    assert "--pdf" in said, said


# ------------------------------------------------------------------ B: a model fitted once
def test_a_fitted_baseline_gets_no_per_epoch_table(runs, tmp_path, capsys):
    maj, one = _copies(runs, tmp_path, {"maj": "maj", "one": "one"})
    assert json.loads((maj / "summary.json").read_text())["trained_by"] == "fit_arrays"
    paper = tmp_path / "paper"
    code, out = cli(capsys, "paper", maj, one, "--out", paper, "--no-figures")
    assert code == 0, out
    assert sorted(p.name for p in (paper / "tables").iterdir()) == ["one_epochs.tex"]
    assert "1 per-epoch table in tables/" in one_line(out), out


# ------------------------------------------------------------------ C: a sweep's pruned trials
class _PruneTrialOne(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return trial.number == 1


def test_texts_tex_names_the_pruned_trials_of_a_sweep(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(samplers, "build_pruner", lambda spec: _PruneTrialOne())
    spec = tiny_sweep(name="e22", base__train__epochs=2, metric="val_pacc")
    (tmp_path / "s.yaml").write_text(json.dumps(spec))
    study = run_sweep(
        load_sweep(tmp_path / "s.yaml"), tmp_path / "sw", trials=3, log=lambda s: None
    )
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED", "COMPLETE"]
    code, out = cli(capsys, "paper", tmp_path / "sw", "--out", tmp_path / "paper", "--no-figures")
    assert code == 0, out
    texts = one_line((tmp_path / "paper" / "texts.tex").read_text())
    assert "Trials not in the tables" in texts and "pruned: trial-1" in texts, texts
    assert "trial-0" not in texts and "trial-2" not in texts, texts
    # --only of complete trials: no word of the pruned one
    only = ("--only", "trial-0", "--only", "trial-2")
    code, out = cli(
        capsys, "paper", tmp_path / "sw", "--out", tmp_path / "p2", "--no-figures", *only
    )
    assert code == 0 and "trial-1" not in (tmp_path / "p2" / "texts.tex").read_text(), out


# ------------------------------------------------------------------ D: names that differ in punctuation
def _tables(paper: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((paper / "tables").iterdir())}


def test_runs_differing_only_in_punctuation_get_their_own_epoch_tables_and_labels(
    runs, tmp_path, capsys
):
    names = {"a b": "one", "a_b": "two", "x-1": "one", "x_1": "two", "solo": "one"}
    folders = _copies(runs, tmp_path, names)
    paper = tmp_path / "paper"
    code, out = cli(capsys, "paper", *folders, "--out", paper, "--no-figures")
    assert code == 0, out
    tables = _tables(paper)
    assert len(tables) == 5, sorted(tables)
    assert "solo_epochs.tex" in tables and "x-1_epochs.tex" in tables and "x_1_epochs.tex" in tables
    labels = [re.search(r"\\label\{([^}]*)\}", t).group(1) for t in tables.values()]
    assert len(set(labels)) == 5 and "tab:epochs-solo" in labels, labels
    # each file is its own run's: the 1-epoch run's table has one row, the 2-epoch run's two
    for run in ("a b", "a_b"):
        (text,) = [t for t in tables.values() if f"% {run.replace('_', chr(92) + '_')}:" in t]
        rows = text.split("\\midrule\n")[1].split("\\bottomrule")[0].strip().splitlines()
        assert len(rows) == (1 if names[run] == "one" else 2), text
    # the same runs again: the same files and labels
    assert cli(capsys, "paper", *folders, "--out", paper, "--no-figures")[0] == 0
    assert _tables(paper) == tables


def test_a_page_figure_that_needs_a_missing_package_says_how_to_install_it(tmp_path):
    """The paper's figures note a missing package as the report's do: with its pip command."""
    from vislab.paper_folder.figures import PageFigures

    def needs_captum(path):
        raise ModuleNotFoundError("No module named 'captum'", name="captum")

    notes: list[str] = []
    figs = PageFigures(tmp_path / "figures", notes)
    try:
        assert figs.make("gradcam.png", "Grad-CAM of cnn", needs_captum) is None
    finally:
        figs.close()
    assert notes == ["Grad-CAM of cnn needs captum: pip install 'vislab[explain]'"], notes
