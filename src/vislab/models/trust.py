"""Opening a finished run never executes code silently: a run's own model code (``model.name=file.py:Net``)
is imported only with ``trust_code``, or from a file whose sha256 is the one the run recorded."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vislab.errors import UntrustedCode
from vislab.models.registry import MODEL_PREFIXES, MODELS
from vislab.models.user import Reference, module_origin, parse_reference, pinned


@contextlib.contextmanager
def recorded_code(name: str, record: Any, trust_code: bool, run: str) -> Iterator[str]:
    """Allow importing the user code of a recorded run (a checkpoint's ``model_name`` and ``model_code``).

    Yields the model name to build with. A registered name passes through. For user code: with
    ``trust_code`` the file found is imported as it is; otherwise only a file whose sha256 is the one
    the run recorded (checked again on the bytes executed). Anything else is UntrustedCode (exit 2)
    saying what would be imported, why it was refused, and how to allow it.
    """
    ref = parse_reference(name)
    if ref is None or _registered(name):
        yield name
        return
    record = record if isinstance(record, dict) else {}
    sha = record.get("sha256") if isinstance(record.get("sha256"), str) else None
    recorded = record.get("path") if isinstance(record.get("path"), str) else None
    found = _candidates(ref, recorded)
    matching = next((p for p in found if sha and _sha256(p) == sha), None)
    if matching is not None or trust_code:
        chosen = matching or (found[0] if found else None)
        use = name if chosen is None or not ref.is_file else _with_path(ref, chosen)
        held = matching is not None and ref.is_file
        with pinned(matching, sha) if held else contextlib.nullcontext():  # type: ignore[arg-type]
            yield use
        return
    raise UntrustedCode(_refusal(ref, run, found, recorded, sha))


def _registered(name: str) -> bool:
    """A registered name, or ``prefix:rest`` of a registered prefix (``timm:vit_tiny_patch16_224``): the
    registry builds it before any user reference (``registry._lookup``), so no user code is imported."""
    prefix, _, rest = name.partition(":")
    return name in MODELS or (bool(rest) and prefix in MODEL_PREFIXES)


def _candidates(ref: Reference, recorded: str | None) -> list[Path]:
    """The existing files a recorded reference may be imported from: relative to the current directory
    first, then the absolute path the run recorded (file references); the module's file (modules)."""
    if not ref.is_file:
        origin = module_origin(ref.target)
        return [origin] if isinstance(origin, Path) else []
    paths = [Path(ref.target).expanduser(), *([Path(recorded)] if recorded else [])]
    found: list[Path] = []
    for p in paths:
        if p.is_file() and p.resolve() not in found:
            found.append(p.resolve())
    return found


def _with_path(ref: Reference, path: Path) -> str:
    here = Path(ref.target).expanduser()
    return ref.text if here.is_file() and here.resolve() == path else f"{path}:{ref.attr}"


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _module_missing(recorded: str | None) -> str:
    """Why a module reference's code was not found: not importable from here, though its file may be."""
    if recorded and Path(recorded).is_file():
        folder = Path(recorded).parent
        return (
            f"the module cannot be imported from here, though its file {recorded} is there: run from "
            f"{folder}, or add that folder to PYTHONPATH"
        )
    return "the module cannot be found"


def _refusal(
    ref: Reference, run: str, found: list[Path], recorded: str | None, sha: str | None
) -> str:
    what = f"'{found[0]}'" if found else f"'{ref.target}'"
    if not found:
        places = ", ".join(
            dict.fromkeys(
                [str(Path(ref.target).expanduser().resolve()), *([recorded] if recorded else [])]
            )
        )
        why = (
            f"no such file exists (looked for {places})"
            if ref.is_file
            else _module_missing(recorded)
        )
    elif sha is None:
        why = "the run records no sha256 of its model's code (a module without a file, or an old or edited checkpoint)"
    else:
        now = _sha256(found[0]) or "unreadable"
        why = (
            f"its sha256 ({now[:12]}…) differs from the one the run recorded ({sha[:12]}…): the code "
            f"changed since training"
        )
    missing = recorded and not Path(recorded).is_file()
    put_back = f" or put the file the run was trained with back at {recorded}" if missing else ""
    return (
        f"not importing user code: the model of '{run}' is '{ref.text}', and loading it would execute "
        f"{what} (attribute {ref.attr}), but {why}. vislab never runs code from a run directory "
        f"without your consent. If you trust this code, pass --trust-code (Python: trust_code=True)"
        f"{put_back}."
    )
