"""A suite's mistakes that only its data shows — a ViT patch size that does not divide the digits' 8×8
images, an augmentation crop larger than them, a data.root that is not there — stop it before anything
trains (exit 2, each run named with the trainer's own message), in a dry run as in a real start."""

from pathlib import Path

import pytest
import yaml

from conftest import cli, one_line, tiny_base

BASE = tiny_base()
VIT = {"model.name": "vit", "model.embed_dim": 8, "model.depth": 1, "model.num_heads": 2}
RUNS = {
    "mlp": {},
    "vit-p4": {**VIT, "model.patch_size": 4},
    "vit-p3": {**VIT, "model.patch_size": 3},
    "cnn-crop": {"model.name": "cnn", "augment.crop.size": 28},
}
PATCH = "model.patch_size=3 does not divide the 8×8 images into whole patches"
CROP = "augment.crop.size=28 is larger than the 8×8 images of this data"


def write_suite(path: Path, runs: dict) -> Path:
    path.write_text(yaml.safe_dump({"base": BASE, "runs": runs}, sort_keys=False))
    return path


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default data folder, ./data, is the test's own (empty)


@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "real-start"])
def test_a_model_or_crop_the_data_does_not_fit_stops_the_suite_before_anything_trains(
    dry, tmp_path, capsys, train_spy
):
    spec, out = write_suite(tmp_path / "s.yaml", RUNS), tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", *(["--dry-run"] if dry else []))
    flat = one_line(text)
    assert code == 2, text
    assert "2 of 4 runs of suite 's' have an invalid config, so nothing was trained" in flat
    assert f"vit-p3: {PATCH}" in flat and f"cnn-crop: {CROP}" in flat
    assert (
        "vit-p4:" not in flat and "mlp:" not in flat
    )  # the runs that fit their data are not named
    assert train_spy == [] and not out.exists()


def test_an_image_model_on_feature_vectors_stops_the_suite_before_anything_trains(
    tmp_path, capsys, train_spy
):
    spec, out = (
        write_suite(tmp_path / "s.yaml", {"mlp": {}, "cnn": {"model.name": "cnn"}}),
        tmp_path / "out",
    )
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--data", "circles", "--seeds", "2")
    flat = one_line(text)
    assert code == 2 and "2 of 4 runs of suite 's' have an invalid config" in flat, text
    assert "cnn-s0:" in flat and "needs images" in flat and "cnn-s1: the same as cnn-s0" in flat
    assert train_spy == [] and not out.exists()


def test_dry_run_of_data_that_is_not_there_says_so_with_the_runs_error(tmp_path, capsys, train_spy):
    missing = tmp_path / "nonexistent"
    runs = {"mlp": {}, "mlp-cifar": {"data.name": "cifar10", "data.root": str(missing)}}
    spec, out = write_suite(tmp_path / "s.yaml", runs), tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "--dry-run")
    flat = one_line(text)
    assert code == 2, text
    assert "1 of 2 runs of suite 's' have an invalid config" in flat
    assert f"mlp-cifar: CIFAR-10 data not found: data.root '{missing}' does not exist" in flat
    assert train_spy == [] and not out.exists() and not missing.exists()


def test_dry_run_of_data_the_run_would_download_downloads_nothing(tmp_path, capsys, train_spy):
    runs = {
        "mlp-cifar": {"data.name": "cifar10"}
    }  # the default folder, ./data: filled by a download
    spec, out = write_suite(tmp_path / "s.yaml", runs), tmp_path / "out"
    code, text = cli(capsys, "suite", spec, "--out", out, "--dry-run")
    assert code == 0 and "mlp-cifar: start" in text, text
    assert train_spy == [] and not out.exists() and not (tmp_path / "data").exists()


@pytest.mark.parametrize("dry", [True, False], ids=["dry-run", "real-start"])
def test_only_checks_the_runs_it_asks_for_on_their_data(dry, tmp_path, capsys, monkeypatch):
    """--only mlp trains that run alone: the other runs' data mistakes neither stop it nor are built."""
    import vislab.experiments.data_checks as data_checks

    built = []
    real = data_checks._model_mistake
    monkeypatch.setattr(
        data_checks, "_model_mistake", lambda cfg, *a: built.append(cfg.model.name) or real(cfg, *a)
    )
    spec, out = write_suite(tmp_path / "s.yaml", RUNS), tmp_path / "out"
    code, text = cli(
        capsys, "suite", spec, "--out", out, "-q", "--only", "mlp", *(["--dry-run"] if dry else [])
    )
    assert code == 0, text
    assert built == ["mlp"]
