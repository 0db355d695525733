"""Figures a reader could not read: a sweep's curves (colour bar over a panel, the trials unnamed), its
history's half-trial ticks, the figures of 100 classes at a page's width (class names in a black smear,
100 ROC curves with a legend cut off), an empty mistakes figure when nothing was wrong, per-class error
bars running past 0 and 1."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from conftest import tiny_sweep
from figures_skipped import skip_report_figures
from vislab.cli import main
from vislab.paper_folder.figures import PageFigures
from vislab.plotting.canvas import captured_figures, plt
from vislab.plotting.mistake_picks import Mistake
from vislab.plotting.mistakes import plot_mistakes
from vislab.plotting.roc import roc_figure
from vislab.plotting.runs import confusion_figure, per_class_figure
from vislab.plotting.style import PAGE_IN, cut_texts, fit_to_page, page_style
from vislab.plotting.sweeps import plot_history, plot_trial_curves

K = 100
NAMES = ["aquarium_fish", *(f"class_{i:02d}" for i in range(K - 3)), "maple_tree", "willow_tree"]


def _captured(draw) -> Figure:
    """The one figure ``draw(path)`` saves, unwritten, fitted to a page's width as the paper does."""
    with page_style(), captured_figures() as drawn:
        draw("unused.png")
    (fig,) = drawn
    return fit_to_page(fig, PAGE_IN)


def _page(build) -> Figure:
    """``build()``'s figure drawn in the page style and fitted to a page's width, as the paper does."""
    with page_style():
        return fit_to_page(build(), PAGE_IN)


def _trials(n: int) -> tuple[dict, dict]:
    histories = {
        f"trial-{i}": [
            {
                "epoch": e,
                "train_loss": 2 / e + i,
                "val_loss": 2 / e,
                "train_acc": 0.3 * e,
                "val_acc": 0.3 * e,
            }
            for e in (1, 2)
        ]
        for i in range(n)
    }
    return histories, {
        f"trial-{i}": 0.9 - 0.001 * i for i in range(n)
    }  # all nearly the same colour


@pytest.mark.parametrize("n", [4, 12])
def test_a_sweeps_curves_keep_the_colour_bar_and_legend_off_the_panels_and_name_the_best_trials(n):
    """The paper's curves.png drew the val_acc colour bar over the accuracy panel and the train/val legend
    over the lines; nothing told two trials of one yellow apart."""
    histories, values = _trials(n)
    fig = _captured(lambda p: plot_trial_curves(histories, values, p, metric="val_acc"))
    fig.canvas.draw()
    panels = fig.axes[:2]
    legends = fig.legends + [a.get_legend() for a in panels if a.get_legend()]
    others = [a.get_window_extent() for a in fig.axes[2:]] + [
        g.get_window_extent() for g in legends
    ]
    assert len(others) == 1 + (n > 6)  # one legend, and the grey trials' colour bar if any
    assert not any(o.overlaps(p.get_window_extent()) for o in others for p in panels)
    labels = [t.get_text() for t in legends[0].get_texts()]
    assert labels[:2] == ["train", "val"]
    named = labels[2:]
    assert named[:2] == ["trial-0 (0.900)", "trial-1 (0.899)"]  # best first, with the objective
    assert len(named) == min(n, 6)
    markers = {
        line.get_marker() for line in fig.axes[1].lines if line.get_marker() not in ("", "None")
    }
    assert len(markers) == min(n, 6)  # a marker each, as in the legend
    assert cut_texts(fig) == []


def test_a_sweeps_history_ticks_whole_trials():
    """sweep_history.png of 4 trials had ticks at 0.5, 1.5, 2.5."""
    with captured_figures() as drawn:
        plot_history([0, 1, 2, 3], [0.8, 0.9, 0.85, 0.7], "unused.png", "val_acc")
    (fig,) = drawn
    fig.canvas.draw()
    ticks = fig.axes[0].get_xticks()
    lo, hi = fig.axes[0].get_xlim()
    assert all(t == int(t) for t in ticks if lo <= t <= hi)
    plt.close(fig)


