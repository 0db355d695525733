"""What an LR range test is given (:class:`RangeTest`: its lr range, steps and stop rule) and what it
found (:class:`LRFinding`: the losses per step, the suggestion, its plot and its words); the test itself
runs in :mod:`vislab.training.lr_find`."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vislab.errors import UserError
from vislab.training.lr_curve import RULE, weak_suggestion

# matplotlib (~1 s) is imported by LRFinding.plot when it draws ("on use"): the test itself needs none
if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True)
class RangeTest:
    """The test's settings: lr from ``start_lr`` to ``end_lr`` over ``steps`` steps."""

    start_lr: float = 1e-7
    end_lr: float = 10.0
    steps: int = 200
    smoothing: float = 0.9  # β of the stop rule's moving average (module docstring)
    window: float = 0.2  # the drawn curve: the mean over this many decades of lr on either side
    diverge: float = 4.0  # stop once the smoothed loss exceeds this many times its minimum
    rise: float = 1.2  # ... or this many times its start (lr_curve's docstring)

    def __post_init__(self) -> None:
        if not 0 < self.start_lr < self.end_lr:
            raise UserError(
                f"the LR range test needs 0 < start lr < end lr, got start {self.start_lr:g} and end "
                f"{self.end_lr:g}. E.g. --start-lr 1e-7 --end-lr 10 / start_lr=1e-7, end_lr=10."
            )
        if self.steps < 10:
            raise UserError(f"the LR range test needs at least 10 steps (got {self.steps}).")
        if not 0 <= self.smoothing < 1 or min(self.diverge, self.rise) <= 1 or self.window < 0:
            raise UserError(
                f"the LR range test needs smoothing in [0, 1), diverge > 1, rise > 1 and window ≥ 0 "
                f"(got {self.smoothing:g}, {self.diverge:g}, {self.rise:g}, {self.window:g})."
            )

    def lr(self, i: int) -> float:
        return self.start_lr * (self.end_lr / self.start_lr) ** (i / (self.steps - 1))

    @property
    def half_window(self) -> int:
        """The drawn curve's neighbours on either side: ``window`` decades in steps."""
        steps_per_decade = (self.steps - 1) / math.log10(self.end_lr / self.start_lr)
        return round(self.window * steps_per_decade)


@dataclass(repr=False)
class LRFinding:
    """What the test measured: one entry per step taken, and the suggested learning rate.

    >>> f = vislab.lr_find(model="cnn", data="digits", steps=100)
    >>> f.suggestion, f.plot()   # the lr to train with; loss against lr (a Figure)
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]  # the centred mean (module docstring)
    suggestion: float  # by ``rule`` (``interrupted``: of the steps taken only, no lr to train with)
    min_loss_lr: float  # the lr of the lowest smoothed loss
    stopped: str  # why it ended before ``test.steps`` ("" when it ran them all)
    test: RangeTest
    rule: str = RULE
    title: str = ""  # what was tested, e.g. "cnn on digits (sgd)"
    accumulate: int = 1  # batches per step (train.accumulate)
    # cut short by Ctrl-C: the steps taken until then (``stopped`` says where)
    interrupted: bool = False
    # the setting the curve's lr is: optim.head_lr where only the head trains
    swept: str = "optim.lr"
    # with optim.head_lr where the rest trains too: head_lr / lr, the head's lr as a multiple of the curve's
    head_ratio: float | None = None

    @property
    def settings(self) -> dict[str, float]:
        """The suggestion as the settings to train with (rounded to 2 significant digits): ``optim.lr``, with
        ``optim.head_lr`` at its ratio to it as the test swept them; or ``optim.head_lr`` alone where only
        the head trained."""
        lr = float(f"{self.suggestion:.2g}")
        if self.head_ratio is None:
            return {self.swept: lr}
        return {self.swept: lr, "optim.head_lr": float(f"{lr * self.head_ratio:.2g}")}

    @property
    def warning(self) -> str:
        """Why the suggestion is weak (:func:`weak_suggestion`), or ""."""
        return weak_suggestion(self.losses, self.smoothed)

    def lines(self) -> list[str]:
        """What the test found, in sentences: the steps run, the lowest loss, the suggestion, a warning;
        for a test cut short by Ctrl-C, no suggestion: the range it did not reach is unknown."""
        each = f" of {self.accumulate} accumulated batches" if self.accumulate > 1 else ""
        ran = f"{len(self.lrs)} steps{each}, lr {self.lrs[0]:.3g} → {self.lrs[-1]:.3g}"
        lines = [
            f"ran {ran}" + (f"; stopped: {self.stopped}" if self.stopped else ""),
            f"lowest smoothed loss {min(self.smoothed):.4g} at lr {self.min_loss_lr:.3g}",
        ]
        if self.interrupted:
            return [
                *lines,
                f"no lr suggested: the range was cut short before its end (lr {self.test.end_lr:.3g}), "
                f"and the steepest descent and the divergence may lie beyond lr {self.lrs[-1]:.3g}",
            ]
        return lines + self._suggested() + ([f"warning: {self.warning}"] if self.warning else [])

    def _suggested(self) -> list[str]:
        """The suggestion's lines: the setting the curve's lr is, then, with ``optim.head_lr``, the head's."""
        values = list(self.settings.values())
        lines = [f"suggested {self.swept}: {values[0]:g} ({self.rule})"]
        if self.swept == "optim.head_lr":
            lines.append("only the head trains (optim.head_lr): the curve's lr is the head's own")
        elif self.head_ratio is not None:
            lines.append(
                f"suggested optim.head_lr: {values[1]:g}, {self.head_ratio:.3g}× optim.lr as the test "
                f"swept the head (the ratio of optim.head_lr to optim.lr as given)"
            )
        return lines

    def plot(self) -> Figure:
        """Loss against lr (log scale): each step's loss, the smoothed curve, the suggestion marked."""
        from vislab.plotting.lr_find import lr_find_figure  # on use (see the imports)

        cut = (
            f" (interrupted at lr {self.lrs[-1]:.2g}: no lr suggested)" if self.interrupted else ""
        )
        fig = lr_find_figure(
            self.lrs,
            self.losses,
            self.smoothed,
            self.suggestion,
            self.min_loss_lr,
            self.title + cut,
        )
        if self.interrupted:  # its suggestion's line taken out
            ax = fig.axes[0]
            for line in [x for x in ax.lines if x.get_label().startswith("suggested lr")]:
                line.remove()
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        return fig

    def __repr__(self) -> str:
        what = f"{self.title}: " if self.title else ""
        if self.interrupted:
            return f"<LRFinding {what}no lr suggested after {len(self.lrs)} steps (interrupted)>"
        said = ", ".join(f"{k.removeprefix('optim.')} {v:g}" for k, v in self.settings.items())
        return f"<LRFinding {what}suggested {said} after {len(self.lrs)} steps>"

    def _repr_html_(self) -> str:
        """The notebook view: what was found, then the plot inline."""
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines())
        png = base64.b64encode(self.plot()._repr_png_()).decode()
        head = f"LR range test: {html.escape(self.title)}" if self.title else "LR range test"
        return (
            f"<div><b>{head}</b><ul>{items}</ul>"
            f"<img src='data:image/png;base64,{png}' alt='loss against learning rate'/></div>"
        )
