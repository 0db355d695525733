"""A report (and a paper) reads each finished run's config.yaml once: the plan's configs give the table's
settings and the provenance line's checkpoint, with the same text as reading the files again would."""

import builtins
import collections
import pathlib
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import cli, tiny_config
from vislab.training.trainer import train


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """Two finished 1-epoch runs, ``a`` and ``b``, that differ in their lr (trained once for this file)."""
    folder = tmp_path_factory.mktemp("trained")
    for name, lr in (("a", "0.01"), ("b", "0.05")):
        cfg = tiny_config("train.epochs=1", "train.figures=false", f"optim.lr={lr}")
        train(cfg, folder / name, quiet=True)
    return folder


@pytest.fixture
def runs(trained, tmp_path) -> Path:
    """A copy of the trained runs for one test to report on (and change)."""
    return Path(shutil.copytree(trained, tmp_path / "runs"))


@pytest.fixture
def config_reads(monkeypatch) -> collections.Counter:
    """Run folder name → how many times its config.yaml was opened for reading (by any reader: open(),
    Path.open, Path.read_text)."""
    reads: collections.Counter = collections.Counter()
    real_open, real_path_open = builtins.open, pathlib.Path.open

    def count(file, mode="r") -> None:
        if isinstance(file, (str, Path)) and Path(file).name == "config.yaml" and "r" in mode:
            reads[Path(file).parent.name] += 1

    def spy_open(file, mode="r", *args, **kwargs):
        count(file, mode)
        return real_open(file, mode, *args, **kwargs)

    def spy_path_open(self, mode="r", *args, **kwargs):
        count(self, mode)
        return real_path_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spy_open)
    monkeypatch.setattr(pathlib.Path, "open", spy_path_open)
    return reads


def test_report_reads_each_config_once(runs, capsys, config_reads):
    folder = runs
    config_reads.clear()  # only the report's reads
    code, out = cli(capsys, "report", folder)
    assert code == 0, out
    assert dict(config_reads) == {"a": 1, "b": 1}
    page = (folder / "report.html").read_text()
    assert "optim.lr" in page  # the settings the runs changed, from the configs read once
    assert "the checkpoint with the best val_pacc (best.pt)" in page


def test_paper_reads_each_config_once(runs, capsys, config_reads):
    folder = runs
    config_reads.clear()
    code, out = cli(capsys, "paper", folder, "--no-figures")
    assert code == 0, out
    assert dict(config_reads) == {"a": 1, "b": 1}
    tables = (folder / "paper" / "tables.md").read_text()
    assert "optim.lr" in tables and "the checkpoint with the best val_pacc" in tables


def test_a_config_without_select_metric_still_names_no_checkpoint(runs, capsys, config_reads):
    """A config.yaml written without train.select_metric (by hand, or by an older vislab) records no
    choice: the provenance line names the checkpoint of the runs whose file says it, as before."""
    folder = runs
    path = folder / "b" / "config.yaml"
    tree = yaml.safe_load(path.read_text())
    del tree["train"]["select_metric"]
    path.write_text(yaml.safe_dump(tree))
    (folder / "a" / "config.yaml").write_text(
        path.read_text().replace("train:\n", "train:\n  select_metric: val_acc\n", 1)
    )
    config_reads.clear()
    code, out = cli(capsys, "report", folder)
    assert code == 0, out
    assert dict(config_reads) == {"a": 1, "b": 1}
    page = (folder / "report.html").read_text()
    assert "Test figures from the checkpoint with the best val_acc (best.pt)." in page
    assert "val_pacc (best.pt)" not in page
