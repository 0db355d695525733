"""mistakes_<split>.csv's ``source`` for an image folder: its file, not ``train[102]`` (a folder without
split folders has no official train set: vislab carves the test split from it)."""

from fixtures import write_image_folder
from vislab.config import build_config
from vislab.data import load_splits


def test_a_folders_samples_come_from_their_files_not_an_official_set(tmp_path):
    files = write_image_folder(tmp_path / "ds", ("cat", "dog"), per_class=10)
    cfg = build_config({"data": {"name": "folder", "root": str(tmp_path / "ds")}}, []).data
    test = load_splits(cfg, seed=0).test
    every = {str(p) for found in files.values() for p in found}
    assert len(test) > 0 and set(test.sources()) <= every, test.sources()
    assert test.sources([0]) == [str(test.names[0])]
