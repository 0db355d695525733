"""What a user sees where nothing else looked: the test split of a run's last.pt drawn from last.pt, a
resume on the same classes in another order refused, the note of weights blowing up, a run extended to the
epochs it has trained refused, data.limit_per_class beside a class
without samples, `vislab eval RUN/checkpoints/best.pt`'s figure names, a mid-epoch last.pt's note, and which
test images data.limit_eval draws."""

from __future__ import annotations

import hashlib
import json
import shutil
import warnings

import numpy as np
import pytest

import vislab
from conftest import TINY_DIGITS, cli, one_line, tiny_config, tiny_sets
from test_resume import sigterm_at_step
from vislab.config import build_config
from vislab.data import load_splits
from vislab.errors import CheckpointNote, DataError, Note, TrainingInterrupted
from vislab.training.checkpoint import pick_checkpoint
from vislab.training.trainer import train


def _drawn(figure) -> np.ndarray:
    return figure.axes[0].images[0].get_array()


# ------------------------------------------------------------------ the test split of last.pt
@pytest.fixture(scope="module")
def swapped(tmp_path_factory):
    """(run, other): ``run``'s last.pt holds ``other``'s weights (another learning rate), its best.pt its
    own (whose test predictions the run saved at its end)."""
    root = tmp_path_factory.mktemp("swapped")
    run = vislab.train(out=root / "x" / "run", **TINY_DIGITS).path
    other = vislab.train(out=root / "y" / "run", optim__lr=0.05, **TINY_DIGITS).path
    shutil.copy(other / "checkpoints" / "last.pt", run / "checkpoints" / "last.pt")
    return vislab.load_run(run), vislab.load_run(other)


def test_the_test_split_of_last_pt_is_drawn_from_last_pt_not_best_pts_saved_predictions(swapped):
    run, other = swapped
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointNote)  # the file asked for: no note of standing in
        # the run's summary.json scored its own weights at that epoch, not the other run's last.pt
        with pytest.warns(Note, match="the checkpoint replaced"):
            last = _drawn(run.plot("confusion", "test", checkpoint="last"))
    assert np.array_equal(last, _drawn(other.plot("confusion", "test")))
    assert not np.array_equal(last, _drawn(run.plot("confusion", "test")))  # best.pt's own


# ------------------------------------------------------------------ resuming on reordered classes
def test_a_resume_on_the_same_classes_in_another_order_is_refused_naming_the_order(
    tmp_path, capsys
):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (60, 8, 8), dtype=np.uint8), np.arange(60) % 3
    names = ["cat", "dog", "frog"]
    data = vislab.register_arrays(x, y, names, name="m2s15-order")
    run = tmp_path / "run"
    vislab.train(
        out=run, **(TINY_DIGITS | {"data": data, "data__limit": None, "train__batch_size": 7})
    )
    # the same images and classes, the names listed in another order (each label follows its name)
    order = ["frog", "cat", "dog"]
    vislab.register_arrays(x, [order.index(names[k]) for k in y], order, name="m2s15-order")
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "2", "-q")
    said = one_line(text)
    assert code == 2 and "classes reordered: cat, dog, frog → frog, cat, dog" in said, text
    assert json.loads((run / "summary.json").read_text())["epochs_run"] == 1
    with pytest.raises(DataError, match="classes reordered"):
        vislab.train(out=run, resume=True, epochs=2)


# ------------------------------------------------------------------ weights blowing up
def test_a_learning_rate_that_blows_the_weights_up_is_noted_once(tmp_path, capsys):
    """The loss stays finite (the run goes on), but at 10× that of guessing: the note says so, once."""
    sets = tiny_sets("optim.name=sgd", "optim.lr=50", "train.epochs=2")
    code, text = cli(capsys, "train", *sets, "--out", tmp_path / "run")
    said = one_line(text)
    assert code == 0 and said.count("the weights are blowing up") == 1, text
    kept = json.loads((tmp_path / "run" / "summary.json").read_text())["notes_given"]
    assert [n for n in kept if "the weights are blowing up" in n], (
        kept
    )  # under results.md's table too
    assert "note: the train loss of epoch 1 is" in said and "Lower optim.lr" in said, text
    assert "set train.grad_clip" in said, text


