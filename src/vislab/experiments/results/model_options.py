"""A comparison table's model options (``model.*``): each row's value where another row's differs. A row
that leaves an option unset shows the value its model takes then (the registry's
``models.option_defaults``: its signature's, or its preset's: an mlp's ``model.hidden`` ``[256]``); a row
whose model has no such option (``model.widths`` of an mlp) shows :data:`NOT_TAKEN` in the tables for
people (results.md, report.html, the paper), which the line under the table explains
(:func:`not_taken_note`), and an empty cell in results.csv and ``vislab.compare`` (:func:`taken`: a
numeric option's column stays numeric, as pandas reads it back). Only a table with a model option set
looks models up (they load torch): a table of runs that set none reads no torch.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from vislab.errors import UserError
from vislab.experiments.results.cells import setting_cell

NOT_TAKEN = "n/a"  # a row's cell of a model option its model does not have
Model = tuple[Any, "str | None"]  # a run's model.name and model.preset


def model_of(settings: dict[str, Any]) -> Model:
    """A run's model as its flat settings name it: (model.name, model.preset or None)."""
    preset = settings.get("model.preset")
    return settings.get("model.name"), preset if isinstance(preset, str) else None


def option_values(model: Model) -> dict[str, Any] | None:
    """The options ``model`` takes → the value each has when left unset (``models.option_defaults``; a
    model in a file: :func:`file_option_values`, its source read, not imported); None where that is not
    known here: a model not registered in this process, one taking any option (``**kwargs``), or an
    unknown preset."""
    from vislab.models import MODELS, option_defaults  # on use: the models load torch

    name, preset = model
    if isinstance(name, str) and name.rpartition(":")[0].endswith(".py"):  # a model in a file
        return file_option_values(name)
    if name not in MODELS:
        return None
    try:
        params = inspect.signature(MODELS[name]).parameters.values()
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return option_defaults(name, preset)
    except (
        UserError,
        KeyError,
        TypeError,
        ValueError,
    ):  # redefined since registered, unknown preset
        return None


# what vislab passes a model in a file itself: not options of the user's
PASSED = ("self", "num_classes", "input_shape")


def file_option_values(name: str) -> dict[str, Any] | None:
    """The options a model in a file (``model.name`` ``path.py:Net``: a class's ``__init__`` or a
    builder function) takes → their defaults, read from the file's source, nothing imported (the
    table runs no code of the user's); None where that is not known: no such file or definition, one
    taking any option (``**kwargs``), or a default that is no literal (``width=2 * W``). An option
    without a default has None."""
    path, _, attr = name.rpartition(":")
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return None
    found = next((n for n in tree.body if getattr(n, "name", None) == attr), None)
    if isinstance(found, ast.ClassDef):
        found = next((n for n in found.body if getattr(n, "name", None) == "__init__"), None)
    if not isinstance(found, ast.FunctionDef) or found.args.kwarg is not None:
        return None
    args = [*found.args.posonlyargs, *found.args.args]
    defaults = [None] * (len(args) - len(found.args.defaults)) + list(found.args.defaults)
    pairs = [*zip(args, defaults), *zip(found.args.kwonlyargs, found.args.kw_defaults)]
    try:
        return {
            a.arg: None if d is None else ast.literal_eval(d)
            for a, d in pairs
            if a.arg not in PASSED
        }
    except ValueError:  # a default computed when the file runs
        return None


def at_model_default(settings: dict[str, Any]) -> set[str]:
    """The ``model.*`` keys of a run's flat ``settings`` set to the value its model uses when they are
    left unset (``model.dropout=0`` of an mlp, or of a cnn whose preset has no dropout): the run is the
    same as one that leaves them to its model, so the tables compare them as unset."""
    options = {k.removeprefix("model."): k for k in settings if k.startswith("model.")}
    options.pop("name", None)
    if not options:  # nothing to look up: no model is loaded (a table of runs reads no torch)
        return set()
    defaults = option_values(model_of(settings)) or {}
    return {k for o, k in options.items() if o in defaults and settings[k] in (None, defaults[o])}


def with_model_defaults(
    values: dict[str, Any], keys: Sequence[str], model: Model
) -> dict[str, Any]:
    """A row's ``values`` with each model option of ``keys`` it leaves unset: its model's value then,
    or :data:`NOT_TAKEN` where its model has no such option (as they were, for a model not known here)."""
    unset = [k for k in keys if k.startswith("model.") and k not in values]
    if not unset:
        return values
    options = option_values(model)
    if options is None:
        return values
    return {
        **values,
        **{k: options.get(k[6:], NOT_TAKEN) if k[6:] in options else NOT_TAKEN for k in unset},
    }


def not_taken_note(values: dict[str, dict[str, Any]], shown: Collection[str]) -> str:
    """The line under a table whose columns (``shown``: their keys) have a :data:`NOT_TAKEN` cell (row
    → its settings: ``values``), naming the rows and options; "" when none has."""
    rows = {row: [k for k in shown if vs.get(k) is NOT_TAKEN] for row, vs in values.items()}
    said = "; ".join(f"{row}: {', '.join(keys)}" for row, keys in rows.items() if keys)
    return f"{NOT_TAKEN}: the row's model has no such option ({said})." if said else ""


def taken(value: Any) -> Any:
    """A setting's cell in results.csv and ``vislab.compare``: ``value``, but None (an empty cell, as for
    a setting the row does not have) for :data:`NOT_TAKEN`, which only the tables for people show; a
    list as --set takes it (:func:`~vislab.experiments.results.cells.setting_cell`)."""
    return None if value is NOT_TAKEN else setting_cell(value)
