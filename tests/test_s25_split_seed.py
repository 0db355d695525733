"""data.split_seed: seeds of one run on the same train/val/test images (only initialisation and order vary)."""

import numpy as np
import pytest
import yaml

import vislab
from conftest import cli, one_line
from vislab.config import DataConfig, build_config
from vislab.data import load_splits


def origins(data) -> set[tuple[int, int]]:
    return set(map(tuple, data.origin.tolist()))


def test_the_split_seed_draws_the_splits_and_limits_whatever_the_train_seed():
    """On digits (every split carved) another train.seed drew another test set; data.split_seed fixes
    the three splits and data.limit's sample for every train.seed, and another split_seed draws others."""
    cfg = DataConfig(name="digits", limit=300, limit_eval=50)
    own = [load_splits(cfg, seed=s, notes=False) for s in (0, 1)]
    assert origins(own[0].test) != origins(own[1].test)
    fixed = DataConfig(name="digits", limit=300, limit_eval=50, split_seed=7)
    a, b = (load_splits(fixed, seed=s, notes=False) for s in (0, 1))
    for split in ("train", "val", "test"):
        assert origins(getattr(a, split)) == origins(getattr(b, split)), split
    as_seed_7 = load_splits(cfg, seed=7, notes=False)
    assert origins(as_seed_7.test) == origins(a.test)
    assert np.array_equal(as_seed_7.train.x, a.train.x)


def test_two_seeds_with_one_split_seed_are_scored_on_the_same_test_images(tmp_path):
    runs = [
        vislab.train(
            data="digits", model="mlp", data__limit=200, data__split_seed=0, model__hidden=[8],
            train__epochs=1, train__seed=seed, train__figures=False, out=tmp_path / f"s{seed}",
        )
        for seed in (0, 1)
    ]  # fmt: skip
    tests = [np.load(r.path / "predictions_test.npz")["origin"] for r in runs]
    assert np.array_equal(tests[0], tests[1])
    assert runs[0].summary.test_acc is not None


@pytest.mark.parametrize(
    ("settings", "idle"),
    [([], True), (["data.limit=100"], False), (["data.official_val=false"], False)],
)
def test_a_split_seed_that_draws_nothing_says_so(capsys, settings, idle):
    """CIFAR-10's official train, val (data_batch_5) and test sets are the splits, whole: nothing is drawn
    for data.split_seed to seed, unless a limit samples them or val is carved from train."""
    sets = [f"--set={s}" for s in ["data.name=cifar10", "data.split_seed=1", *settings]]
    code, text = cli(capsys, "config", "show", *sets)
    said = "data.split_seed=1 does nothing with data.name=cifar10" in one_line(text)
    assert code == 0 and said == idle, text[-400:]


@pytest.mark.parametrize("seed", ["-1", "5000000000"])
def test_a_split_seed_numpy_cannot_take_is_a_config_error(capsys, seed):
    """numpy's own ValueError came out as a traceback; train.seed's bounds apply."""
    code, text = cli(capsys, "data", "info", "digits", f"--set=data.split_seed={seed}")
    assert code != 0 and "data.split_seed" in text and "Traceback" not in text, text


def test_data_info_names_the_seed_that_drew_the_per_class_sample(capsys):
    sets = ["--set=data.limit_per_class=10", "--set=data.split_seed=5"]
    code, text = cli(capsys, "data", "info", "digits", *sets)
    assert code == 0 and "drawn with data.split_seed=5" in one_line(text), text


def test_a_split_seed_that_draws_only_train_and_val_is_no_test_split_setting():
    """On MNIST (its official test set whole) data.split_seed redraws val and data.limit's sample, not
    the test split: rows differing in it are scored on the same test images, as with train.seed."""
    from vislab.experiments.results.told_splits import draws_test_split, seed_draws_test

    settings = {"data.name": "mnist", "data.use": ["train", "test"], "data.split": None,
                "data.limit_eval": None, "data.official_val": True, "data.split_seed": 4}  # fmt: skip
    assert not draws_test_split(settings.__getitem__) and not seed_draws_test(settings.__getitem__)
    carved = {**settings, "data.name": "digits"}
    assert draws_test_split(carved.__getitem__) and not seed_draws_test(carved.__getitem__)


def test_the_split_settings_of_a_run_leave_out_a_split_seed_that_draws_no_test_split(tmp_path):
    """What tells runs' test sets apart (told_splits.split_settings), read from their config.yaml: on
    MNIST data.split_seed redraws val alone; on digits it draws the test split, train.seed then not."""
    from vislab.experiments.results.told_splits import split_settings

    def settings(name, *sets):
        run = tmp_path / name
        run.mkdir()
        cfg = build_config({}, ["data.split_seed=4", "train.seed=9", *sets], "test")
        (run / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict()))
        return split_settings(run)

    mnist = settings("mnist", "data.name=mnist")
    assert "data.split_seed" not in mnist and "train.seed" not in mnist, mnist
    digits = settings("digits")
    assert digits["data.split_seed"] == 4 and "train.seed" not in digits, digits
