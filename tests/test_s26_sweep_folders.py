"""Session 26, a sweep folder's report, paper and `sweep show` elsewhere: `vislab report DIR` writes the
results.md/results.csv `sweep show` writes (trials finished since by another worker in them too);
`sweep show --storage --study` from another folder says how the trials were made, as the sweep folder's
own results.md does; `vislab paper DIR` of a sweep whose trials' run folders are all elsewhere has their
rows from the study database, and its notes name the trials no figure could draw (of those --only keeps,
and the study's figures drawn); a paper whose study cannot be loaded says so; `vislab report DIR` writes
DIR/narrow's tables too."""

import shutil

import pytest

import vislab
from conftest import cli, first_table, one_line, tiny_sweep
from figures_skipped import skip_report_figures

MADE = "Trials made with sweep tiny's base config, changed on the command line: data.limit=160."


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """A study in a shared SQLite file, two workers with data.limit=160: worker a trained trial-0 into
    ``a``, then worker b trial-1 into ``b``; a's results.md, written when a ended, holds trial-0 alone."""
    root = tmp_path_factory.mktemp("s26-sweep")
    storage = f"sqlite:///{root / 'shared.db'}"
    for folder, trials in (("a", 1), ("b", 2)):
        vislab.sweep(
            tiny_sweep(),
            out=root / folder,
            trials=trials,
            storage=storage,
            data__limit=160,
            quiet=True,
        )
    return root, storage


def _runs(folder):
    """The run names of results.md's main table."""
    return [
        line.split("|")[1].strip() for line in first_table((folder / "results.md").read_text())[2:]
    ]


def test_report_of_a_sweep_folder_writes_the_tables_sweep_show_writes(shared, capsys, monkeypatch):
    """a's results.md is stale (trial-1 finished on worker b since): `vislab report a` writes results.md
    and results.csv with both trials, the very files `vislab sweep show a` writes, and says so."""
    root, _ = shared
    a = root / "a"
    skip_report_figures(monkeypatch)
    assert _runs(a) == ["trial-0"]  # as worker a left it
    code, text = cli(capsys, "report", a)
    assert code == 0, text
    assert f"results: {a / 'results.md'}" in text and f"report: {a / 'report.html'}" in text
    assert _runs(a) == ["trial-0", "trial-1"]
    assert "trial-1" in (a / "results.csv").read_text()
    written = {name: (a / name).read_text() for name in ("results.md", "results.csv", "trials.csv")}
    code, text = cli(capsys, "sweep", "show", a, "--no-report")
    assert code == 0, text
    assert {name: (a / name).read_text() for name in written} == written


def test_sweep_show_from_another_folder_says_how_the_trials_were_made(shared, capsys, monkeypatch):
    """`sweep show --storage URL --study NAME` run elsewhere writes runs/sweep-tiny/results.md with the
    line the sweep folder's own results.md has: the command line's data.limit=160 (the study records it)."""
    root, storage = shared
    assert MADE in one_line((root / "b" / "results.md").read_text())
    (root / "other").mkdir()
    monkeypatch.chdir(root / "other")
    code, text = cli(
        capsys, "sweep", "show", "--storage", storage, "--study", "tiny", "--no-report"
    )
    assert code == 0, text
    out = root / "other" / "runs" / "sweep-tiny"
    assert MADE in one_line((out / "results.md").read_text())
    assert _runs(out) == ["trial-0", "trial-1"]


def test_paper_of_a_sweep_whose_run_folders_are_all_elsewhere(shared, capsys, monkeypatch):
    """Both workers' folders gone (another machine): `vislab paper` of the folder `sweep show --storage`
    wrote has a row per complete trial from the study database, its run folder "not here", with the
    note naming where each ran; its notes (texts.tex, the terminal) name the trials no figure drawn from
    a run folder holds, and report.html says it too."""
    root, storage = shared
    away = root / "away"
    away.mkdir()
    for name in ("a", "b"):
        shutil.move(root / name, away / name)
    try:
        skip_report_figures(monkeypatch, keep=("sweep_history",))
        monkeypatch.chdir(away)
        code, text = cli(capsys, "sweep", "show", "--storage", storage, "--study", "tiny")
        assert code == 0, text
        out = away / "runs" / "sweep-tiny"
        code, text = cli(capsys, "paper", out)
        assert code == 0, text
        undrawn = "trial-0, trial-1 are in no figure drawn from the"  # report.html escapes the '

        assert undrawn in one_line(text)
        md = (out / "paper" / "tables.md").read_text()
        table = first_table(md)
        assert [line.split("|")[1].strip() for line in table[2:]] == ["trial-0", "trial-1"], md
        assert all("| not here |" in line for line in table[2:]), table
        said = one_line(md)
        assert "come from the study database: trial-0 (" in said and str(root / "a") in said
        assert "not here" in (out / "paper" / "tables.tex").read_text()
        texts = one_line((out / "paper" / "texts.tex").read_text())
        assert undrawn in texts, texts
        assert (out / "paper" / "figures" / "sweep_history.pdf").is_file()
        assert undrawn in one_line((out / "report.html").read_text())
    finally:
        for name in ("a", "b"):
            shutil.move(away / name, root / name)


