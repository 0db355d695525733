"""What a suite's or sweep's pre-checks catch before anything trains, and what the tables list: a centre crop
of a run without augmentation, ZCA on samples too large for it, data.official_val on data without an
official val set, a sweep's categorical choices that can never fit the data."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from PIL import Image

import vislab
from conftest import cli, one_line, table_run, tiny_base, tiny_suite, tiny_sweep
from vislab.data.preprocess import zca_too_large
from vislab.experiments.sweeps.space import repeat_note
from vislab.experiments.sweeps.spec import to_distribution


def _file(tmp_path, name: str, tree: dict):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(tree))
    return path


# ------------------------------------------------------------ 1. a suite-wide crop size
def test_a_suite_wide_crop_size_shows_for_the_run_without_augmentation(tmp_path, capsys):
    """--set augment.crop.size=6 crops the run with crop.p=0 too (its centre crop is its model's input):
    its dry-run line names it, as results.md's "Settings each run changed" does."""
    suite = _file(
        tmp_path,
        "s.yaml",
        tiny_suite(runs={"plain": {}, "cropped": {"augment.crop.p": 1.0}}),
    )
    args = ("suite", suite, "--out", tmp_path / "out", "--dry-run")
    code, text = cli(capsys, *args, "--set", "augment.crop.size=6")
    assert code == 0, text
    plain = next(line for line in text.splitlines() if line.strip().startswith("plain:"))
    assert "augment.crop.size=6" in plain, text
    code, text = cli(capsys, *args)  # no crop size: the run without augmentation crops nothing
    plain = next(line for line in text.splitlines() if line.strip().startswith("plain:"))
    assert code == 0 and "augment.crop.size" not in plain, text


def test_a_suites_crop_too_large_says_a_suite_wide_set_crops_every_run(tmp_path, capsys):
    rows = {"plain": {}, "cropped": {"augment.crop.p": 1.0, "augment.crop.size": 28}}
    suite = _file(tmp_path, "s.yaml", tiny_suite(runs=rows))
    code, text = cli(capsys, "suite", suite, "--out", tmp_path / "out", "--dry-run")
    said = one_line(text)
    assert code == 2, text
    assert "augment.crop.size=28 is larger than the 8×8 images" in said
    assert (
        "A suite-wide --set augment.crop.size=N / augment__crop__size=N changes every run's" in said
    )
    assert f"set augment.crop.size in its row of the suite file {suite}" in said


# ------------------------------------------------------------ 2. ZCA on large images
@pytest.fixture(scope="module")
def rgb64(tmp_path_factory):
    """An image folder of 2 classes × 6 random 64×64 RGB images."""
    root = tmp_path_factory.mktemp("rgb64")
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (root / c).mkdir()
        for i in range(6):
            image = rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)
            Image.fromarray(image).save(root / c / f"{i}.png")
    return root


def _zca_suite(tmp_path, root):
    base = tiny_base(data={"name": "folder", "root": str(root), "image_size": 64})
    base["train"]["batch_size"] = 4
    return _file(
        tmp_path, "z.yaml", {"base": base, "runs": {"plain": {}, "zca": {"data.normalize": "zca"}}}
    )


@pytest.mark.parametrize("dry", [True, False])
def test_zca_on_images_too_large_is_refused_before_any_run_trains(tmp_path, capsys, rgb64, dry):
    out = tmp_path / "out"
    code, text = cli(
        capsys, "suite", _zca_suite(tmp_path, rgb64), "--out", out, *(["--dry-run"] * dry)
    )
    said = one_line(text)
    assert code == 2, text
    assert "zca: ZCA (data.normalize=zca) on 3×64×64 samples needs a 12288×12288 matrix" in said
    assert "--set data.resize=36 / data__resize=36" in said
    assert (
        "--set augment.crop.size=36 / augment__crop__size=36 (ZCA is fitted on the centre crop"
        in said
    )
    assert "--set data.normalize=standard / data__normalize=standard" in said
    assert not (out / "plain").exists()  # nothing trained


