"""Writing a model as ONNX or TorchScript bytes (quietly: the tracer's and exporter's warnings and dumps
are kept off the terminal), and checking that the written model computes what the PyTorch model does
on other batches; for ``vislab.export``."""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator

import torch

from vislab.errors import UserError
from vislab.interrupts import take_ctrl_c

INPUT_NAME, OUTPUT_NAME = "input", "logits"
#: the exported model must match PyTorch within this (absolute, plus relative to the logits' scale)
CHECK_ATOL, CHECK_RTOL = 1e-4, 1e-3

Runner = Callable[[torch.Tensor], torch.Tensor]


def to_torchscript(
    model: torch.nn.Module, example: torch.Tensor, name: str
) -> tuple[bytes, Runner]:
    """Trace ``model`` on ``example``; the saved bytes and the reloaded module that runs them."""
    with _quiet():
        try:
            traced = torch.jit.trace(model, example, check_trace=False)
        except Exception as e:  # noqa: BLE001 - the tracer raises any type the forward does
            _raise_if_interrupted(e)
            raise UserError(
                f"model '{name}' could not be traced to TorchScript: {_summary(e)}. Its forward must be "
                f"tensor operations only; rewrite the failing part, or try --format onnx."
            ) from None
        buf = io.BytesIO()
        torch.jit.save(traced, buf)
        data = buf.getvalue()
        loaded = torch.jit.load(io.BytesIO(data), map_location="cpu")
    return data, loaded


def to_onnx(model: torch.nn.Module, example: torch.Tensor, name: str) -> tuple[bytes, Runner]:
    """Export ``model`` with torch's ONNX exporter (batch axis dynamic); the bytes and an onnxruntime
    session that runs them."""
    try:  # optional extra (vislab[onnx]): torch's exporter needs onnx + onnxscript, the check onnxruntime
        import onnx  # noqa: F401
        import onnxruntime
        import onnxscript  # noqa: F401
    except ImportError as e:
        _raise_if_interrupted(e)
        raise UserError(
            f"--format onnx needs the ONNX packages ({e.name} is missing): pip install 'vislab[onnx]'."
        ) from None
    batch = torch.export.Dim("batch", min=1)
    with _quiet():
        try:
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                verbose=False,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch},),
            )
            data = program.model_proto.SerializeToString()
        except Exception as e:  # noqa: BLE001 - the exporter wraps whatever the forward or a pass raised
            _raise_if_interrupted(e)
            raise UserError(
                f"model '{name}' could not be exported to ONNX: torch's exporter failed ({_summary(e)}). "
                f"A forward with Python control flow on tensor values or on the batch size, or an operator "
                f"ONNX lacks, cannot be exported: rewrite that part with tensor operations (e.g. "
                f"torch.where instead of an if), or avoid the operator."
            ) from None
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0])

    return data, run


def check_export(
    model: torch.nn.Module, run: Runner, checks: list[torch.Tensor], name: str, fmt: str
) -> float:
    """The largest |exported − PyTorch| over ``checks``; UserError when they differ (a frozen branch)."""
    worst = 0.0
    for x in checks:
        want = model(x).float()
        try:
            with _quiet():
                got = run(x).float()
        except Exception as e:  # noqa: BLE001 - the exported program fails on another batch size
            _raise_if_interrupted(e)
            got, why = None, f"it fails on a batch of {len(x)} ({_summary(e)})"
        if got is not None and got.shape != want.shape:
            why = f"it returns shape {tuple(got.shape)} for a batch of {len(x)}, not {tuple(want.shape)}"
        elif got is not None:
            diff = float((got - want).abs().max())
            scale = float(want.abs().max())
            if diff <= CHECK_ATOL + CHECK_RTOL * scale:
                worst = max(worst, diff)
                continue
            why = f"its outputs differ from PyTorch's by up to {diff:.3g} on a batch of {len(x)}"
        raise UserError(
            f"model '{name}' cannot be exported to {fmt}: the exported model does not compute what the "
            f"PyTorch model does ({why}). Its forward has Python control flow (an if or a loop on tensor "
            f"values or the batch size) that {'tracing' if fmt == 'torchscript' else 'the exporter'} froze "
            f"for the example batch: rewrite it with tensor operations (e.g. torch.where) to export it."
        )
    return worst


def _raise_if_interrupted(e: BaseException) -> None:
    """Raise a Ctrl-C that ``e`` stands for: torch's exporter and tracer wrap a KeyboardInterrupt in their
    own errors (or a half-imported module fails later with an AttributeError or ImportError), which would
    otherwise be reported as a model that cannot be exported, or as a missing package."""
    seen, cause = set(), e
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    # the command line's record of a Ctrl-C (vislab.interrupts), however torch hid it
    if take_ctrl_c():
        raise KeyboardInterrupt from None


def _summary(e: BaseException) -> str:
    """An exception as one short line: its type and the gist of its message (torch's exporter text
    carries a page of advice and an 'Exception summary' section; keep the summary)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))
    if "## Exception summary" in text:
        text = text.split("## Exception summary", 1)[1]
    text = re.split(r"Caused by:|consider using", text, maxsplit=1)[0]  # torch's internal hints
    text = " ".join(text.split())
    return f"{type(e).__name__}: {text[:300]}{'…' if len(text) > 300 else ''}".rstrip(": ")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the tracer's and exporter's warnings, progress lines and graph dumps (Python and C++
    writers alike: file descriptors 1 and 2 point to a scratch file meanwhile)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                contextlib.redirect_stderr(io.StringIO()),
            ):
                yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
