"""A checkpoint's weights put back into the model built now (resumed, evaluated or reopened), and where
they do not fit, the first tensor that differs, named for the user to act on."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from vislab.errors import DataError, UserCodeError
from vislab.models.objects import is_users_code


def load_weights(
    model: torch.nn.Module, weights: Mapping[str, torch.Tensor], name: str, run: str, version: str
) -> None:
    """Put a checkpoint's ``weights`` into ``model``, built now as model ``name`` for ``run`` (as messages
    name it: ``run 'runs/a'``), whether resumed, evaluated or reopened. Where they do not fit: the first
    tensor that differs (:func:`_first_difference`, else torch's words) — for the user's own code,
    redefined since the run trained, a UserCodeError with the fix; for vislab's own model, a DataError
    (a damaged file, or one of another vislab, ``version``)."""
    try:
        model.load_state_dict(weights)
    except (RuntimeError, KeyError, TypeError, ValueError) as e:  # missing keys, shape mismatch
        first = _first_difference(weights, model.state_dict()) or " ".join(str(e).split())[:300]
        if not is_users_code(name):
            raise DataError(
                f"{run}: its saved weights do not fit its model {name} ({first}). The file is damaged "
                f"or from an incompatible vislab version ({version})."
            ) from None
        raise UserCodeError(
            f"{run} was trained with model '{name}', your own code, which now builds other layers than "
            f"then: {first}. "
            f"Restore the definition of {name} as it was when the run trained (that version of the file, "
            f"module or notebook cell) and reopen the run, or train a new run with the new definition."
        ) from None


def _first_difference(saved: Mapping[str, torch.Tensor], now: Mapping[str, torch.Tensor]) -> str:
    """The first tensor, in the saved order, that the model built now lacks or has in another shape (then
    the first it has that was not saved), e.g. ``body.1.weight was saved as 16×64, the model now has
    24×64``; '' when all match (a load hook renaming keys: torch's message says more)."""

    def shape(t: object) -> str:
        if not isinstance(t, torch.Tensor):
            return "a value"
        return "×".join(map(str, t.shape)) or "a scalar"

    for key, was in saved.items():
        if key not in now:
            return f"{key} was saved as {shape(was)}, the model now has no {key}"
        built = now[key]
        lazy = isinstance(built, torch.nn.parameter.UninitializedTensorMixin)  # takes any shape
        tensors = isinstance(was, torch.Tensor) and isinstance(built, torch.Tensor)
        if tensors and not lazy and built.shape != was.shape:
            return f"{key} was saved as {shape(was)}, the model now has {shape(built)}"
    extra = next((key for key in now if key not in saved), None)
    return f"the model now has {extra}, which the run did not save" if extra else ""
