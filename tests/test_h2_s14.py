"""Eval's data (session 14, H2): `--split all` of a run trained with `data.split` sizes summing to less
than its data scores every sample (or says how many it scores, where no train set is loaded to split
otherwise); the split notes (a carved split lacking classes) are said at training, once, and not again
at eval of the same run, whose scores they were said of — eval of other data says what its own draw
leaves out; `data.limit_eval`'s sample keeps one of each class where the limit allows, else names the
classes it leaves out; every note words a folder as "the data under data.root '…'"; a folder of images
with no class folders given to eval points to `vislab predict`."""

import warnings

import numpy as np
import pytest

import vislab
from conftest import TINY_RUN, cli, one_line, tiny_config
from fixtures import write_image_folder
from vislab.config import build_config
from vislab.data import load_splits
from vislab.errors import Note, UserError
from vislab.training.trainer import train

DIGITS = 1797  # every sample of sklearn's digits
CARVED = "has no sample of"  # the training note on a carved split lacking classes


def notes(call) -> list[str]:
    """The notes ``call()`` gives, each on one line (every one, repeats too)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [one_line(str(w.message)) for w in caught if issubclass(w.category, Note)]


# ------------------------------------------------------------------ --split all of data.split sizes
@pytest.fixture(scope="module")
def sized_run(tmp_path_factory):
    """A tiny MLP trained 1 epoch on data.split=[100, 30, 30] of the 1,797 digits."""
    folder = tmp_path_factory.mktemp("sized") / "run"
    sets = ("data.limit=null", "data.split=[100,30,30]", "train.epochs=1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)
        train(tiny_config(*sets), folder, quiet=True)
    return folder


def test_split_all_of_a_run_of_smaller_split_sizes_scores_every_sample(sized_run, capsys):
    with pytest.warns(Note, match="the 100 it trained on"):
        assert vislab.load_run(sized_run).evaluate("all")["n"] == DIGITS  # was 160
    code, out = cli(capsys, "eval", sized_run, "--split", "all", "--mistakes", "0")
    assert code == 0 and f"n={DIGITS}" in out, out


def test_split_all_of_split_sizes_with_no_train_set_loaded_says_how_many_it_scores(tmp_path):
    rng = np.random.default_rng(0)
    y, y_test = np.arange(60) % 3, np.arange(40) % 3
    x = (rng.integers(0, 60, (60, 8, 8)) + 60 * y[:, None, None]).astype(np.uint8)
    x_test = (rng.integers(0, 60, (40, 8, 8)) + 60 * y_test[:, None, None]).astype(np.uint8)
    name = vislab.register_arrays({"train": (x, y), "test": (x_test, y_test)}, name="h2-sized")
    kw = {**TINY_RUN, "data__use": ["test"], "data__split": [20, 5, 5], "train__batch_size": 5}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)
        run = vislab.train(data=name, out=tmp_path / "run", **kw)
    with pytest.warns(Note) as told:
        assert run.evaluate("all")["n"] == 30  # data.use=[test]: data.split's 30 of its 40
    said = one_line(" ".join(str(w.message) for w in told))
    assert "data.split=[20, 5, 5] keeps 30 of the 40 samples" in said, said
    assert "--split all scores those 30, not every one" in said, said
    assert "--set data.split=[30,5,5] (Python: data__split=[30, 5, 5])" in said, said
    assert "every sample" not in said, said
    assert run.evaluate("all", data__split=[30, 5, 5])["n"] == 40


# --------------------------------------------------------------- split notes: at training, not eval
@pytest.fixture(scope="module")
def carved_run(tmp_path_factory):
    """A folder of 3 classes of 4 images (its carved val and test: 1 image each, lacking 2 classes),
    a run trained on it (its notes kept) and a folder of new images of the same classes."""
    root, other = tmp_path_factory.mktemp("own"), tmp_path_factory.mktemp("other")
    write_image_folder(root, per_class=4)
    write_image_folder(other, per_class=4, seed=3)
    run = tmp_path_factory.mktemp("run") / "run"
    sets = ("data.name=folder", f"data.root={root}", "data.image_size=8", "data.limit=null")
    cfg = tiny_config(*sets, "train.epochs=1", "train.batch_size=5", "train.figures=true")
    said = notes(lambda: train(cfg, run, quiet=True))
    return run, root, other, said


def test_the_carved_split_note_is_said_once_at_training(carved_run):
    _, _, _, said = carved_run
    assert sum(CARVED in n for n in said) == 1, said


@pytest.mark.parametrize("split", ["test", "all"])
def test_eval_of_the_runs_own_data_does_not_repeat_the_training_split_note(carved_run, split):
    # the run's own split, drawn as at training: training said it; "all" scores every sample
    run, _, _, _ = carved_run
    said = notes(lambda: vislab.load_run(run).evaluate(split))
    assert not any(CARVED in n or "carved" in n for n in said), said


def test_eval_of_other_data_names_the_classes_its_own_carved_test_split_lacks(carved_run, capsys):
    run, _, other, _ = carved_run
    said = notes(lambda: vislab.load_run(run).evaluate("test", data__root=str(other)))
    (note,) = said  # one note, of the test split scored: not training's, nor of the unscored val
    assert f"the data under data.root '{other}' has no test set of its own" in note, note
    assert "these scores are of 1 of its 12 samples" in note, note
    assert "The test split scored holds no sample of 2 of the 3 classes" in note, note
    assert "val split" not in note, note
    code, out = cli(capsys, "eval", run, "--set", f"data.root={other}", "--mistakes", "0")
    assert code == 0 and one_line(out).count("note:") == 1, out


def test_the_changed_and_carved_notes_word_the_folder_alike(carved_run, tmp_path):
    run, root, other, _ = carved_run
    said = notes(lambda: vislab.load_run(run).evaluate("test", data__root=str(other)))
    (carved,) = [n for n in said if "has no test set of its own" in n]
    (root / "cat" / "extra.png").write_bytes((root / "cat" / "cat_0.png").read_bytes())
    try:
        changed = notes(lambda: vislab.load_run(run).evaluate("test"))
    finally:
        (root / "cat" / "extra.png").unlink()
    assert carved.startswith(f"the data under data.root '{other}' "), carved
    assert any(n.startswith(f"the data under data.root '{root}' changed") for n in changed), changed


# ------------------------------------------------------------------------------ data.limit_eval
def skewed(name: str) -> str:
    """``memory:<name>``: 60 training images of 3 classes and a test set of 20, 2 and 2 of them."""
    rng = np.random.default_rng(0)
    y, y_test = np.arange(60) % 3, np.repeat([0, 1, 2], [20, 2, 2])
    x = (rng.integers(0, 60, (60, 8, 8)) + 60 * y[:, None, None]).astype(np.uint8)
    x_test = (rng.integers(0, 60, (24, 8, 8)) + 60 * y_test[:, None, None]).astype(np.uint8)
    return vislab.register_arrays({"train": (x, y), "test": (x_test, y_test)}, name=name)


def test_limit_eval_keeps_one_of_each_class_where_the_limit_allows():
    cfg = build_config({"data": {"name": skewed("h2-skew"), "limit_eval": 3}}).data
    drawn = []
    said = notes(lambda: drawn.append(load_splits(cfg, 0)))
    splits = drawn[0]
    assert len(splits.test) == 3 and sorted(set(splits.test.y)) == [0, 1, 2]  # was 3 of class 0
    assert not any("limit_eval" in n for n in said), said


def test_limit_eval_below_the_classes_names_those_it_leaves_out():
    cfg = build_config({"data": {"name": skewed("h2-skew2"), "limit_eval": 2}}).data
    drawn = []
    said = notes(lambda: drawn.append(load_splits(cfg, 0)))
    (note,) = [n for n in said if "limit_eval" in n]
    splits = drawn[0]
    left = [repr(splits.class_names[k]) for k in sorted({0, 1, 2} - set(splits.test.y))]
    assert f"test holds none of {left[0]}" in note and "fewer samples than the 3 classes" in note, (
        note
    )
    assert "--set data.limit_eval=3 / data__limit_eval=3" in note, note


def test_eval_with_limit_eval_below_the_classes_names_those_it_leaves_out(carved_run):
    run, _, other, _ = carved_run
    kw = {"data__root": str(other), "data__test_fraction": 0.5, "data__limit_eval": 2}
    said = notes(lambda: vislab.load_run(run).evaluate("test", **kw))
    note = " ".join(said)
    assert "holds no sample of 1 of the 3 classes" in note, note
    assert "--set data.limit_eval=3 / data__limit_eval=3 keeps one of each" in note, note


# ---------------------------------------------------------------------- a folder of unlabelled images
def test_eval_of_a_folder_without_class_folders_points_to_predict(carved_run, tmp_path, capsys):
    run, root, _, _ = carved_run
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in (root / "cat").iterdir():
        (flat / f.name).write_bytes(f.read_bytes())
    code, out = cli(capsys, "eval", run, "--split", "all", "--set", f"data.root={flat}")
    said = one_line(out)
    assert code != 0 and "no class folders" in said, out
    assert "To classify them: vislab predict " in said and f" {flat} --csv" in said, out
    with pytest.raises(UserError, match="predict_files"):
        vislab.load_run(run).evaluate("all", data__root=str(flat))
