"""Session 26, fix G: a row that always guesses one class is never bold in the per-class table (whatever
its model), eval writes the ROC figure beside the confusion matrix, and the learning curves' legend says
which runs' curves a later run's line hides (the same numbers)."""

from conftest import cli, one_line
from vislab.experiments.results.per_class import class_key, per_class_table
from vislab.plotting.runs import curves_figure
from vislab.training.summary import RunSummary

GUESSED = "(one class always guessed: recall 1 there, 0 elsewhere)."


def _summary(model: str, *recall: float) -> RunSummary:
    return RunSummary.from_json(
        {"model": model, "test_per_class": {str(i): r for i, r in enumerate(recall)}}
    )


# ------------------------------------------------------------------------ G1: the per-class bold
def test_a_model_that_always_guesses_one_class_is_not_bold_there():
    """dlvc-compare's vit-deep predicting class 2 for every image: its 1.0 there is no best."""
    summaries = {
        "vit-deep": _summary("vit", 0.0, 0.0, 1.0),
        "cnn": _summary("cnn", 0.9, 0.8, 0.7),
        "mlp": _summary("mlp", 0.5, 0.6, 0.6),
    }
    table = per_class_table(summaries)
    assert (0, class_key(2)) not in table.bold
    assert table.bold == {(1, class_key(0)), (1, class_key(1)), (1, class_key(2))}  # cnn's
    said = f"Not ranked in bold: vit-deep {GUESSED}"
    assert said in table.markdown() and said in table.caption()


def test_the_note_names_the_majority_baseline_and_the_guessing_model_apart():
    summaries = {
        "majority": _summary("majority", 1.0, 0.0),
        "vit-deep": _summary("vit", 0.0, 1.0),
        "cnn": _summary("cnn", 0.9, 0.8),
        "mlp": _summary("mlp", 0.7, 0.6),
    }
    table = per_class_table(summaries)
    assert table.bold == {(2, class_key(0)), (2, class_key(1))}
    assert f"Not ranked in bold: majority, the majority baseline, and vit-deep {GUESSED}" in (
        table.note
    )


def test_a_row_of_seeds_is_not_bold_where_every_seed_guesses_one_class():
    summaries = {
        "vit-s0": _summary("vit", 0.0, 1.0, None),  # no test image of class 2: left out
        "vit-s1": _summary("vit", 1.0, 0.0, None),
        "cnn-s0": _summary("cnn", 0.9, 0.6, None),
        "cnn-s1": _summary("cnn", 0.6, 0.9, None),  # one class 1.0 is not all: ranked
        "mlp-s0": _summary("mlp", 0.5, 1.0, None),
    }
    rows = {"vit": ["vit-s0", "vit-s1"], "cnn": ["cnn-s0", "cnn-s1"], "mlp": ["mlp-s0"]}
    table = per_class_table(summaries, rows)
    assert not {k for i, k in table.bold if i == 0}
    assert f"Not ranked in bold: vit {GUESSED}" in table.note
    assert "mlp" not in table.note.partition("Not ranked in bold")[2]


# ------------------------------------------------------------------------------- G2: eval's ROC
def test_eval_writes_the_roc_figure_with_the_micro_average(capsys, trained, monkeypatch):
    import vislab.plotting.roc as roc

    drawn, real = {}, roc.plot_roc
    monkeypatch.setattr(roc, "plot_roc", lambda *a, **kw: drawn.update(kw) or real(*a, **kw))
    code, text = cli(capsys, "eval", trained, "--mistakes", "0")
    assert code == 0, text
    png = trained / "figures" / "roc_test.png"
    assert png.is_file() and png.stat().st_size > 0
    assert f"ROC curves (one vs rest; macro and micro average): {png}" in one_line(text)
    assert drawn["micro"] is not None and drawn["title"] == "run: test"


def test_eval_of_the_last_checkpoint_names_its_roc_as_its_confusion(capsys, trained, tmp_path):
    code, text = cli(capsys, "eval", trained, "--checkpoint", "last", "--mistakes", "0")
    assert code == 0, text
    assert (trained / "figures" / "roc_test_last.png").is_file()
    assert (trained / "figures" / "confusion_test_last.png").is_file()
    # in a folder of the user's: an earlier ROC figure is replaced only with --force
    (tmp_path / "roc_test.png").write_bytes(b"mine")
    code, text = cli(capsys, "eval", trained, "--out", tmp_path, "--mistakes", "0")
    assert code != 0 and "roc_test.png" in text, text
    assert (tmp_path / "roc_test.png").read_bytes() == b"mine"


# --------------------------------------------------------------------- G3: curves drawn over others
def _rows(loss: float) -> list[dict]:
    return [
        {"epoch": e, "train_loss": loss / e, "val_loss": loss / e, "train_acc": 0.5, "val_acc": 0.5}
        for e in (1, 2)
    ]


def _legend(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[-1].get_legend().get_texts()]


def test_the_legend_says_which_runs_curves_another_line_hides():
    same = _rows(1.0)
    histories = {
        "default": same,
        "impl-autograd": [dict(r, train_loss=r["train_loss"] + 1e-12) for r in same],
        "other": _rows(2.0),
        "impl-optim": same,
    }
    legend = _legend(curves_figure(histories, title=""))
    assert legend[:4] == [
        "default (same curves as impl-optim)",
        "impl-autograd (same curves as impl-optim)",
        "other",
        "impl-optim",
    ]


def test_curves_that_differ_keep_their_plain_names():
    shorter = _rows(1.0)[:1]  # the same first epoch, one epoch fewer: another curve
    legend = _legend(curves_figure({"a": _rows(1.0), "b": shorter}, title=""))
    assert legend[:2] == ["a", "b"]
