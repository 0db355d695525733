"""Starting a run, suite or sweep over (overwrite=True, --overwrite) deletes exactly the files vislab
wrote: a folder holding a file of the user's (an edited paper/main.tex, their own file in figures/,
explain/ or export/) is refused before anything is deleted, naming the files and the fix; `vislab paper`
again refuses to replace an edited main.tex (a user-tester's paper/ was deleted, and an edited main.tex
replaced, without a word)."""

import shutil
from pathlib import Path

import pytest

import vislab
from conftest import cli, one_line, tiny_sets
from figures_skipped import skip_report_figures
from vislab.api import start_over
from vislab.explain import Explanation
from vislab.explain_maps import METHODS
from vislab.export import FORMATS

EDIT = "% my edit\n"


@pytest.fixture(scope="module")
def papered(trained, tmp_path_factory) -> Path:
    """A finished tiny run (a copy of conftest's ``trained``) and its paper, as `vislab.paper(run)` writes
    it (DIR/paper)."""
    run = Path(shutil.copytree(trained, tmp_path_factory.mktemp("papered") / "run"))
    with pytest.MonkeyPatch.context() as mp:  # two of its figures are enough to own: ~3 s less
        skip_report_figures(mp, keep=("curves", "confusion_"))
        vislab.paper(run)
    return run


@pytest.fixture
def run(papered, tmp_path) -> Path:
    """A copy of the papered run, for a test to write into."""
    return Path(shutil.copytree(papered, tmp_path / "run"))


@pytest.fixture
def plain(trained, tmp_path) -> Path:
    """A copy of a finished tiny run without a paper (conftest's ``trained``)."""
    return Path(shutil.copytree(trained, tmp_path / "plain"))


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def _overwrite(run: Path, capsys) -> tuple[int, str]:
    """`vislab train --overwrite` of ``run``: (exit code, its output on one line)."""
    code, text = cli(capsys, "train", *tiny_sets(), "--out", run, "--overwrite")
    return code, one_line(text)


def test_starting_over_keeps_a_paper_the_user_edited_and_deletes_an_untouched_one(run, capsys):
    """The tester's steps: vislab.paper, edit main.tex, add intro.tex, then train(overwrite=True):
    refused, naming both; with main.tex as vislab wrote it and intro.tex moved out, the paper goes."""
    main_tex, intro = run / "paper" / "main.tex", run / "paper" / "intro.tex"
    written = main_tex.read_text()
    main_tex.write_text(written + EDIT)
    intro.write_text("\\section{Intro}\n")
    before = _files(run)
    with pytest.raises(vislab.UserError) as refused:
        vislab.train(model="mlp", data="digits", out=run, overwrite=True)
    msg = one_line(str(refused.value))
    assert "vislab did not write (paper/intro.tex, paper/main.tex)" in msg
    assert "paper/main.tex changed since vislab wrote it" in msg
    assert "Move them out of" in msg and "choose another folder (--out; Python: out=)" in msg
    code, text = _overwrite(run, capsys)
    assert code == 2 and "paper/intro.tex, paper/main.tex" in text
    assert _files(run) == before and main_tex.read_text().endswith(EDIT)
    main_tex.write_text(written)
    intro.rename(run.parent / "intro.tex")
    code, _ = _overwrite(run, capsys)
    assert code == 0 and not (run / "paper").exists() and (run / "summary.json").is_file()


def test_a_users_files_in_the_tools_folders_are_refused_then_vislabs_own_deleted(plain, capsys):
    """explain/, export/, figures/ and checkpoints/ hold vislab's files by the names it gives them:
    anything else there is the user's (one folder of theirs named whole), and `and N more` past four."""
    vislabs = ["explain/seven_gradcam.png", "explain/seven_attention_block1.png",
               "export/model.onnx", "export/model.json", "figures/mistakes_test.csv",
               "figures/.tmp-1-2/curves.png", "checkpoints/.last.pt.x.tmp"]  # fmt: skip
    users = ["checkpoints/finetuned.bin", "explain/photo.jpg", "export/README.md",
             "export/model.onnx.bak", "figures/mine/plot.png", "figures/notes.txt"]  # fmt: skip
    for name in vislabs + users:
        (plain / name).parent.mkdir(parents=True, exist_ok=True)
        (plain / name).write_text("x")
    before = _files(plain)
    code, text = _overwrite(plain, capsys)
    listed = "checkpoints/finetuned.bin, explain/photo.jpg, export/README.md, export/model.onnx.bak"
    listed += " and 2 more"  # figures/mine/ (a folder of theirs, named whole), figures/notes.txt
    assert code == 2 and f"vislab did not write ({listed})" in text
    assert _files(plain) == before
    for name in users:
        path = plain / name
        shutil.rmtree(path.parent) if name.startswith("figures/mine") else path.unlink()
    code, _ = _overwrite(plain, capsys)
    assert code == 0 and not any((plain / name).exists() for name in vislabs)


