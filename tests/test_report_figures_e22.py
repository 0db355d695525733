"""Report figures a reader can trust: runs whose names differ only in punctuation ("a b", "a_b") each get
their own figure files; seed means say which epochs (and classes) fewer seeds count in; a class name
matplotlib's font cannot draw (猫) is one vislab note on the terminal, not raw warnings."""

import html
import re
from pathlib import Path

import numpy as np

from conftest import tiny_config
from fixtures import write_image_folder
from vislab.plotting.canvas import captured_figures, plt
from vislab.report.build import build_report
from vislab.report.figure_set import FigureSet, unique_names
from vislab.report.sections import curve_figures
from vislab.report.seed_figures import SeedPredictions, row_figures
from vislab.training.trainer import train

FIGURE = re.compile(r'<img src="([^"]+)" alt="[^"]*"><figcaption>(.*?)</figcaption>', re.S)


def _figures(page: Path) -> dict[str, str]:
    """The report's figures: caption → the image embedded above it."""
    return {html.unescape(c): src for src, c in FIGURE.findall(page.read_text(encoding="utf-8"))}


def test_runs_named_alike_show_their_own_figures(tmp_path):
    """'a b' and 'a_b' (one file name part once): each caption shows its own run's test figures."""
    train(tiny_config("train.epochs=1", "train.seed=0", "train.figures=false"), tmp_path / "a b")
    train(
        tiny_config("train.epochs=2", "train.seed=3", "model.hidden=[8]", "train.figures=false"),
        tmp_path / "a_b",
    )
    figures = _figures(build_report(tmp_path, log=lambda _: None))
    pairs = [
        (src, figures[f"a_b:{caption[len('a b:') :]}"])
        for caption, src in figures.items()
        if caption.startswith("a b:")
    ]
    assert len(pairs) >= 4  # confusion matrix, per-class accuracy, ROC, mistakes
    for one, other in pairs:
        assert one != other
    drawn = sorted(p.name for p in (tmp_path / "figures").glob("*_a_b*.png"))
    named = unique_names(["a b", "a_b"]).values()  # a_b-<8 hex digits> each
    kinds = ("confusion", "per_class", "roc", "mistakes")
    assert drawn == sorted(f"{kind}_{part}.png" for kind in kinds for part in named)


def test_file_names_distinct_for_distinct_names(tmp_path):
    """unique_names keeps a name's safe form where no other name has it, else adds a stable suffix; a
    FigureSet gives a name met during drawing a part no other name of the build has."""
    names = ["a b", "a_b", "cnn", "A", "a", "x.y"]
    parts = unique_names(names)
    assert parts["cnn"] == "cnn" and parts["x.y"] == "x.y"
    assert len({p.casefold() for p in parts.values()}) == len(names)  # also on a macOS disk
    assert (
        parts["a b"].startswith("a_b-") and unique_names(["a b", "a_b", "z"])["a b"] == parts["a b"]
    )
    figs = FigureSet(tmp_path / "figures", [])
    try:
        assert [figs.file_part(n) for n in ("a b", "a_b", "a b")][::2] == ["a_b", "a_b"]
        assert figs.file_part("a_b") != "a_b"
    finally:
        figs.close()


def _history(epochs: int, start: float) -> list[dict]:
    """Metrics rows of a run that stopped after ``epochs`` epochs."""
    return [
        dict(epoch=e, train_loss=1 / e, val_loss=1.2 / e, train_acc=start + 0.01 * e, val_acc=start)
        for e in range(1, epochs + 1)
    ]


def test_seed_curves_say_where_fewer_seeds_count(tmp_path):
    """Seeds stopped early after 5, 5 and 3 epochs: the caption says epochs 4–5 are the mean of 2 of the
    3 seeds, and the figure draws those epochs apart (faded, named in the legend)."""
    histories = {
        "cnn-s0": _history(5, 0.9),
        "cnn-s1": _history(5, 0.95),
        "cnn-s2": _history(3, 0.7),
    }
    figs = FigureSet(tmp_path / "figures", [])
    try:
        with captured_figures() as drawn:
            [fig] = curve_figures(figs, histories, {}, {"cnn": list(histories)})
    finally:
        figs.close()
    assert "2 of 3 seeds at epochs 4–5" in fig["caption"]
    [figure] = drawn
    acc = figure.axes[1]
    full = [ln for ln in acc.get_lines() if ln.get_alpha() is None and ln.get_linestyle() == "--"]
    val = full[0].get_ydata()  # the val accuracy mean where all three seeds count: epochs 1–3 only
    assert np.isfinite(val[:3]).all() and np.isnan(val[3:]).all()
    words = [t.get_text() for t in acc.get_legend().get_texts()]
    assert any("fewer seeds" in w for w in words)
    plt.close(figure)


def _seed(run: str, labels: list[int]) -> SeedPredictions:
    """A seed run's test predictions over 3 classes, every image right."""
    probs = np.eye(3)[labels] * 0.9 + 0.05
    return SeedPredictions(run, probs, np.array(labels), ["cat", "dog", "frog"])


def test_per_class_bars_mark_classes_fewer_seeds_hold(tmp_path):
    """A class only one of two seeds' test splits holds: its bar says so, and the caption."""
    seeds = [_seed("cnn-s0", [0, 1, 2, 0]), _seed("cnn-s1", [0, 1, 1, 0])]
    figs = FigureSet(tmp_path / "figures", [])
    try:
        with captured_figures() as drawn:
            made = row_figures(figs, "cnn", seeds)
    finally:
        figs.close()
    [per_class] = [f for f in made if f["name"].startswith("per_class_")]
    assert "class frog: 1 of 2 seeds" in per_class["caption"]
    [figure] = [f for f in drawn if "per-class" in f.axes[0].get_title()]
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.texts] == ["1 of 2 seeds"]
    assert [p.get_alpha() for p in ax.patches][2] < 1 and ax.patches[0].get_alpha() in (None, 1)
    for f in drawn:
        plt.close(f)


def _vislab(zygote, log: Path, *args: str) -> str:
    """``vislab ARGS`` as a user runs it, a real process (forked by the module's zygote, tests/fixtures.py,
    instead of seconds of imports): what it prints (it must succeed)."""
    pid = zygote.start(list(args), log)
    try:
        code = zygote.wait(pid, 300)
    finally:
        zygote.kill(pid)
    assert code == 0, log.read_text()
    return log.read_text()


def test_class_name_without_glyph_is_one_note(zygote, tmp_path):
    """A class folder named 猫: train and eval draw their figures with one note each in vislab's words
    (what the figures show, how to draw it), no matplotlib warning with vislab's source lines."""
    write_image_folder(tmp_path / "imgs", classes=("猫", "dog"), per_class=12)
    sets = [
        "data.name=folder",
        f"data.root={tmp_path / 'imgs'}",
        "data.image_size=12",
        "model.name=mlp",
        "model.hidden=[8]",
        "train.epochs=1",
        "train.batch_size=8",
        "train.device=cpu",
    ]
    run = tmp_path / "run"
    sets = [x for s in sets for x in ("--set", s)]
    trained = _vislab(zygote, tmp_path / "train.log", "train", "--out", str(run), *sets)
    for err in (trained, _vislab(zygote, tmp_path / "eval.log", "eval", str(run))):
        assert "Warning" not in err and "Glyph" not in err and ".py:" not in err, err
        notes = [line for line in err.splitlines() if line.startswith("note:") and "U+732B" in line]
        assert len(notes) == 1, err
        assert "'猫'" in notes[0] and "font" in notes[0]
