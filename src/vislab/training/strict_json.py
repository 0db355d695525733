"""The JSON of a run folder (summary.json, metrics.jsonl, steps.jsonl, grad_norms.jsonl): written as
strict JSON (RFC 8259), read back with a reason for what cannot be read.

A float that is not finite (NaN, ±inf: the accuracy of a class with no samples, the loss of a diverged
run) is written as null: Python's json would write NaN, which is no JSON, and other readers (jq,
JavaScript's JSON.parse, PostgreSQL) refuse the file.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def strict_json(value, indent: int | None = None) -> str:
    """``value`` as strict JSON text: numpy numbers and arrays as numbers and lists, paths as strings, and
    a float that is not finite as null."""
    return json.dumps(_plain(value), indent=indent, allow_nan=False)


def _plain(o):
    """``o`` with JSON's types only (see :func:`strict_json`); TypeError for anything else."""
    if isinstance(o, dict):
        return {k: _plain(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, np.ndarray)):
        return [_plain(v) for v in o]
    if isinstance(o, (bool, np.bool_)):
        return bool(o)
    if isinstance(o, (float, np.floating)):
        return float(o) if math.isfinite(o) else None
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, Path):
        return str(o)
    if o is None or isinstance(o, (str, int)):
        return o
    raise TypeError(f"not JSON serialisable: {type(o)}")


def json_object(line: str, number: int) -> dict | str:
    """The JSON object of line ``number`` of a JSON-lines file, or why it holds none."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        return f"{e.msg}: line {number} column {e.colno}"
    return row if isinstance(row, dict) else f"line {number} holds no JSON object"


def read_json_object(path: Path) -> dict:
    """The JSON object in file ``path``; ValueError saying, in a few words, why it holds none (unreadable,
    cut short or no JSON, another JSON type)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(why_unreadable(e)) from None
    if not isinstance(data, dict):
        raise ValueError(f"it holds a JSON {type(data).__name__}, not a JSON object")
    return data


def why_unreadable(e: Exception) -> str:
    """Why a JSON file could not be read, in a few words: JSON's message and place, or the system's."""
    if isinstance(e, json.JSONDecodeError):
        return f"{e.msg}: line {e.lineno} column {e.colno}"
    if isinstance(e, OSError):
        return e.strerror or str(e)
    return str(e)
