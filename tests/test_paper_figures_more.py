"""What a student writing a course report expects of a run's figures and of `vislab paper`: a learning-rate
figure when the rate changed (none for a constant one), a per-epoch LaTeX table of each run that compiles,
`--no-figures` (tables and texts only) and `--only NAME` (the paper of some runs), main.tex's text not
built when the user's is kept, and the mistakes gallery drawn as one picture with every image's title."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import vislab
from conftest import TINY_DIGITS, cli, one_line
from figures_skipped import skip_report_figures
from vislab.paper_folder.epochs import MAX_ROWS, epoch_table
from vislab.plotting.mistake_picks import Mistake
from vislab.plotting.mistakes import mistakes_figure
from vislab.plotting.steps import lr_changes, lr_figure
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary

PDFLATEX = shutil.which("pdflatex")


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """ROOT/cos_run (3 epochs, cosine schedule, step losses every 2 steps: the rate changes) and
    ROOT/flat (1 epoch, constant rate), neither with its own figures."""
    root = tmp_path_factory.mktemp("papers")
    cosine = dict(train__epochs=3, schedule__name="cosine", train__log_every=2)
    vislab.train(out=root / "cos_run", **{**TINY_DIGITS, **cosine})
    vislab.train(out=root / "flat", **TINY_DIGITS)
    return root


# ------------------------------------------------------------------ the learning-rate figure
def test_the_report_draws_the_learning_rate_of_a_run_whose_rate_changed(runs, tmp_path):
    from vislab.report.figure_set import FigureSet
    from vislab.report.tracking import tracking_figures
    from vislab.training.rundir import RunDir

    notes: list[str] = []
    figs = FigureSet(tmp_path / "figures", notes)
    drawn = {
        n: tracking_figures(figs, n, runs / n, RunDir(runs / n).load_config(), RunSummary())
        for n in ("cos_run", "flat")
    }
    assert [f["name"] for f in drawn["cos_run"] if f["name"].startswith("lr_")] == [
        "lr_cos_run.png"
    ]
    assert "learning rate" in next(f["caption"] for f in drawn["cos_run"] if "lr_" in f["name"])
    assert not any(f["name"].startswith("lr_") for f in drawn["flat"]) and not notes


def test_a_run_with_a_schedule_draws_its_learning_rate_and_a_constant_one_does_not(tmp_path):
    figs = dict(TINY_DIGITS, train__figures=True, train__epochs=2)
    run = vislab.train(out=tmp_path / "cos", schedule__name="cosine", **figs)
    assert (run.path / "figures" / "lr.png").is_file()
    flat = vislab.train(out=tmp_path / "flat", **figs)
    assert not (flat.path / "figures" / "lr.png").exists()  # a flat line says nothing
    assert (flat.path / "figures" / "curves.png").is_file()


def test_the_learning_rate_figure_shows_each_epochs_rate_and_the_logged_steps(runs):
    run = RunDir(runs / "cos_run")
    rows, step_rows = run.read_metrics(), run.read_rows("steps.jsonl")
    assert lr_changes(rows, step_rows)
    ax = lr_figure(rows, step_rows).axes[0]
    by_label = {line.get_label(): line for line in ax.lines}
    epochs = by_label["per epoch"]
    assert list(epochs.get_xdata()) == [1, 2, 3]
    assert list(epochs.get_ydata()) == pytest.approx([r["lr"] for r in rows])
    assert len(by_label["at logged steps"].get_xdata()) == len(step_rows)
    # the untrained epoch-0 row (train.eval_at_start) has lr 0: no change by itself
    assert not lr_changes(
        [{"epoch": 0, "lr": 0.0}, {"epoch": 1, "lr": 0.1}, {"epoch": 2, "lr": 0.1}]
    )
    assert lr_changes([{"epoch": 1, "lr": 0.1}], [{"step": 1, "epoch": 1, "lr": 0.01, "loss": 1}])


# ------------------------------------------------------------------ the per-epoch table
def test_a_long_runs_epoch_table_keeps_a_stride_the_last_and_the_best_epoch_and_says_so():
    rows = [
        dict(epoch=e, train_loss=1 / e, train_acc=0.5, val_loss=1 / e, val_acc=0.6, lr=0.1 / e)
        for e in range(1, 101)
    ]
    tex = epoch_table("cnn_s0", rows, best=87)
    body = [line for line in tex.splitlines() if line.endswith("\\\\")][1:]  # less the header
    assert len(body) <= MAX_ROWS + 2
    firsts = [line.split(" & ")[0] for line in body]
    assert firsts[0] == "1" and firsts[-1] == "100" and "\\textbf{87}" in firsts
    assert "one epoch in 4 of its 100, the first and the last" in tex
    assert "cnn\\_s0" in tex and "cnn_s0" not in tex.replace("tab:epochs-cnn-s0", "")
    assert "1.00e-03" in tex  # epoch 100's rate


@pytest.mark.skipif(PDFLATEX is None, reason="no pdflatex installed")
def test_a_paper_without_figures_writes_tables_and_compiles_with_an_epoch_table(runs, tmp_path):
    out = tmp_path / "paper"
    folder = vislab.paper(
        [runs / "cos_run", runs / "flat"], out=out, figures=False, log=lambda s: 0
    )
    assert not list((folder / "figures").glob("*.p[dn][fg]"))  # nothing drawn
    epochs = folder / "tables" / "cos_run_epochs.tex"
    assert (
        "learning rate" in epochs.read_text() and (folder / "tables" / "flat_epochs.tex").is_file()
    )
    main = folder / "main.tex"
    main.write_text(
        main.read_text().replace(
            "\\end{document}", "\\input{tables/cos_run_epochs}\n\\end{document}"
        )
    )
    done = subprocess.run(
        [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
        cwd=folder, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    assert "cos\\_run: loss, accuracy and learning rate per epoch" in epochs.read_text()


# ------------------------------------------------------------------ --only, main.tex kept
def test_only_keeps_the_named_run_and_an_unknown_name_is_refused_with_the_names(
    runs, tmp_path, capsys, monkeypatch
):
    skip_report_figures(monkeypatch)
    out = tmp_path / "paper"
    code, text = cli(
        capsys, "paper", runs / "cos_run", runs / "flat", "--out", out, "--only", "flat"
    )
    assert code == 0, text
    tables = (out / "tables.tex").read_text()
    assert "flat" in tables and "cos\\_run" not in tables
    assert [p.name for p in (out / "tables").iterdir()] == ["flat_epochs.tex"]
    code, text = cli(
        capsys, "paper", runs / "cos_run", runs / "flat", "--out", out, "--only", "cos-run"
    )
    assert code == 2 and "did you mean 'cos_run'?" in one_line(text), text
    assert "choose among cos_run, flat" in one_line(text)
    with pytest.raises(vislab.UserError, match="no run or row named 'x'"):
        vislab.paper([runs / "flat"], out=tmp_path / "p2", only="x")


def test_a_kept_main_tex_is_not_even_built(runs, tmp_path, monkeypatch):
    out = tmp_path / "paper"
    vislab.paper(runs / "flat", out=out, figures=False, log=lambda s: 0)
    main = out / "main.tex"
    main.write_text(main.read_text() + "% my own words\n")
    import vislab.paper_folder.texts as texts

    def built(*a, **k):
        raise AssertionError("main.tex's text built although the user's main.tex is kept")

    monkeypatch.setattr(texts, "main_document", built)
    said = []
    vislab.paper(runs / "flat", out=out, figures=False, log=said.append)
    assert main.read_text().endswith("% my own words\n")
    assert any("main.tex is yours" in s for s in said)


# ------------------------------------------------------------------ the mistakes gallery
def test_the_gallery_of_64_mistakes_is_one_picture_with_every_title():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 8, 8, 1), dtype=np.uint8)
    wrong = [Mistake(i, i % 10, (i + 1) % 10, 0.99 - i / 100) for i in range(64)]
    fig = mistakes_figure(images, wrong, [(0, 1, 7)], [str(d) for d in range(10)], title="cnn")
    assert len(fig.axes) == 2  # the images' picture and the pairs chart
    [picture] = fig.axes[0].images
    titles = [t.get_text() for t in fig.texts if "p=" in t.get_text()]
    assert titles[:2] == ["0 → 1\np=0.99", "1 → 2\np=0.98"] and len(titles) == 64
    # the first image is in the picture, pixel for pixel (enlarged by a whole factor)
    canvas = np.asarray(picture.get_array())
    k = 32 // 8
    first = images[0, :, :, 0].repeat(k, 0).repeat(k, 1)
    found = [
        (y, x)
        for y in range(canvas.shape[0] - 32)
        for x in range(8)
        if np.array_equal(canvas[y : y + 32, x : x + 32, 0], first)
    ]
    assert found
