"""Comparison curves that stay legible with many runs: a colour per run, train solid and val dashed in
that colour, the legend beside the panels instead of over the curves."""

from matplotlib.colors import to_hex
from PIL import Image

from vislab.plotting.canvas import save_figure
from vislab.plotting.legend import run_style
from vislab.plotting.runs import curves_figure, plot_curves_overlay
from vislab.report.figure_set import FigureSet
from vislab.report.sections import curve_figures


def _histories(n_runs: int, epochs: int = 4) -> dict[str, list[dict]]:
    return {
        f"run-{i}": [
            dict(
                epoch=e,
                train_loss=2.0 / e + 0.01 * i,
                val_loss=2.2 / e + 0.01 * i,
                train_acc=1 - 0.5 / e - 0.01 * i,
                val_acc=1 - 0.6 / e - 0.01 * i,
            )
            for e in range(1, epochs + 1)
        ]
        for i in range(n_runs)
    }


def test_nine_runs_have_nine_colours_train_solid_val_dashed():
    fig = curves_figure(_histories(9))
    for ax in fig.axes:
        by_run: dict[str, dict[str, str]] = {}
        for line in ax.lines:
            name, word = line.get_label().rsplit(" ", 1)
            by_run.setdefault(name, {})[line.get_linestyle()] = to_hex(line.get_color())
        assert len(by_run) == 9
        for styles in by_run.values():
            assert set(styles) == {"-", "--"}  # train solid, val dashed
            assert styles["-"] == styles["--"]  # in the run's one colour
        assert len({s["-"] for s in by_run.values()}) == 9  # nine distinct colours


def test_the_legend_lies_outside_every_axes_and_names_each_run_once():
    fig = curves_figure(_histories(9))
    fig.canvas.draw()
    [legend] = [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts == [f"run-{i}" for i in range(9)] + ["train", "val"]
    box = legend.get_window_extent()
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent()), "legend drawn over a panel"


def test_beyond_ten_runs_markers_tell_runs_of_one_colour_apart():
    styles = [run_style(i) for i in range(25)]
    assert len(set(styles)) == 25
    assert styles[0][0] == styles[10][0] and styles[0][1] != styles[10][1]


def test_saved_png_keeps_the_outside_legend(tmp_path):
    path = plot_curves_overlay(_histories(9), tmp_path / "curves.png")
    bare = curves_figure(_histories(9))
    for ax in bare.axes:
        if ax.get_legend():
            ax.get_legend().remove()
    bare_path = save_figure(bare, tmp_path / "bare.png")
    with Image.open(path) as img, Image.open(bare_path) as without:
        assert (
            img.size[0] > without.size[0] + 50
        )  # the tight crop kept the legend right of the panels


def _report_curves(tmp_path, histories, groups):
    figs = FigureSet(tmp_path / "figures", [])
    return curve_figures(figs, histories, groups)


def test_the_curves_caption_names_the_test_set_only_when_a_run_tracked_it(tmp_path):
    untracked = _histories(2)
    [fig] = _report_curves(tmp_path, untracked, {})
    assert "test" not in fig["caption"] and "dotted" not in fig["caption"]
    tracked = _histories(2)
    for r in tracked["run-1"]:
        r.update(test_loss=r["val_loss"], test_acc=r["val_acc"])
    [fig] = _report_curves(tmp_path, tracked, {})
    assert "dotted: the test set" in fig["caption"]


def test_a_group_of_every_run_repeats_no_figure(tmp_path):
    histories = _histories(3)
    everyone = {"all": ["run-0", "run-1", "run-2"]}
    assert [f["name"] for f in _report_curves(tmp_path, histories, everyone)] == ["curves.png"]
    two = {"pair": ["run-0", "run-1"]}
    made = _report_curves(tmp_path, histories, two)
    assert [f["name"] for f in made] == ["curves.png", "curves_pair.png"]
    assert "dotted" not in made[1]["caption"]
