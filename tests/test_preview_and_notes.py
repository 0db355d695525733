"""What `vislab data preview` shows of mixup, cutmix and augment.p; the note on an EMA run's last.pt; CIFAR
batches with numpy integer labels; the note on classes that data.limit leaves without training images.

Preview figures are checked on the rows and titles handed to plot_image_grid (as tests/test_figures_by_hand.py
does), and the API's figure through its axes' titles."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import vislab
from conftest import cli, one_line, tiny_config
from fixtures import cifar_images, write_cifar
from vislab.config import DataConfig, load_config
from vislab.data import load_splits
from vislab.data.sources import load_source
from vislab.errors import CheckpointNote, DataError
from vislab.training.trainer import train


def _shares(title: str) -> list[tuple[str, float]]:
    """(kind, own share) per image from a mixed row's title: ('mixup', 0.72), ('cutmix', 0.55), ('kept', 1)."""
    listed = title.split("own share: ")[1].rstrip(")").split(", ")
    return [(s.split()[0], float(s.split()[1]) if " " in s else 1.0) for s in listed]


# ----------------------------------------------------------------------------------- data preview
def test_preview_draws_mixup_and_cutmix_pairs_as_training_mixes_them(capsys, tmp_path, grid_rows):
    sets = ("--set", "augment.mixup.p=1", "--set", "augment.cutmix.p=1")
    code, out = cli(capsys, "data", "preview", "digits", *sets, "-n", 6, "--copies", 3,
                    "--out", tmp_path / "mix.png")  # fmt: skip
    assert code == 0, out
    originals, *mixed = (r.astype(float) for r in grid_rows["rows"])
    kinds = set()
    for row, title in zip(mixed, grid_rows["titles"][1:], strict=True):
        assert "mixed" in title and "not augmented" not in title, title
        for j, (kind, own) in enumerate(_shares(title)):
            kinds.add(kind)
            mine, left = originals[j], originals[j - 1]  # each image with the one to its left
            if kind == "mixup":  # a blend weighted by the title's share (shown to 2 decimals)
                assert np.abs(row[j] - (own * mine + (1 - own) * left)).max() <= 2.5, (title, j)
            else:  # a box of the left image pasted: every pixel is its own or the left one's
                assert kind == "cutmix", title
                assert np.all((row[j] == mine) | (row[j] == left)), (title, j)
                assert (row[j] != mine).mean() <= 1 - own + 0.006, (title, j)  # within the box
    assert kinds == {"mixup", "cutmix"}  # both are drawn (each sample: one or the other)
    assert any(not np.array_equal(r, originals) for r in mixed)

    fig = vislab.preview_data("digits", n=6, copies=3, augment__mixup__p=1, augment__cutmix__p=1)
    assert [fig.axes[6 * i].get_title(loc="left") for i in range(4)] == grid_rows["titles"]


def test_preview_says_augment_p_0_augments_nothing(capsys, tmp_path, grid_rows):
    sets = ("--set", "augment.p=0", "--set", "augment.hflip.p=1")
    code, out = cli(
        capsys, "data", "preview", "digits", *sets, "-n", 5, "--out", tmp_path / "p.png"
    )
    assert code == 0, out
    originals, *copies = grid_rows["rows"]
    assert all(np.array_equal(c, originals) for c in copies)  # as training feeds them: untouched
    assert all("not augmented: augment.p=0" in t for t in grid_rows["titles"][1:])
    assert not any(t.startswith("augmented") for t in grid_rows["titles"])


def test_preview_titles_say_how_often_an_image_is_augmented_and_mixed():
    fig = vislab.preview_data(
        "digits", n=4, copies=1, augment__p=0.5, augment__hflip__p=1, augment__mixup__p=1
    )
    title = fig.axes[4].get_title(loc="left")
    assert "augment.p=0.5" in title and "then mixed" in title, title
    assert {kind for kind, _ in _shares(title)} == {"mixup"}