def test_zca_fitted_on_a_crop_that_fits_passes_the_dry_run(tmp_path, capsys, rgb64):
    suite = _zca_suite(tmp_path, rgb64)
    args = ("suite", suite, "--out", tmp_path / "out", "--dry-run")
    code, text = cli(capsys, *args, "--set", "augment.crop.size=36")
    assert code == 0, text
    assert "zca: start" in text


def test_zca_size_limit_in_words():
    assert zca_too_large((3, 32, 32)) == ""
    assert zca_too_large((1, 64, 64)) == ""
    assert "data.resize=64" in zca_too_large((1, 65, 65))
    features = zca_too_large((5000,))
    assert "5000-dimensional" in features and "data.resize" not in features
    assert "--set data.normalize=standard / data__normalize=standard" in features


# ------------------------------------------------------------ 3. data.official_val on digits
def test_official_val_is_no_difference_on_data_without_an_official_val_set(tmp_path, capsys):
    off = table_run(tmp_path, "off", "data.name=digits", "data.official_val=false")
    on = table_run(tmp_path, "on", "data.name=digits")
    table = vislab.compare([off, on])
    assert "data.official_val" not in table.columns
    code, text = cli(capsys, "compare", off, on)
    header = next(line for line in text.splitlines() if line.startswith("| run |"))
    assert code == 0 and "official_val" not in header, text
    # CIFAR-10 has one: the setting is a difference there
    c_off = table_run(tmp_path, "c-off", "data.name=cifar10", "data.official_val=false")
    c_on = table_run(tmp_path, "c-on", "data.name=cifar10")
    assert "data.official_val" in vislab.compare([c_off, c_on]).columns


# ------------------------------------------------------------ 4. a sweep's choices
def _vit_sweep(tmp_path, choices: list[int]):
    tree = tiny_sweep(
        base__model={"name": "vit", "embed_dim": 16, "depth": 1, "num_heads": 2},
        space={"model.patch_size": {"type": "categorical", "choices": choices}},
    )
    return _file(tmp_path, "sweep.yaml", tree)


def test_a_sweep_choice_that_never_fits_the_data_is_refused_before_any_trial(tmp_path, capsys):
    out = tmp_path / "out"
    sweep = _vit_sweep(tmp_path, [2, 3, 4])
    code, text = cli(capsys, "sweep", sweep, "--trials", "4", "--out", out)
    said = one_line(text)
    assert code == 2, text
    assert "model.patch_size=3: model.patch_size=3 does not divide the 8×8 images" in said
    assert "drop 3 from the space entry 'model.patch_size' (it keeps 2, 4)" in said
    assert not (out / "trials").exists()


def test_a_sweeps_choices_that_all_fit_pass_its_check(tmp_path):
    from vislab.experiments.sweeps.data_checks import check_on_data
    from vislab.experiments.sweeps.spec import load_sweep

    path = _vit_sweep(tmp_path, [2, 4])
    assert check_on_data(load_sweep(path), [], str(path)).notes == ()
    widths = {
        "model.hidden": {"type": "categorical", "choices": [[8], [16, 8]]}
    }  # lists as choices
    path = _file(tmp_path, "mlp.yaml", tiny_sweep(space=widths))
    assert check_on_data(load_sweep(path), [], str(path)).notes == ()


def test_a_random_search_over_fewer_combinations_than_trials_says_they_repeat():
    space = {"model.patch_size": to_distribution("p", {"type": "categorical", "choices": [2, 4]})}
    assert "holds 2 combinations, fewer than the 4 trials" in repeat_note(space, 4)
    assert repeat_note(space, 2) == ""
    lr = {"optim.lr": to_distribution("lr", {"type": "float", "low": 0.001, "high": 0.1})}
    assert repeat_note(lr, 50) == ""
