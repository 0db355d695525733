"""Tests for exit-code, safe-unpickling, data-source-name and comparison behaviours a mutation could break unseen"""

from __future__ import annotations

import errno
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import typer

import vislab.models
import vislab.models.info
from conftest import cli, one_line, table_run
from vislab.config import DataConfig
from vislab.data.safe_pickle import load_pickle
from vislab.data.sources import load_source
from vislab.data.sources.registry import require_source
from vislab.errors import ConfigError, DataError, TrainingInterrupted


def _model_list_raises(monkeypatch, error: BaseException) -> None:
    """``vislab model list`` raises ``error`` where it reads the models' options."""

    def raise_it(name: str) -> dict:
        raise error

    monkeypatch.setattr(vislab.models.info, "resolved_options", lambda name, given: raise_it(name))


# ------------------------------------------------------------------------------- exit codes
@pytest.mark.parametrize(
    "err, code",
    [(errno.EIO, 1), (errno.EDQUOT, 1), (errno.ENOSPC, 1), (errno.EEXIST, 2), (errno.EROFS, 2)],
    ids=["EIO", "EDQUOT", "ENOSPC", "EEXIST", "EROFS"],
)
def test_an_environment_error_exits_with_its_code_and_names_the_path(
    capsys, monkeypatch, tmp_path, err, code
):
    """A full disk or I/O error ends 1, an unwritable path 2 (errors.py): a message, no traceback."""
    where = tmp_path / "table.csv"
    _model_list_raises(monkeypatch, OSError(err, os.strerror(err), str(where)))
    got, text = cli(capsys, "model", "list")
    assert got == code, text
    assert f"error: cannot write '{where}'" in one_line(text)


def test_a_signal_as_a_run_was_scored_ends_0_with_a_note(capsys, monkeypatch):
    """A TrainingInterrupted with complete=True stopped nothing: exit 0 and a note, not 130."""
    _model_list_raises(monkeypatch, TrainingInterrupted("the run is complete", complete=True))
    code, text = cli(capsys, "model", "list")
    assert code == 0, text
    assert "note: the run is complete" in one_line(text)


def test_an_abort_inside_a_command_ends_130(capsys, monkeypatch):
    """typer.Abort (a prompt's Ctrl-C) is an interruption: "aborted.", exit 130."""
    _model_list_raises(monkeypatch, typer.Abort())
    code, text = cli(capsys, "model", "list")
    assert code == 130, text
    assert "aborted." in text


# ------------------------------------------------------------------------------ safe pickle
def _array_pickle(a: np.ndarray) -> bytes:
    return pickle.dumps(a, protocol=2)


def test_a_missing_pickle_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "data_batch_1"
    with pytest.raises(DataError, match=f"cannot read '{path}'"):
        load_pickle(path)


def _load_bytes(tmp_path: Path, blob: bytes) -> object:
    (tmp_path / "p").write_bytes(blob)
    return load_pickle(tmp_path / "p")


def test_a_dtype_state_of_another_version_is_refused(tmp_path):
    good = _array_pickle(np.arange(4, dtype=np.uint8))
    bad = good.replace(b"(K\x03X\x01\x00\x00\x00|", b"(K\x02X\x01\x00\x00\x00|", 1)
    assert bad != good
    with pytest.raises(DataError, match="malformed dtype state"):
        _load_bytes(tmp_path, bad)


def test_a_huge_shape_is_refused_even_with_no_bytes(tmp_path):
    """Shape (2**40, 0) holds no bytes, but no data file has a dimension that long."""
    good = _array_pickle(np.zeros(0, dtype=np.uint8))
    huge = b"\x8a\x06" + (2**40).to_bytes(6, "little")
    bad = good.replace(b"K\x01K\x00\x85", b"K\x01" + huge + b"K\x00\x86", 1)
    assert bad != good
    with pytest.raises(DataError, match="malformed ndarray state"):
        _load_bytes(tmp_path, bad)


def test_a_structured_dtype_is_refused(tmp_path):
    with pytest.raises(DataError, match="unsupported dtype"):
        _load_bytes(tmp_path, b"cnumpy\ndtype\n(Vu1,u1\ntR.")


def test_array_bytes_beyond_the_shape_are_refused(tmp_path):
    good = _array_pickle(np.arange(4, dtype=np.uint8))
    bad = good.replace(
        b"X\x04\x00\x00\x00\x00\x01\x02\x03", b"X\x05\x00\x00\x00\x00\x01\x02\x03\x04"
    )
    assert bad != good
    with pytest.raises(DataError, match="has 5 bytes"):
        _load_bytes(tmp_path, bad)


# ---------------------------------------------------------------------------- dataset names
def test_a_prefix_without_a_name_asks_for_one():
    with pytest.raises(ConfigError, match=r"'torchvision:' needs a name after the colon"):
        require_source("torchvision:")


def test_a_misspelt_dataset_name_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"Did you mean 'cifar10'\?"):
        require_source("cifar01")


def _tv_config(root: Path, **kw) -> DataConfig:
    return DataConfig(name="torchvision:FashionMNIST", root=str(root), **kw)


def test_torchvision_root_option_is_refused_as_vislabs(tmp_path):
    pytest.importorskip("torchvision")
    with pytest.raises(ConfigError, match=r"data.options.root: vislab sets it \(data.root"):
        load_source(_tv_config(tmp_path, download=False, options={"root": str(tmp_path)}))


def test_a_download_that_leaves_no_files_is_a_data_error(tmp_path, monkeypatch):
    """The class still says "use download=True" after downloading: vislab's DataError, no internal one."""
    datasets = pytest.importorskip("torchvision.datasets")
    monkeypatch.setattr(datasets.FashionMNIST, "download", lambda self: None)  # no network
    with pytest.raises(DataError, match="downloaded into .* but still finds no files there") as e:
        load_source(_tv_config(tmp_path, download=True))
    assert "truncated or corrupt" not in str(e.value)  # nothing was there to be corrupt


# ------------------------------------------------------------------------------- comparison
def _run_with(folder: Path, name: str, **summary: object) -> None:
    """A finished mlp run (conftest.table_run) whose summary.json also holds ``summary``."""
    run = table_run(folder, name, f"train.seed={name[-1]}")
    record = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps({**record, "seed": int(name[-1]), **summary}))


def test_sort_by_val_loss_puts_rows_by_their_mean_and_runs_without_one_last(capsys, tmp_path):
    """Row a (seeds 0.1 and 0.9, mean 0.5) after row b (mean 0.3); row c (no val_loss) last."""
    runs = tmp_path / "runs"
    runs.mkdir()
    for name, loss in {"a-s0": 0.1, "a-s1": 0.9, "b-s0": 0.3, "b-s1": 0.3}.items():
        _run_with(runs, name, val_loss=loss)
    for name in ("c-s0", "c-s1"):
        _run_with(runs, name)
    code, text = cli(capsys, "compare", runs, "--sort", "val_loss")
    assert code == 0, text
    rows = [line.split("|")[1].strip() for line in text.splitlines() if line.startswith("| ")]
    assert [r for r in rows if r != "run"] == ["b", "a", "c"], text