def _drawn_labels(fig: Figure, axis: str) -> list[str]:
    """The tick labels ``axis`` ("x" or "y") of the first axes shows once drawn."""
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    lo, hi = sorted(getattr(ax, f"get_{axis}lim")())
    ticks = getattr(ax, f"get_{axis}axis")().get_major_ticks()
    return [t.label1.get_text() for t in ticks if lo <= t.get_loc() <= hi and t.label1.get_text()]


def test_a_hundred_classes_per_class_bars_name_every_few_classes_without_overlap_on_a_page():
    """per_class_k100.png: 100 names at 45° on 6.9 in ran into one black smear."""
    fig = _page(lambda: per_class_figure(list(np.linspace(0, 1, K)), NAMES, "k100: test"))
    shown = _drawn_labels(fig, "x")
    assert 10 <= len(shown) < K and shown[0] == "aquarium_fish"
    assert fig.axes[0].get_xlabel() == "class"
    assert cut_texts(fig) == []
    # its own size (the report's) still has room for every name
    assert len(_drawn_labels(per_class_figure([0.5] * K, NAMES), "x")) == K


def test_a_hundred_classes_confusion_matrix_names_every_few_classes_on_both_axes():
    """confusion_k100.png: the class names of both axes overlapped."""
    cm = np.eye(K, dtype=int) * 3
    fig = _page(lambda: confusion_figure(cm, NAMES, "k100: test"))
    for axis in ("x", "y"):
        shown = _drawn_labels(fig, axis)
        assert 10 <= len(shown) < K
    assert cut_texts(fig) == []


def test_the_checker_finds_overlapping_tick_labels():
    """cut_texts said nothing of 100 class names drawn over one another."""
    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.set_xticks(range(K), NAMES, rotation=45, ha="right")
    crowded = cut_texts(fig)
    assert any(c.startswith("class_00 overlaps class_01") for c in crowded)
    fig = Figure(figsize=(4, 3))
    fig.subplots().set_xticks(range(4), ["a", "b", "c", "d"])
    assert cut_texts(fig) == []


def test_a_hundred_class_roc_shows_the_lowest_and_highest_auc_and_the_macro_average():
    """roc_k100.png: a legend of 100 entries, cut off at the page's edge after ~20."""
    fpr = np.linspace(0, 1, 50)
    roc = {k: (fpr, fpr ** (0.1 + 0.05 * k)) for k in range(K)}  # AUC falls with k
    fig = _page(lambda: roc_figure(roc, NAMES, "k100: ROC (test)"))
    legend = fig.axes[0].get_legend()
    labels = [t.get_text().split(" (")[0] for t in legend.get_texts()]
    assert labels[:-1] == [*NAMES[-5:][::-1], *NAMES[:5][::-1]]
    assert labels[-1].startswith("macro AUC ") and legend.get_texts()[-1].get_text().endswith(
        " (of all 100 classes)"
    )
    assert legend.get_title().get_text() == "5 lowest and 5 highest AUC of 100 classes"
    assert cut_texts(fig) == []


def test_no_mistakes_figure_is_drawn_when_nothing_was_misclassified(tmp_path):
    """An empty axis with overlapping ticks "−0.045−0.030…" under a caption promising wrong images."""
    path = tmp_path / "mistakes.png"
    assert plot_mistakes(None, [], [], ["a", "b"], path, title="run: test") is None
    assert not path.exists()
    figs = PageFigures(tmp_path / "figures", notes := [])
    assert (
        figs.make(
            "mistakes_run.png",
            "run: the most confidently wrong",
            plot_mistakes,
            None,
            [],
            [],
            ["a", "b"],
        )
        is None
    )
    figs.publish()
    assert figs.saved == {} and notes == [] and list((tmp_path / "figures").iterdir()) == []
    # one wrong image: drawn
    images = np.zeros((2, 8, 8, 1), np.uint8)
    wrong = [Mistake(1, 0, 1, 0.9)]
    assert plot_mistakes(images, wrong, [(0, 1, 1)], ["a", "b"], path) == path and path.is_file()


