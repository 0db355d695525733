"""Session 27, fix D: eval, predict and export read the checkpoint they use once, and still say which
weights they used ("weights: ..."), from the checkpoint they loaded; a last.pt standing in for a
best.pt the run lacks too (read once for its note and its weights)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from conftest import cli, one_line


@pytest.fixture
def reads(monkeypatch) -> Counter:
    """How many times ``torch.load`` (the one way a checkpoint is read) read each file, by name."""
    counts: Counter = Counter()
    real = torch.load

    def counted(f, *args, **kwargs):
        counts[Path(f).name] += 1
        return real(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counted)
    return counts


def _command(name: str, run: Path, image: Path, out: Path) -> list:
    return {
        "eval": ["eval", run, "--mistakes", "0", "--out", out],
        "predict": ["predict", run, image, "-k", "1"],
        "export": ["export", run, "-f", "torchscript", "-o", out],
    }[name]


@pytest.mark.parametrize("command", ["eval", "predict", "export"])
@pytest.mark.parametrize("which", ["best", "last"])
def test_each_command_reads_its_checkpoint_once(
    trained, digit_png, tmp_path, capsys, reads, command, which
):
    args = [*_command(command, trained, digit_png, tmp_path / "out"), "--checkpoint", which]
    code, text = cli(capsys, *args)
    assert code == 0, text
    assert reads[f"{which}.pt"] == 1, (reads, text)  # export of last.pt compares best.pt's weights
    assert one_line(text).count(f"weights: {which}.pt, epoch 1") == 1, text


def test_a_checkpoint_file_given_is_read_once(trained, digit_png, tmp_path, capsys, reads):
    last = trained / "checkpoints" / "last.pt"
    for command in ("eval", "predict", "export"):
        code, text = cli(capsys, *_command(command, last, digit_png, tmp_path / command))
        assert code == 0, text
        assert reads["last.pt"] == 1, (command, reads, text)
        assert "weights: last.pt, epoch 1" in one_line(text), text
        reads.clear()
