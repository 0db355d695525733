"""A run's data.root seen from another folder: a relative root the user gave is recorded absolute, and a
stored root that is gone says where it was looked for and how to point the run at the data."""

import html
import os
from pathlib import Path

import pytest
import yaml

from conftest import SHARED_DATA, cli, one_line, tiny_sets

MNIST_TEST = SHARED_DATA / "mnist"  # the MNIST test set only (t10k files)

needs_mnist = pytest.mark.skipif(
    not (MNIST_TEST / "t10k-images-idx3-ubyte.gz").is_file(), reason="no MNIST test files here"
)


def _mnist_sets(root: str) -> list[str]:
    """A tiny run on the MNIST test set alone, read from ``root``."""
    return tiny_sets(
        "data.name=mnist", f"data.root={root}", "data.use=[test]", "data.split=[200,50,50]",
        "train.figures=false", drop="data.name=digits",
    )  # fmt: skip


@pytest.fixture(scope="module")
def relative_run(tmp_path_factory) -> Path:
    """A run trained in ``<tmp>/rel`` with data.root=fm (a link to the MNIST test files there)."""
    home = tmp_path_factory.mktemp("roots")
    (home / "rel").mkdir()
    (home / "rel" / "fm").symlink_to(MNIST_TEST, target_is_directory=True)
    here = Path.cwd()
    os.chdir(home / "rel")
    try:
        from vislab.cli import main

        assert main(["train", "-q", "--out", "r1", *_mnist_sets("fm")]) == 0
    finally:
        os.chdir(here)
    return home / "rel" / "r1"


@needs_mnist
def test_a_relative_root_is_recorded_absolute_and_eval_works_from_elsewhere(
    capsys, relative_run, monkeypatch
):
    home = relative_run.parent.parent
    stored = yaml.safe_load((relative_run / "config.yaml").read_text())["data"]["root"]
    assert stored == str(home / "rel" / "fm")  # the user's link, not where it leads
    monkeypatch.chdir(home)
    code, text = cli(capsys, "eval", "rel/r1")
    assert code == 0 and "acc" in text, text


@needs_mnist
def test_a_stored_root_that_is_gone_says_where_it_looked_and_how_to_point_there(
    capsys, relative_run, monkeypatch
):
    home = relative_run.parent.parent
    monkeypatch.chdir(home)
    link = home / "rel" / "fm"
    moved = home / "moved"
    link.rename(moved)
    try:
        code, text = cli(capsys, "eval", "rel/r1")
        flat = one_line(text)
        assert code == 2, text
        assert f"data.root '{link}' does not exist" in flat and "--set data.root=DIR" in flat
        code, text = cli(capsys, "eval", "rel/r1", "--set", f"data.root={moved}")
        assert code == 0 and "acc" in text, text  # what the message says works
        code, text = cli(capsys, "report", "rel/r1")
        notes = one_line(html.unescape((relative_run / "report.html").read_text()))
        assert code == 0 and f"data.root '{link}' does not exist" in notes
        assert "set data.root in RUN/config.yaml" in notes  # report takes no --set
    finally:
        moved.rename(link)


def test_a_relative_root_that_does_not_exist_names_the_folder_it_looked_for(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    code, text = cli(capsys, "data", "info", "fashion-mnist", "--set", "data.root=fm")
    flat = one_line(text)
    assert code == 2, text
    assert f"looked for '{tmp_path / 'fm'}'" in flat and "--set data.root=DIR" in flat