def test_per_class_error_bars_stay_within_0_and_1_and_the_axis_says_what_they_are():
    """0.444 ± 0.629 drew a bar from −0.19 to 1.07, cut off by the axis; no x label."""
    fig = per_class_figure([0.444, 0.95, 0.5], ["cat", "dog", "fox"], std=[0.629, 0.2, 0.1])
    ax = fig.axes[0]
    (whiskers,) = [c for c in ax.collections if len(c.get_segments()) == 3]
    ends = [y for seg in whiskers.get_segments() for y in (seg[0][1], seg[1][1])]
    assert ends == pytest.approx([0.0, 1.0, 0.75, 1.0, 0.4, 0.6])
    assert ax.get_xlabel() == "class (whiskers: ± 1 std, within 0–1)"


# --- what the report and paper do with these figures (report/sweep.py, report/mistakes.py, predict.py) ---


def test_a_sweeps_paper_holds_the_sweep_figures_its_report_shows(tmp_path, monkeypatch):
    """The sweep paper left out sweep_history, sweep_parallel (and sweep_importances) that report.html
    shows, though it promises the report's figures. Two trials: the fewest that draw sweep_parallel.
    Only the sweep's figures are drawn (the trials' own are checked elsewhere: figures_skipped)."""
    skip_report_figures(monkeypatch, keep=("sweep_",))
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(tiny_sweep(name="h3"), sort_keys=False))
    out, paper = tmp_path / "sweep", tmp_path / "paper"
    assert main(["sweep", str(spec), "--trials", "2", "--out", str(out)]) == 0
    in_report = sorted(p.stem for p in (out / "figures").glob("sweep_*.png"))
    assert {"sweep_history", "sweep_parallel"} <= set(in_report)
    assert main(["paper", str(out), "--out", str(paper)]) == 0
    tex = (paper / "figures.tex").read_text()
    for stem in in_report:
        assert f"figures/{stem}.pdf" in tex and (paper / "figures" / f"{stem}.png").is_file()
    assert "objective per trial and best so far" in tex


def _no_mistakes(run) -> None:
    """``run``'s saved test predictions made all right: each image's own class at 0.9."""
    npz = run / "predictions_test.npz"
    with np.load(npz) as f:
        saved = dict(f)
    k = saved["probs"].shape[1]
    saved["probs"] = np.full_like(saved["probs"], 0.1 / (k - 1))
    saved["probs"][np.arange(len(saved["labels"])), saved["labels"]] = 0.9
    np.savez(npz, **saved)


def test_a_run_with_no_wrong_test_image_gets_no_mistakes_figure_but_a_note(
    trained, tmp_path, monkeypatch
):
    """An empty mistakes figure (an empty axis, overlapping ticks "−0.045−0.030…") under a caption
    promising the most confidently wrong test images. (The other figures are not drawn.)"""
    skip_report_figures(monkeypatch, keep=("mistakes_",))
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    _no_mistakes(run)
    assert main(["paper", str(run), "--out", str(tmp_path / "paper")]) == 0
    paper = tmp_path / "paper"
    assert "mistakes_" not in (paper / "figures.tex").read_text()
    assert not list((paper / "figures").glob("mistakes_*"))
    assert "no test image was misclassified" in (paper / "texts.tex").read_text()
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text()
    assert "mistakes_" not in html and "no test image was misclassified" in html


def test_eval_figures_name_the_run_in_their_titles(trained, tmp_path, monkeypatch):
    """`vislab eval RUN --normalize` titled its figure "test (share of each true class)" where the run's
    own confusion_test.png says "run: test (counts; shade: share of the true class)"."""
    titles = []
    real = Figure.savefig

    def spy(fig, *args, **kw):
        titles.extend(ax.get_title() for ax in fig.axes if ax.get_title())
        titles.extend(t.get_text() for t in fig.texts if t.get_text())
        return real(fig, *args, **kw)

    monkeypatch.setattr(Figure, "savefig", spy)
    out = tmp_path / "eval"
    assert main(["eval", str(trained), "--normalize", "--out", str(out)]) == 0
    assert f"{trained.name}: test (share of each true class)" in titles
    assert any(t.startswith(f"{trained.name}: test: most confidently wrong") for t in titles), (
        titles
    )
    titles.clear()
    assert main(["eval", str(trained / "checkpoints" / "last.pt"), "--out", str(out)]) == 0
    assert f"{trained.name} (last): test (counts; shade: share of the true class)" in titles
