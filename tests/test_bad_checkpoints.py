"""Hostile and broken checkpoint files: a checkpoint that would run code when unpickled is refused and runs
nothing; an empty, truncated, mutated or foreign file gives a DataError naming it (exit 2 through the CLI),
never a traceback — for ``eval``, ``predict`` and ``train --resume``.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path

import pytest
import torch

from conftest import cli, one_line
from vislab.errors import DataError, UserError
from vislab.predict import load_model
from vislab.training.checkpoint import load_checkpoint


def raw_checkpoint(path):
    """A checkpoint file's contents as saved (the on-disk dict)."""
    return load_checkpoint(path).to_dict()


class RunsCode:
    """Unpickling it runs a shell command (what a malicious checkpoint does)."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class ExecsPython:
    def __init__(self, source: str):
        self.source = source

    def __reduce__(self):
        return exec, (self.source,)


class Gadget:  # a plain custom class: not a tensor or plain type, refused as well
    def __init__(self):
        self.payload = "x"


def hostile_payloads(marker: Path, good: dict) -> dict[str, dict]:
    base = {
        k: good[k]
        for k in (
            "model_name",
            "model_kwargs",
            "input_shape",
            "num_classes",
            "class_names",
            "preprocess",
            "config",
            "state_dict",
        )
    }
    return {
        "os.system": {**base, "extra": RunsCode(f"touch {marker}")},
        "exec": {**base, "model_kwargs": ExecsPython(f"open({str(marker)!r}, 'w').close()")},
        "custom class": {**base, "extra": Gadget()},
        "state_dict entry": {
            **base,
            "state_dict": {**good["state_dict"], "1.weight": RunsCode(f"touch {marker}")},
        },
    }


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy-pickle"])
def test_hostile_checkpoints_are_refused_and_run_no_code(
    capsys, tmp_path, trained, digit_png, legacy
):
    marker = tmp_path / "MARKER"
    good = raw_checkpoint(trained / "checkpoints" / "best.pt")
    for name, payload in hostile_payloads(marker, good).items():
        path = tmp_path / f"{name.replace(' ', '_')}.pt"
        torch.save(payload, path, _use_new_zipfile_serialization=not legacy)
        with pytest.raises(DataError, match="refused") as e:
            raw_checkpoint(path)
        assert str(path) in str(e.value)
        code, out = cli(capsys, "eval", path)
        assert code == 2 and "refused" in out and str(path) in one_line(out), out
        code, out = cli(capsys, "predict", path, digit_png)
        assert code == 2 and "refused" in out, out
        # the same file as a run directory's best.pt
        run = tmp_path / f"run-{name.replace(' ', '_')}"
        (run / "checkpoints").mkdir(parents=True)
        (run / "checkpoints" / "best.pt").write_bytes(path.read_bytes())
        code, out = cli(capsys, "predict", run, digit_png)
        assert code == 2 and "refused" in out, out
        assert not marker.exists(), f"{name}: the checkpoint ran code"


def test_hostile_last_pt_is_refused_on_resume(capsys, tmp_path, trained):
    marker = tmp_path / "MARKER"
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    torch.save(
        {
            **hostile_payloads(marker, raw_checkpoint(trained / "checkpoints" / "last.pt"))[
                "os.system"
            ],
            "history": [],
            "state": {},
        },
        run / "checkpoints" / "last.pt",
    )
    code, out = cli(capsys, "train", "--resume", run, "-q")
    assert code == 2 and "refused" in out and not marker.exists()


def test_broken_checkpoints_give_data_errors(capsys, tmp_path, trained, digit_png):
    raw = (trained / "checkpoints" / "best.pt").read_bytes()
    good = raw_checkpoint(trained / "checkpoints" / "best.pt")
    cases = {
        "empty": (b"", "corrupt or not a PyTorch file"),
        "truncated-10": (raw[:10], "corrupt or not a PyTorch file"),
        "truncated-half": (raw[: len(raw) // 2], "corrupt or not a PyTorch file"),
        "truncated-last-byte": (raw[:-1], "corrupt or not a PyTorch file"),
        "text": (b"model_name: mlp\nstate_dict: {}\n", "corrupt or not a PyTorch file"),
        "png": (digit_png.read_bytes(), "corrupt or not a PyTorch file"),
    }
    for name, obj in {"plain-dict": {"a": 1}, "list": [1, 2], "tensor": torch.zeros(3)}.items():
        buf = io.BytesIO()
        torch.save(obj, buf)
        cases[name] = (buf.getvalue(), "not a vislab checkpoint")
    for name, edit, why in [
        ("no-input-shape", lambda c: c.pop("input_shape"), "lacks or has malformed input_shape"),
        (
            "kwargs-not-dict",
            lambda c: c.update(model_kwargs=[1]),
            "lacks or has malformed model_kwargs",
        ),
        (
            "wrong-shape",
            lambda c: c["state_dict"].update({next(iter(c["state_dict"])): torch.zeros(3, 3)}),
            "do not fit",
        ),
        (
            "missing-weight",
            lambda c: c["state_dict"].pop(next(iter(c["state_dict"]))),
            "do not fit",
        ),
        ("unknown-model", lambda c: c.update(model_name="resnet9000"), "unknown model"),
        ("no-config", lambda c: c.pop("config"), "holds no config"),
    ]:
        c = {**good, "state_dict": dict(good["state_dict"])}
        edit(c)
        buf = io.BytesIO()
        torch.save(c, buf)
        cases[name] = (buf.getvalue(), why)
    for name, (data, why) in cases.items():
        path = tmp_path / f"{name}.pt"
        path.write_bytes(data)
        code, out = cli(capsys, "eval", path)
        assert code == 2 and why in one_line(out), (name, out)
        if name != "no-config":  # predict needs no config
            code, out = cli(capsys, "predict", path, digit_png)
            assert code == 2 and why in one_line(out), (name, out)
    code, out = cli(capsys, "predict", tmp_path / "nope.pt", digit_png)
    assert code == 2 and "does not exist" in out
    code, out = cli(capsys, "eval", tmp_path)  # a folder of .pt files, no run (no config.yaml)
    assert code == 2 and "is not a vislab run directory" in out


def test_randomly_mutated_checkpoints_load_or_give_user_errors(tmp_path, trained):
    raw = (trained / "checkpoints" / "best.pt").read_bytes()
    rng = random.Random(6)
    path = tmp_path / "m.pt"
    loaded = 0
    for _ in range(60):
        data = bytearray(raw)
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(data))
            if rng.random() < 0.7:
                data[pos] = rng.randrange(256)
            else:
                del data[pos : pos + rng.randint(1, 64)]
        path.write_bytes(bytes(data))
        try:
            load_model(path)
            loaded += 1
        except UserError as e:
            assert str(path) in str(e), e  # the message names the file
    assert loaded < 60


def test_corrupt_last_pt_on_resume(capsys, tmp_path, trained):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    raw = (trained / "checkpoints" / "last.pt").read_bytes()
    (run / "checkpoints" / "last.pt").write_bytes(raw[: len(raw) // 3])
    code, out = cli(capsys, "train", "--resume", run, "-q")
    assert code == 2 and "corrupt" in out and "last.pt" in out
    (run / "checkpoints" / "last.pt").write_bytes(
        (trained / "checkpoints" / "best.pt").read_bytes()
    )
    code, out = cli(capsys, "train", "--resume", run, "-q")
    assert code == 2 and "not a resumable vislab checkpoint" in one_line(out)