def test_paper_only_names_the_kept_trials_and_a_lost_study_is_named(shared, capsys, monkeypatch):
    """Both workers' folders gone: `vislab paper --only trial-1` names trial-1 alone as in no figure (not
    trial-0, which has no row); with the shared database moved away too, the paper names that, not "no
    finished run ... finish a run first", and says how to give the storage."""
    root, storage = shared
    away = root / "away2"
    away.mkdir()
    for name in ("a", "b"):
        shutil.move(root / name, away / name)
    try:
        skip_report_figures(monkeypatch)
        monkeypatch.chdir(away)
        code, text = cli(capsys, "sweep", "show", "--storage", storage, "--study", "tiny")
        assert code == 0, text
        out = away / "runs" / "sweep-tiny"
        code, text = cli(capsys, "paper", out, "--only", "trial-1", "--out", away / "P2")
        assert code == 0, text
        texts = one_line((away / "P2" / "texts.tex").read_text())
        assert "trial-1 is in no figure drawn from the" in texts, texts
        assert "trial-0, trial-1 are in no figure" not in texts and "trial-0 is in" not in texts
        assert "trial-1 is in no figure drawn from the" in one_line(text)
        shutil.move(root / "shared.db", away / "shared.db")
        try:
            code, text = cli(capsys, "paper", out)
        finally:
            shutil.move(away / "shared.db", root / "shared.db")
        said = one_line(text)
        assert code != 0
        assert "finish a run first" not in said, said
        assert "sweep study, whose database holds the trials' rows, was not loaded" in said, said
        assert "`vislab sweep show NEW_DIR --storage URL --study tiny`" in said, said
    finally:
        for name in ("a", "b"):
            shutil.move(away / name, root / name)


def test_undrawn_note_names_only_the_study_figures_drawn():
    """One complete trial: only the objective-per-trial figure is drawn from the study (the parallel
    coordinates need two), so the note names it alone; two trials: both."""
    import optuna

    from vislab.report.sweep import undrawn_note

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study()
    dist = {"lr": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True)}
    study.add_trial(optuna.trial.create_trial(params={"lr": 0.01}, distributions=dist, value=0.5))
    one = undrawn_note(study, ["trial-0"])
    assert one.endswith("The figure drawn from the study (objective per trial) holds it."), one
    assert "parallel" not in one
    study.add_trial(optuna.trial.create_trial(params={"lr": 0.02}, distributions=dist, value=0.6))
    two = undrawn_note(study, ["trial-0", "trial-1"])
    assert two.endswith(
        "The figures drawn from the study (objective per trial, parallel coordinates) hold them."
    ), two
    assert undrawn_note(study, []) == ""


def test_report_of_a_sweep_folder_writes_its_narrow_stages_tables_too(
    tmp_path, capsys, monkeypatch
):
    """`vislab report DIR` of a sweep with a --narrow stage writes DIR/narrow/results.md again, as
    `vislab sweep show DIR` does, and reads the trials' rows once (those finish read)."""
    import vislab.report.plan as plan

    out = tmp_path / "sw"
    vislab.sweep(tiny_sweep(), out=out, trials=2, narrow=1, narrow_trials=1, quiet=True)
    for name in ("results.md", "results.csv"):
        (out / "narrow" / name).unlink()
    skip_report_figures(monkeypatch)

    def read_again(*args, **kw):
        raise AssertionError("table_summaries read again")

    monkeypatch.setattr(plan, "table_summaries", read_again)
    code, text = cli(capsys, "report", out)
    assert code == 0, text
    assert f"results: {out / 'narrow' / 'results.md'}" in text
    assert _runs(out / "narrow") == ["trial-0"]