# ------------------------------------------------------------------------ an EMA run's last.pt
@pytest.fixture(scope="module")
def ema_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("ema") / "run"
    train(
        tiny_config("train.ema.decay=0.9", "train.epochs=1", "train.figures=false"), run, quiet=True
    )
    return run


def test_eval_of_an_ema_runs_last_pt_says_it_scores_the_average(ema_run, capsys):
    code, out = cli(capsys, "eval", ema_run, "--checkpoint", "last")
    said = one_line(out)
    assert code == 0 and "test: acc" in out
    assert "weights: last.pt's train.ema average, epoch 1" in said and "note:" not in said, out
    code, out = cli(capsys, "eval", ema_run)  # best.pt: the average, nothing to note
    assert code == 0 and "note" not in out, out


def test_run_evaluate_on_last_of_an_ema_run_scores_best_pts_average(ema_run):
    """1 epoch: best.pt and last.pt's average are the same weights, scored alike, with no note."""
    run = vislab.load_run(ema_run)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CheckpointNote)
        assert run.evaluate("val", checkpoint="last") == run.evaluate("val")  # best.pt: no note


# ------------------------------------------------------------------------------ CIFAR labels
def _hand_made_test_batch(folder, labels: list) -> None:
    """A test_batch pickled by Python 3 from numpy arrays, as a user might make one."""
    x, _ = cifar_images(len(labels))
    rows = x.transpose(0, 3, 1, 2).reshape(len(x), 3072)
    (folder / "test_batch").write_bytes(pickle.dumps({"data": rows, "labels": labels}))


def test_cifar_batch_with_numpy_integer_labels_loads(tmp_path):
    write_cifar(tmp_path)
    y = np.arange(12) % 10
    _hand_made_test_batch(tmp_path, list(y))  # np.int64 items, not Python ints
    data = load_source(DataConfig(name="cifar10", root=str(tmp_path), download=False))
    np.testing.assert_array_equal(data.sets["test"].y, y)


def test_cifar_batch_with_a_non_integer_label_names_its_type(tmp_path):
    write_cifar(tmp_path)
    _hand_made_test_batch(tmp_path, [0, 1, "cat", 3])
    with pytest.raises(DataError) as told:
        load_source(DataConfig(name="cifar10", root=str(tmp_path), download=False))
    said = one_line(str(told.value))
    assert "test_batch" in said and "item 2 is a str ('cat')" in said, said


# --------------------------------------------------------------------------------- data.limit
def test_data_info_names_the_classes_data_limit_left_without_training_images(capsys):
    cfg = load_config(None, ["data.name=digits", "data.limit=8"])
    train_y = load_splits(cfg.data, cfg.train.seed).train.y
    empty = [str(k) for k in range(10) if k not in train_y]
    assert empty  # 8 images cannot cover 10 classes
    code, out = cli(capsys, "data", "info", "digits", "--set", "data.limit=8")
    said = one_line(out)
    assert code == 0 and "note: data.limit=8" in said, out
    assert f"drew none of {', '.join(repr(c) for c in empty)}:" in said, said
    assert "--set data.limit=100 / data__limit=100" in said
    code, out = cli(capsys, "data", "info", "digits", "--set", "data.limit=300")
    assert code == 0 and "note" not in out, out  # every class drawn: nothing to say


def test_a_run_notes_the_classes_data_limit_left_without_training_images(capsys, tmp_path):
    """The same note at the run's start, before epoch 1: a run that never sees a class trains on."""
    sets = ("data.name=digits", "data.limit=8", "model.name=mlp", "train.batch_size=4")
    args = [a for s in (*sets, "train.figures=false") for a in ("--set", s)]
    code, out = cli(capsys, "train", "--out", tmp_path / "r", "--epochs", "1", *args)
    said = one_line(out)
    assert code == 0 and "note: data.limit=8 draws the training images at random" in said, out
    assert out.index("note: data.limit=8") < out.index("epoch 1/1")
