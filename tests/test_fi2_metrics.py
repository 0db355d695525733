"""A student's imbalanced data: best.pt and the patience on a val_pacc that ties (the lower val_loss wins, a
resume chooses the same), the curves that show pacc and best.pt's epoch, a confusion matrix that says what
its shade is, and eval's per-class and confusion numbers as CSVs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import vislab
from conftest import cli
from vislab.training.checkpoint import load_checkpoint
from vislab.training.history import EpochRow


def three_shades(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` 8×8 grey images of 3 classes, each class its own brightness: the tiny MLP below gets 2 of the
    3 classes of its 12-image val split right from epoch 2 on (val_pacc ties at 0.6667) while its val_loss
    keeps falling."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3)
    x = (rng.integers(0, 40, (n, 8, 8)) + 100 * y[:, None, None]).astype(np.uint8)
    return x, y


RUN = dict(
    model="mlp",
    model__hidden=[16],
    train__batch_size=16,
    train__early_stop=2,
    train__device="cpu",
    train__figures=False,
    train__seed=0,
    train__threads=1,
    quiet=True,
)


def rows_of(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def summary_of(run) -> dict:
    return json.loads((run / "summary.json").read_text())


def read_csv(path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def tied(tmp_path_factory):
    """The run trained for 5 epochs at once, and the same run trained for 3, then resumed to 5."""
    folder = tmp_path_factory.mktemp("tied")
    data = three_shades()
    once = vislab.train(data=data, out=folder / "once", train__epochs=5, **RUN).path
    vislab.train(data=data, out=folder / "twice", train__epochs=3, **RUN)
    twice = vislab.train(out=folder / "twice", resume=True, epochs=5).path
    return once, twice


# ------------------------------------------------------------------- best.pt and the patience on a tie
def test_a_tie_on_val_pacc_goes_to_the_lower_val_loss_and_keeps_the_patience_going(tied):
    once, _ = tied
    rows, summary = rows_of(once), summary_of(once)
    top = max(r["val_pacc"] for r in rows)
    tied_rows = [r for r in rows if r["val_pacc"] == top]
    assert len(tied_rows) >= 3  # the case: val_pacc the same at several epochs
    lowest = min(tied_rows, key=lambda r: r["val_loss"])
    assert lowest["epoch"] > tied_rows[0]["epoch"]  # the old rule kept the first of them
    assert summary["best_epoch"] == lowest["epoch"]
    assert load_checkpoint(once / "checkpoints" / "best.pt").epoch == lowest["epoch"]
    assert summary["val_loss"] == pytest.approx(lowest["val_loss"], abs=1e-6)
    # train.early_stop=2: each tie with a lower val_loss restarts the patience, so all 5 epochs ran
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5]
    assert summary["stopped_early"] is False


def test_a_resumed_run_breaks_the_tie_as_the_run_trained_at_once(tied):
    once, twice = tied
    assert [r["val_loss"] for r in rows_of(twice)] == [r["val_loss"] for r in rows_of(once)]
    for key in ("best_epoch", "stopped_early", "val_pacc", "val_loss", "test_acc"):
        assert summary_of(twice)[key] == summary_of(once)[key], key
    assert summary_of(twice)["best_epoch"] == 5


def test_min_delta_keeps_its_meaning_a_tie_never_beats_it():
    from vislab.training.plateau import better, improves

    assert better(0.5, 0.5, "val_pacc", 0.0, loss=0.3, best_loss=0.4)  # a tie, a lower loss
    assert not better(0.5, 0.5, "val_pacc", 0.0, loss=0.4, best_loss=0.4)
    assert not better(0.5, 0.5, "val_pacc", 0.01, loss=0.1, best_loss=0.4)  # not by more than 0.01
    assert not better(0.6, 0.6, "val_loss", 0.0, loss=0.5, best_loss=0.6)  # a loss: no tie-break
    rows = [
        EpochRow(e, 0.0, 0.0, None, 0.0, val_pacc=p, val_loss=v)
        for e, p, v in [(1, 0.5, 0.9), (2, 0.5, 0.7), (3, 0.5, 0.8)]
    ]
    tie = EpochRow(4, 0.0, 0.0, None, 0.0, val_pacc=0.5, val_loss=0.75)
    assert not improves(tie, rows, "val_pacc", 0.0)  # epoch 2's 0.7 is the one to beat
    assert improves(
        EpochRow(4, 0.0, 0.0, None, 0.0, val_pacc=0.5, val_loss=0.6), rows, "val_pacc", 0
    )
    assert not improves(
        EpochRow(4, 0.0, 0.0, None, 0.0, val_pacc=0.5, val_loss=0.1), rows, "val_pacc", 0.01
    )


# ------------------------------------------------------------------- the figures
def test_the_curves_show_pacc_beside_accuracy_and_mark_best_pts_epoch():
    from vislab.plotting.runs import curves_figure

    rows = [
        {"epoch": e, "train_loss": 1 / e, "train_acc": 0.5, "val_acc": 0.9, "val_pacc": 0.6,
         "val_loss": 1 / e, "test_acc": 0.8, "test_pacc": 0.5 + e / 100}
        for e in range(1, 5)
    ]  # fmt: skip
    fig = curves_figure({"r2": rows}, best={"r2": 3})
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert labels == ["loss", "accuracy", "per-class accuracy (pacc)"]
    pacc = fig.axes[2]
    drawn = {
        line.get_label(): list(line.get_ydata())
        for line in pacc.lines
        if line.get_label()[0] != "_"
    }
    assert drawn["val"] == [0.6] * 4 and drawn["test (tracked)"] == [r["test_pacc"] for r in rows]
    for ax in fig.axes:  # best.pt's epoch: a vertical line on each panel
        assert any(list(line.get_xdata()) == [3, 3] for line in ax.lines)
    legend = [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]
    assert "best.pt (epoch 3)" in legend


def test_the_confusion_matrix_says_its_shade_is_each_true_class_share():
    from vislab.plotting.runs import confusion_figure

    fig = confusion_figure(np.array([[10, 0], [1, 0]]), ["big", "small"], title="r2: val")
    title = fig.axes[0].get_title()
    assert title == "r2: val (counts; shade: share of the true class)"
    shares = fig.axes[0].images[0].get_array()
    assert shares[0, 0] == shares[1, 0] == 1.0  # 10 of 10 and 1 of 1: the same shade, as said


# ------------------------------------------------------------------- eval's numbers as CSVs
def test_eval_writes_the_per_class_table_and_the_confusion_counts_as_csv(tied, capsys):
    once, _ = tied
    code, text = cli(capsys, "eval", once, "--split", "val", "--mistakes", "0")
    assert code == 0, text
    table, counts = once / "figures" / "per_class_val.csv", once / "figures" / "confusion_val.csv"
    assert f"per-class table (columns class, n, correct, recall, precision, f1): {table}" in text
    assert str(counts) in text
    rows = read_csv(table)
    summary = summary_of(once)
    assert [r["class"] for r in rows] == list(summary["val_per_class"])
    for r in rows:  # the recall is the per-class accuracy summary.json and the table show
        assert float(r["recall"]) == pytest.approx(summary["val_per_class"][r["class"]])
        assert int(r["correct"]) / int(r["n"]) == pytest.approx(float(r["recall"]))
    assert sum(int(r["n"]) for r in rows) == summary["n_val"]
    matrix = read_csv(counts)
    assert list(matrix[0]) == ["true \\ predicted", *summary["val_per_class"]]
    for r, m in zip(rows, matrix):  # a row per true class: its images, the diagonal its right ones
        assert m["true \\ predicted"] == r["class"]
        assert sum(int(m[c]) for c in summary["val_per_class"]) == int(r["n"])
        assert int(m[r["class"]]) == int(r["correct"])


def test_the_per_class_table_leaves_an_undefined_share_empty():
    from vislab.training.metrics import per_class_table

    fields, rows = per_class_table(np.array([[9, 0, 0], [1, 0, 0], [0, 0, 0]]), ["a", "b", "c"])
    assert fields == ["class", "n", "correct", "recall", "precision", "f1"]
    f1 = pytest.approx(2 * 0.9 * 1.0 / (0.9 + 1.0))
    assert rows[0] == {
        "class": "a",
        "n": 9,
        "correct": 9,
        "recall": 1.0,
        "precision": 0.9,
        "f1": f1,
    }
    assert (rows[1]["recall"], rows[1]["precision"], rows[1]["f1"]) == (
        0.0,
        None,
        0.0,
    )  # never predicted
    assert (rows[2]["n"], rows[2]["recall"], rows[2]["f1"]) == (0, None, None)  # no image of it
    # no image of class c, one predicted as c: precision 0, but recall and so F1 undefined (was 0.0)
    rows = per_class_table(np.array([[9, 0, 1], [1, 0, 0], [0, 0, 0]]), ["a", "b", "c"])[1]
    assert (rows[2]["n"], rows[2]["precision"], rows[2]["recall"], rows[2]["f1"]) == (
        0,
        0.0,
        None,
        None,
    )


# ------------------------------------------------------------------- with the patches outside FI2's area
def test_the_runs_curves_png_and_run_plot_mark_best_pts_epoch(tmp_path, monkeypatch):
    import vislab.plotting.runs as runs

    marked, real = [], runs.plot_curves

    def spy(history, path, **kw):
        marked.append(kw.get("best_epoch"))
        return real(history, path, **kw)

    monkeypatch.setattr(runs, "plot_curves", spy)
    run = vislab.train(
        data=three_shades(), out=tmp_path / "r", train__epochs=3, **dict(RUN, train__figures=True)
    )
    best = summary_of(run.path)["best_epoch"]
    assert marked == [best] and (run.path / "figures" / "curves.png").is_file()
    fig = vislab.load_run(run.path).plot("curves")
    assert [ax.get_ylabel() for ax in fig.axes][-1] == "per-class accuracy (pacc)"
    assert all(any(list(line.get_xdata()) == [best, best] for line in ax.lines) for ax in fig.axes)


def test_run_evaluate_gives_the_tables_eval_writes(tied, capsys):
    once, _ = tied
    scores = vislab.load_run(once).evaluate("val")
    assert cli(capsys, "eval", once, "--split", "val", "--mistakes", "0")[0] == 0
    table = read_csv(once / "figures" / "per_class_val.csv")
    assert list(scores["table"][0]) == list(table[0])
    assert [r["n"] for r in scores["table"]] == [int(r["n"]) for r in table]
    recalls = [r["recall"] for r in scores["table"]]
    assert recalls == pytest.approx([float(r["recall"]) for r in table])
    counts = read_csv(once / "figures" / "confusion_val.csv")
    names = list(scores["per_class"])
    assert scores["confusion"] == [[int(row[c]) for c in names] for row in counts]
    assert json.loads(json.dumps(scores)) == scores  # plain values: saved as JSON, compared
