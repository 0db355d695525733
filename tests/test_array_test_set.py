"""A test set of one's own from Python: data={"train": (x, y[, names]), "test": (x_test, y_test)} —
the test split is exactly the given arrays, val is carved from train alone, and bad input is refused."""

from __future__ import annotations

import re

import numpy as np
import pytest

import vislab
from conftest import TINY_RUN, one_line
from vislab.config import DataConfig
from vislab.data import load_splits
from vislab.data.sources import memory
from vislab.errors import DataError

NAMES = [f"digit{i}" for i in range(10)]


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's digits split by hand: 240 train and 90 test 8×8 uint8 images, no image in both."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x, y = (d.images * 15).astype(np.uint8), d.target
    x_train, y_train, x_test, y_test = x[:240], y[:240], x[240:330], y[240:330]
    assert not {a.tobytes() for a in x_train} & {a.tobytes() for a in x_test}
    return x_train, y_train, x_test, y_test


def rows(x: np.ndarray) -> list[bytes]:
    return sorted(a.tobytes() for a in x)


def test_the_test_split_is_the_given_test_set_and_val_is_carved_from_train(tmp_path, digits):
    x, y, xt, yt = digits
    run = vislab.train(
        data={"train": (x, y, NAMES), "test": (xt, yt)}, out=tmp_path / "r", **TINY_RUN
    )
    assert run.summary["n_test"] == len(xt) == 90
    assert run.evaluate("test")["acc"] == pytest.approx(run.summary["test_acc"])
    splits = load_splits(DataConfig(name=run.config.data.name), seed=0)
    np.testing.assert_array_equal(splits.test.x[..., 0], xt)
    np.testing.assert_array_equal(splits.test.y, yt)
    assert len(splits.val) == round(len(x) * run.config.data.val_fraction)
    seen = np.concatenate([splits.train.x, splits.val.x])[..., 0]
    assert rows(seen) == rows(x)  # train and val: the train arrays, all of them, no test image
    assert splits.class_names == NAMES
    assert set(run.evaluate("test")["per_class"]) == set(NAMES)


def test_without_class_names_the_classes_are_the_train_labels(digits):
    x, y, xt, yt = digits
    splits = load_splits(
        DataConfig(name=vislab.register_arrays({"train": (x, y), "test": (xt, yt)})), 0
    )
    assert splits.class_names == [str(i) for i in range(10)] and len(splits.test) == 90


def test_data_use_train_only_carves_the_test_split_from_train_as_for_mnist(digits):
    x, y, xt, yt = digits
    name = vislab.register_arrays({"train": (x, y), "test": (xt, yt)})
    splits = load_splits(DataConfig(name=name, use=["train"]), seed=0)
    assert rows(np.concatenate([s.x for _, s in splits.items()])[..., 0]) == rows(x)


def test_a_run_with_a_test_set_is_evaluated_in_a_new_process_by_the_call_its_error_gives(
    tmp_path, monkeypatch, digits
):
    x, y, x_test, y_test = digits
    run = vislab.train(
        data={"train": (x, y), "test": (x_test, y_test)}, out=tmp_path / "r", **TINY_RUN
    )
    monkeypatch.setattr(memory, "_REGISTERED", {})  # what another Python process sees
    with pytest.raises(DataError) as e:
        vislab.load_run(run.path).evaluate("test")
    text = one_line(str(e.value))
    call = re.search(r"vislab\.register_arrays\(\{'train'.*?\}, name='[^']+'\)", text)
    assert call, text
    env = {"vislab": vislab, "x": x, "y": y, "x_test": x_test, "y_test": y_test}
    assert eval(call.group(), env) == run.config.data.name
    scores = vislab.load_run(run.path).evaluate("test")
    assert scores["acc"] == pytest.approx(run.summary["test_acc"])


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda x, y, xt, yt: {"train": (x, y), "test": (xt, yt + 5)},
            r"data\['test'\] holds the labels 10, 11, 12, 13, 14, outside the 10 classes",
        ),
        (
            lambda x, y, xt, yt: {"train": (x, y), "test": (xt[:, :6], yt)},
            r"data\['test'\] holds samples of shape \(6, 8, 1\).*data\['train'\] holds \(8, 8, 1\)",
        ),
        (
            lambda x, y, xt, yt: {"train": (x, y), "valid": (xt, yt)},
            r"data has the key 'valid': give data=\{'train'",
        ),
        (lambda x, y, xt, yt: {"test": (xt, yt)}, r"data has no 'train' key"),
        (
            lambda x, y, xt, yt: {"train": (x, y), "test": (xt, yt, NAMES)},
            r"data\['test'\] holds 3 items: give data=",
        ),
        (
            lambda x, y, xt, yt: {"train": (x, y), "test": (xt, yt[:5])},
            r"data\['test'\]: x has 90 samples but y has 5",
        ),
    ],
    ids=["labels", "shape", "unknown-key", "no-train", "test-names", "test-lengths"],
)
def test_bad_test_sets_are_refused_naming_the_culprit(tmp_path, digits, make, match):
    with pytest.raises(DataError, match=match):
        vislab.register_arrays(make(*digits))
    with pytest.raises(DataError, match=match):
        vislab.train(data=make(*digits), out=tmp_path / "r", **TINY_RUN)


def test_register_arrays_takes_either_form_not_both(digits):
    x, y, xt, yt = digits
    with pytest.raises(
        DataError, match=r"give register_arrays\(x, y\[, class_names\]\), register_"
    ):
        vislab.register_arrays({"train": (x, y), "test": (xt, yt)}, y)
    with pytest.raises(DataError, match=r"data\['train'\] holds a ndarray: give data="):
        vislab.register_arrays({"train": x})
