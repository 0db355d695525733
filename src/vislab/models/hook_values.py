"""The values a model's hooks give (:class:`~vislab.models.hooks.ModelHooks`): how its tokens cover the image
(``token_grid``), its hand-written gradients (``hand_written_gradients``), and the plain-SGD levels of a family that
steps by hand (``plain_sgd``). Imported from ``vislab.models.hooks`` as well."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import torch

from vislab.config.unread import OWN_STEP_AS_OPTIM


@dataclass(frozen=True)
class TokenGrid:
    """How a transformer's tokens cover the image, as its attention maps and position embedding list them.

    The tokens are any extra ones (a class token first, then ``registers`` register tokens), then one
    per patch of the ``grid`` (rows, columns), row by row: T = class token + registers + rows × columns,
    the T that attention maps must have (a model of your own is held to it; a library's, e.g. timm's,
    may have more extra tokens). ``class_token``: token 0 is a class token, whose attention row says
    what the prediction looks at (else the rows are averaged). ``residual``: each block adds its input
    back, so attention rollout adds the identity to each block's map.
    """

    grid: tuple[int, int]
    class_token: bool
    residual: bool = True
    registers: int = 0

    @property
    def tokens(self) -> int:
        """T, the number of tokens: the class token, the registers and the patches."""
        return int(self.class_token) + self.registers + self.grid[0] * self.grid[1]

    @staticmethod
    def holds_one(value: object) -> bool:
        """Whether a token_grid hook's ``value`` is a TokenGrid of two positive whole numbers."""
        grid = getattr(value, "grid", None)
        two = isinstance(grid, (tuple, list)) and len(grid) == 2
        return (
            isinstance(value, TokenGrid)
            and two
            and all(isinstance(g, Integral) and g > 0 for g in grid)
        )


@dataclass(frozen=True)
class HandWrittenGradients:
    """A model's own gradients of the mean cross-entropy on one batch, and what autograd checks them by.

    ``gradients``: one tensor per parameter, in ``parameters()`` order, from the backward pass written by
    hand. ``reference_logits``: the same batch's logits computed by torch's library code (``nn`` modules,
    with autograd's graph), whose ``F.cross_entropy`` autograd differentiates for the comparison.
    ``symbols`` (optional): a name for each gradient's parameter, as your notes write it (``mlp-scratch``:
    ``W_h``, ``b_h``, ``W_y``, ``b_y``), shown beside the parameter names in the check's table.
    """

    gradients: list[torch.Tensor]
    reference_logits: torch.Tensor
    symbols: list[str] | None = None


@dataclass(frozen=True)
class PlainSGDLevels:
    """A family whose levels that step by hand (``trained_by="manual_step"``) make plain SGD steps at
    ``optim.lr`` (their unread optim.* amounts to ``config.unread.OWN_STEP_AS_OPTIM``) beside a level ``torch.optim``
    trains, as messages name them: ``option`` and ``by_optim``, the model option and its value that train the
    same network by ``torch.optim`` (mlp-scratch's ``impl``, ``optim``); ``by_hand``, its values that step by
    hand; ``course``, the learning rate a course trains it at, said beside Adam's default one ("": none)."""

    option: str
    by_optim: str
    by_hand: tuple[str, ...]
    course: str = ""

    def sgd_sets(self, by_optim: bool = True) -> tuple[str, str]:
        """The settings that train as the hand-written step does by ``torch.optim`` (``OWN_STEP_AS_OPTIM``), the
        option that picks its level first (``by_optim``): (``--set`` options, Python keyword arguments)."""
        option = [(f"model.{self.option}", self.by_optim)] if by_optim else []
        sets = [*option, *OWN_STEP_AS_OPTIM.items()]
        return (
            " ".join(f"--set {k}={v}" for k, v in sets),
            ", ".join(f"{k.replace('.', '__')}={v!r}" for k, v in sets),
        )
