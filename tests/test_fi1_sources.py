"""mistakes_<split>.csv's ``source`` for an image folder: empty, not ``train[102]`` (a folder without
split folders has no official train set: vislab carves the test split from it) nor its file again (the
``file`` column names it)."""

from fixtures import write_image_folder
from vislab.config import build_config
from vislab.data import load_splits


def test_a_folders_samples_have_no_official_source_their_file_names_them(tmp_path):
    files = write_image_folder(tmp_path / "ds", ("cat", "dog"), per_class=10)
    cfg = build_config({"data": {"name": "folder", "root": str(tmp_path / "ds")}}, []).data
    test = load_splits(cfg, seed=0).test
    assert len(test) > 0 and test.sources() == [""] * len(test), test.sources()
    every = {str(p) for found in files.values() for p in found}
    assert test.sources([0]) == [""] and str(test.names[0]) in every  # the file column's
