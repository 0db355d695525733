"""Gradient accumulation (``train.accumulate`` = k): one optimizer step every k batches, and each batch's
place in its window."""

from __future__ import annotations

from typing import NamedTuple


class Window(NamedTuple):
    """A batch's place in its accumulation window (``train.accumulate`` = k): the ``first`` clears the
    gradients, the ``last`` steps; each loss is divided by ``size``, the window's batches (fewer than k in
    an epoch's last window if k does not divide the epoch). Train batches all hold ``batch_size`` samples
    (``drop_last``): the window's gradient is the mean over its samples, whatever its length."""

    first: bool = True
    last: bool = True
    size: int = 1

    @classmethod
    def of(cls, step: int, k: int, steps: int) -> Window:
        """The window of batch ``step`` (0-based) in an epoch of ``steps`` batches."""
        start = step - step % k
        size = min(k, steps - start)
        return cls(step == start, step == start + size - 1, size)
