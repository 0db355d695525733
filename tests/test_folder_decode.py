"""An image folder's pixels: training decodes each file as `vislab predict` does (straight to data.resize),
eval of a run on another folder decodes it to the run's channels, the decoded-array cache stays out of
data.root, and a split folder of loose images is told to hold class folders."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import cli, one_line, tiny_config
from fixtures import write_image_folder
from vislab.config import DataConfig
from vislab.data import load_splits
from vislab.data.image_folders import image_files
from vislab.data.images import load_image
from vislab.data.sources import folder, load_source
from vislab.errors import DataError, Note
from vislab.predict import score_split
from vislab.training.trainer import train

CLASSES = ("cat", "dog")


def _decoded_as_predict(sets, shape: tuple[int, int, int]) -> None:
    """Every sample of ``sets`` is load_image's decode of its own file for inputs of ``shape``."""
    for data in sets:
        for x, name in zip(data.x, data.names, strict=True):
            np.testing.assert_array_equal(x, load_image(Path(name), shape), err_msg=name)


# --------------------------------------------------------------------------- one decode for all
def test_a_resized_folder_trains_on_the_pixels_predict_decodes(tmp_path):
    write_image_folder(tmp_path, classes=CLASSES, per_class=3)  # 12-40 px, PNG and JPEG
    splits = load_splits(DataConfig(name="folder", root=str(tmp_path), resize=48), seed=0)
    assert splits.sample_shape == (3, 48, 48)
    _decoded_as_predict([s for _, s in splits.items()], (3, 48, 48))


# ----------------------------------------------------------------- eval on another folder's images
@pytest.fixture(scope="module", params=[False, True], ids=["rgb-run", "grey-run"])
def run_and_other(request, tmp_path_factory):
    """A tiny run trained on colour (or grey) images, and a folder of the other kind."""
    grey = request.param
    root, other = tmp_path_factory.mktemp("own"), tmp_path_factory.mktemp("other")
    write_image_folder(root, classes=CLASSES, per_class=10, gray=grey)
    write_image_folder(other, classes=CLASSES, per_class=10, seed=1, gray=not grey)
    run = tmp_path_factory.mktemp("run") / "run"
    sets = ["data.name=folder", f"data.root={root}", "data.image_size=8", "data.val_fraction=0.3"]
    train(tiny_config(*sets, "train.epochs=1", "train.batch_size=4", "train.figures=false"), run)
    return run, other, 1 if grey else 3


def test_eval_on_a_folder_of_the_other_channels_decodes_it_as_the_run_saw(run_and_other):
    run, other, channels = run_and_other
    with pytest.warns(Note, match="decoded as .*the inputs the model was trained on"):
        scored = score_split(run, "test", [f"data.root={other}"])
    assert scored.data.x.shape[-1] == channels and len(scored.data) > 0
    _decoded_as_predict([scored.data], (channels, 8, 8))


def test_eval_command_notes_the_conversion(run_and_other, capsys):
    run, other, channels = run_and_other
    code, out = cli(capsys, "eval", run, "--set", f"data.root={other}", "--mistakes", "0")
    assert code == 0, out
    kind = "only grey images" if channels == 3 else "colour images"
    assert f"note: '{other}' holds {kind}" in one_line(out)


def test_eval_on_the_runs_own_folder_has_no_note(run_and_other, recwarn):
    run, _, _ = run_and_other
    score_split(run, "test")
    assert not [w for w in recwarn if issubclass(w.category, Note)]


# ------------------------------------------------------------------------------- the cache's place
def test_the_cache_stays_out_of_data_root_and_torchvision_reads_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("VISLAB_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "images"
    write_image_folder(root, classes=CLASSES, per_class=2)
    old = root / ".vislab-cache"  # an earlier vislab's cache: removed
    old.mkdir()
    (old / "images-0123456789abcdef0123.npz").write_bytes(b"old")
    load_source(DataConfig(name="folder", root=str(root), image_size=8))
    assert sorted(p.name for p in root.iterdir()) == list(CLASSES)
    assert list((tmp_path / "cache").glob("folder-images-*.index.json"))
    torchvision = pytest.importorskip("torchvision")
    assert torchvision.datasets.ImageFolder(str(root)).classes == list(CLASSES)


def test_the_cache_is_reused_and_rebuilt_when_a_file_changes(tmp_path, monkeypatch):
    files = write_image_folder(tmp_path, classes=CLASSES, per_class=2)
    calls, real = [], folder._decode
    monkeypatch.setattr(folder, "_decode", lambda p, shape: calls.append(p) or real(p, shape))
    cfg = DataConfig(name="folder", root=str(tmp_path), image_size=12)
    first = load_source(cfg).sets["train"]
    assert len(calls) == 4
    np.testing.assert_array_equal(load_source(cfg).sets["train"].x, first.x)
    assert len(calls) == 4  # read back, not decoded
    Image.new("RGB", (20, 20), (255, 0, 0)).save(files["dog"][0])
    os.utime(files["dog"][0], ns=(10**18, 10**18))
    changed = load_source(cfg).sets["train"]
    assert len(calls) == 8 and (changed.x[2] == [255, 0, 0]).all()
    load_source(DataConfig(name="folder", root=str(tmp_path), resize=14))  # another size
    assert len(calls) == 12


# ---------------------------------------------------------------------- a split of loose images
def test_a_split_folder_of_loose_images_is_told_to_hold_class_folders(tmp_path):
    write_image_folder(tmp_path / "Train", classes=CLASSES, per_class=2)
    (tmp_path / "test").mkdir()
    for f in image_files(tmp_path / "Train" / "cat"):
        Image.open(f).save(tmp_path / "test" / f"{f.stem}.png")
    with pytest.raises(DataError) as e:
        load_source(DataConfig(name="folder", root=str(tmp_path)))
    msg = one_line(str(e.value))
    assert "holds its images directly" in msg and "test/<class>/" in msg
    assert "test/cat/, test/dog/" in msg and "mixes split folders" not in msg