# ------------------------------------------------------------------ extending to the epochs trained
class _StopAfterFirstEpoch(vislab.Callback):
    def on_epoch_end(self, row: dict) -> None:
        raise KeyboardInterrupt("enough")  # a user's own stop


def test_resuming_to_as_many_epochs_as_trained_is_refused_and_leaves_the_run_unfinished(
    tmp_path, capsys
):
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        vislab.train(
            out=run, callbacks=[_StopAfterFirstEpoch()], **(TINY_DIGITS | {"train__epochs": 3})
        )
    code, text = cli(capsys, "train", "--resume", run, "--epochs", "1", "-q")
    said = one_line(text)
    assert code == 2 and "it has trained 1 already. Give more epochs than that" in said, text
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 1  # its one epoch, kept
    # not called complete: the run the callback stopped says interrupted
    summary = run / "summary.json"
    assert json.loads(summary.read_text())["status"] == "interrupted"


# ------------------------------------------------------------------ limit_per_class beside an empty class
def test_limit_per_class_keeps_n_of_each_class_present_beside_a_class_listed_without_samples():
    """A source may list a class it holds no sample of (EMNIST letters' 'N/A'): data.limit_per_class
    keeps n images of each class it holds, rather than refusing the one it cannot fill."""
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (90, 8, 8), dtype=np.uint8), 1 + np.arange(90) % 2
    data = vislab.register_arrays(x, y, ["N/A", "a", "b"], name="m2s15-empty-class")
    cfg = build_config({}, [f"data.name={data}", "data.limit_per_class=5"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)
        train_split = load_splits(cfg.data, 0).train
    assert np.bincount(train_split.y, minlength=3).tolist() == [0, 5, 5]


# ------------------------------------------------------------------ eval of a run's best.pt by its path
def test_eval_of_a_runs_own_best_pt_writes_the_runs_figure_and_last_pt_its_own(trained, capsys):
    figures = trained / "figures"
    code, text = cli(capsys, "eval", trained / "checkpoints" / "best.pt", "--split", "test")
    assert code == 0, text
    assert (figures / "confusion_test.png").is_file(), (
        text
    )  # the run's own figure, the run's own name
    assert not list(figures.glob("*_best.png")), sorted(p.name for p in figures.iterdir())
    code, text = cli(capsys, "eval", trained / "checkpoints" / "last.pt", "--split", "test")
    assert code == 0 and (figures / "confusion_test_last.png").is_file(), text


# ------------------------------------------------------------------ a mid-epoch last.pt's note
def test_a_mid_epoch_last_pt_is_not_called_what_best_pt_would_hold(tmp_path, monkeypatch):
    """A train.ema run stopped in its first epoch: last.pt's average is of weights mid-epoch, which no
    evaluation picked and best.pt would never hold."""
    run = tmp_path / "run"
    cfg = tiny_config("train.ema.decay=0.9", "train.figures=false")
    with sigterm_at_step(monkeypatch, lambda per_epoch: 3), pytest.raises(TrainingInterrupted):
        train(cfg, run, quiet=True)
    with pytest.warns(CheckpointNote) as caught:
        pick_checkpoint(run).show_note()
    said = one_line(str(caught[0].message))
    assert "the train.ema average of its weights at epoch 1, step" in said, said
    assert "what best.pt would hold" not in said, said


# ------------------------------------------------------------------ the test images limit_eval draws
def test_the_test_images_data_limit_eval_draws_are_the_ones_earlier_runs_scored_on():
    """Scores of runs with data.limit_eval compare with earlier runs' only on the same test images: which
    of the official test set's images the sample holds is pinned (as default splits are)."""
    cfg = build_config({}, ["data.name=digits", "data.limit_eval=50", "train.seed=3"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)
        splits = load_splits(cfg.data, cfg.train.seed)
    drawn = {k: hashlib.sha256(s.origin.tobytes()).hexdigest()[:16] for k, s in splits.items()}
    assert (len(splits.val), len(splits.test)) == (50, 50)
    assert (drawn["val"], drawn["test"]) == ("a4af0971ecd1ce37", "ea1c5905116047df")
