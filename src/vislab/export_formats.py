"""Writing a model as ONNX (at a chosen opset) or TorchScript bytes (quietly: the tracer's and exporter's
warnings and dumps are kept off the terminal; a TorchScript model inside an :class:`InputCheck` of the
run's input shape), checking that the written model computes what the PyTorch model does on other
batches, and putting the inference spec inside the file (:func:`with_metadata`); for ``vislab.export``."""

from __future__ import annotations

import contextlib
import io
import json
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
#: a TorchScript export's extra file holding its inference spec: ``torch.jit.load(f, _extra_files=...)``
SPEC_IN_FILE = "model.json"
#: the lowest ONNX opset torch's exporter writes itself (lower ones by converting its model down)
OPSET_FROM = 18
#: the exported model must match PyTorch within this (absolute, plus relative to the logits' scale)
CHECK_ATOL, CHECK_RTOL = 1e-4, 1e-3

Runner = Callable[[torch.Tensor], torch.Tensor]


class InputCheck(torch.nn.Module):
    """A TorchScript export's outer module: it refuses a batch whose sample shape is not the run's input
    shape (tracing drops the checks of a model's own forward, timm's image-size check among them, and a
    model may well compute on other sizes), naming both shapes and the fix (``hint``), then runs the
    traced model. Any batch size passes, 0 included."""

    def __init__(self, model: torch.nn.Module, shape: tuple[int, ...], hint: str):
        super().__init__()
        self.model = model
        self.shape = list(shape)  # TorchScript: List[int]
        self.takes = "×".join(["N", *map(str, shape)])
        self.hint = hint

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != len(self.shape) + 1 or x.shape[1:] != self.shape:
            raise RuntimeError(
                f"input of shape {x.shape}: this model takes float32 batches {self.takes} (any N); each "
                f"sample must be {self.shape}, got {x.shape[1:]}. {self.hint}"
            )
        return self.model(x)


def to_torchscript(
    model: torch.nn.Module, example: torch.Tensor, name: str, hint: str = ""
) -> tuple[bytes, Runner]:
    """Trace ``model`` on ``example``, inside an :class:`InputCheck` of the example's sample shape (``hint``:
    how to make inputs of that shape); the saved bytes and the reloaded module that runs them."""
    with _quiet():
        try:
            traced = torch.jit.trace(model, example, check_trace=False)
        except Exception as e:  # noqa: BLE001 - the tracer raises any type the forward does
            _raise_if_interrupted(e)
            raise UserError(
                f"model '{name}' could not be traced to TorchScript: {_summary(e)}. Its forward must be "
                f"tensor operations only; rewrite the failing part, or try --format onnx."
            ) from None
        checked = torch.jit.script(InputCheck(traced, tuple(example.shape[1:]), hint).eval())
        buf = io.BytesIO()
        torch.jit.save(checked, buf)
        data = buf.getvalue()
        loaded = torch.jit.load(io.BytesIO(data), map_location="cpu")
    return data, loaded


def with_metadata(data: bytes, fmt: str, spec: dict, spec_text: str) -> bytes:
    """The exported ``data`` with its inference spec inside (what it computes unchanged): ONNX's
    ``metadata_props``, a key per top-level key of ``spec`` and its value as JSON text; TorchScript's
    extra file :data:`SPEC_IN_FILE`, ``spec_text`` (the JSON written beside the model)."""
    if fmt == "onnx":
        import onnx  # present: to_onnx needed it

        proto = onnx.load_model_from_string(data)
        del proto.metadata_props[:]
        for key, value in spec.items():
            proto.metadata_props.add(key=key, value=json.dumps(value, ensure_ascii=False))
        return proto.SerializeToString()
    with _quiet():
        module = torch.jit.load(io.BytesIO(data), map_location="cpu")
        buf = io.BytesIO()
        torch.jit.save(module, buf, _extra_files={SPEC_IN_FILE: spec_text})
    return buf.getvalue()


def onnx_packages() -> None:
    """UserError unless the optional extra (vislab[onnx]) is installed: torch's exporter needs onnx and
    onnxscript, the check onnxruntime."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as e:
        _raise_if_interrupted(e)
        raise UserError(
            f"--format onnx needs the ONNX packages ({e.name} is missing): pip install 'vislab[onnx]'."
        ) from None


def check_opset(opset: int | None, fmt: str) -> None:
    """UserError, before any work, for an ``opset`` (--opset) that is not for ``fmt`` or that the installed
    onnx package does not know (the exporter writes opset :data:`OPSET_FROM` and up; lower ones it
    converts down to, which fails for many models: :func:`to_onnx` checks what it wrote)."""
    if opset is None:
        return
    if fmt != "onnx":
        raise UserError(
            f"--opset {opset} is the ONNX opset version, but --format is {fmt}: leave --opset out "
            f"(Python: opset=None), or give --format onnx."
        )
    onnx_packages()
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if not 7 <= opset <= newest:
        raise UserError(
            f"--opset {opset} (Python: opset=) is not an ONNX opset the installed onnx {onnx.__version__} "
            f"knows: give one from {OPSET_FROM} to {newest} (torch's exporter writes those; lower "
            f"ones, down to 7, only by a conversion that fails for many models), or leave it out for "
            f"torch's default."
        )


def to_onnx(
    model: torch.nn.Module, example: torch.Tensor, name: str, opset: int | None = None
) -> tuple[bytes, Runner]:
    """Export ``model`` with torch's ONNX exporter (batch axis dynamic), at ``opset`` (None: torch's
    default; :func:`check_opset`); the bytes and an onnxruntime session that runs them."""
    onnx_packages()
    import onnxruntime

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
                **({} if opset is None else {"opset_version": opset}),
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
    _check_written_opset(program.model_proto, opset, name)
    try:
        session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own types (an opset it lacks, ...)
        _raise_if_interrupted(e)
        raise UserError(
            f"model '{name}' was exported to ONNX, but onnxruntime {onnxruntime.__version__} cannot run "
            f"it ({_summary(e)}): give a lower --opset (torch's default without it), or upgrade "
            f"onnxruntime."
        ) from None

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run([OUTPUT_NAME], {INPUT_NAME: x.numpy()})[0])

    return data, run


def _check_written_opset(proto: object, opset: int | None, name: str) -> None:
    """UserError when the exporter wrote another opset than ``opset`` (it keeps its own when converting
    down to an older one fails, and says so only in a log line)."""
    written = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is not None and written != opset:
        raise UserError(
            f"--opset {opset}: torch's exporter could not write model '{name}' in ONNX opset {opset} (it "
            f"writes opset {OPSET_FROM} and up; converting down to {opset} failed, leaving {written}): "
            f"give --opset {OPSET_FROM} or higher (Python: opset=), or leave it out for torch's default."
        )


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