def test_a_suite_or_sweep_with_a_users_file_in_its_figures_or_a_runs_is_refused(plain, tmp_path):
    suite = tmp_path / "suite"  # its run and report figures, and the user's own folder among them
    shutil.copytree(plain, suite / "mlp")
    (suite / "suite.json").write_text("{}")
    (suite / "figures" / "drafts").mkdir(parents=True)
    (suite / "figures" / "drafts" / "plot.png").write_text("x")
    (suite / "figures" / "curves.png").write_text("x")
    before = _files(suite)
    with pytest.raises(vislab.UserError, match=r"did not write \(figures/drafts/\)"):
        vislab.run_suite("quickstart", out=suite, overwrite=True)
    assert _files(suite) == before
    shutil.rmtree(suite / "figures" / "drafts")
    start_over(suite, "suite")
    assert _files(suite) == []

    sweep = tmp_path / "sweep"  # a trial's run with the user's file in its explain/
    shutil.copytree(plain, sweep / "trials" / "0")
    (sweep / "sweep.json").write_text("{}")
    (sweep / "trials" / "0" / "explain").mkdir()
    (sweep / "trials" / "0" / "explain" / "cat.png").write_text("x")
    with pytest.raises(vislab.UserError, match=r"did not write \(trials/0/explain/cat.png\)"):
        start_over(sweep, "sweep")
    assert (sweep / "trials" / "0" / "explain" / "cat.png").is_file()


def test_a_suites_paper_the_user_edited_is_kept_and_an_untouched_one_deleted(run, tmp_path):
    suite = (
        tmp_path / "suite"
    )  # a run with its paper, and the suite's paper (what vislab.paper wrote)
    shutil.copytree(run, suite / "mlp")
    shutil.copytree(run / "paper", suite / "paper")
    (suite / "suite.json").write_text("{}")
    tables = suite / "paper" / "tables.tex"
    written = tables.read_text()
    tables.write_text(written + EDIT)
    before = _files(suite)
    with pytest.raises(vislab.UserError) as refused:
        vislab.run_suite("quickstart", out=suite, overwrite=True)
    msg = one_line(str(refused.value))
    assert "did not write (paper/tables.tex)" in msg and "paper/tables.tex changed since" in msg
    assert _files(suite) == before
    tables.write_text(written)
    start_over(suite, "suite")
    assert _files(suite) == []


def test_vislab_paper_again_rewrites_its_own_files_keeps_an_edited_main_tex_and_your_figure(
    run, capsys, monkeypatch
):
    # its tables alone
    monkeypatch.setattr("vislab.paper_folder.build.draw_sections", lambda *a: None)
    main_tex = run / "paper" / "main.tex"
    code, text = cli(capsys, "paper", run)  # untouched: rewritten
    assert code == 0 and main_tex.is_file()
    written = main_tex.read_text()
    main_tex.write_text(written + EDIT)
    code, text = cli(capsys, "paper", run)  # edited: the user's, kept (test_paper_refresh)
    assert code == 0 and "main.tex is yours (edited since vislab wrote it): kept" in one_line(text)
    assert main_tex.read_text() == written + EDIT
    main_tex.write_text(written)  # as vislab wrote it again, and the user's own figure beside it
    (run / "paper" / "figures" / "arch.pdf").write_bytes(b"%PDF mine")
    code, text = cli(capsys, "paper", run)  # a name vislab does not draw: kept (test_xp_paper)
    assert code == 0 and "did not write" not in one_line(text)
    assert (run / "paper" / "figures" / "arch.pdf").read_bytes() == b"%PDF mine"


def test_the_names_explain_and_export_write_are_the_names_starting_over_deletes(tmp_path):
    """folders.py names explain's and export's files by hand (importing them loads torch's exporters):
    each name they write counts as vislab's, and a name of the user's beside them does not."""
    from vislab.api.folders import EXPLAIN, EXPORT

    names = [Explanation([], [], ("a", 1.0), m, 0 if m == "attention" else None).file_name("seven")
             for m in METHODS]  # fmt: skip
    export = [n for f in FORMATS.values() for n in (f, str(Path(f).with_suffix(".json")))]
    for folder, made in ((tmp_path / "explain", names), (tmp_path / "export", export)):
        folder.mkdir()
        for name in [*made, "mine.png"]:
            (folder / name).write_text("x")
    assert EXPLAIN(tmp_path / "explain") == [tmp_path / "explain" / "mine.png"]
    assert EXPORT(tmp_path / "export") == [tmp_path / "export" / "mine.png"]
