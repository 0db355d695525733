"""The trainer's progress: the entry point's live bar on a terminal (``vislab`` installs rich's: see
:mod:`vislab.reporting`); plain lines otherwise, with no escape code.

In a Jupyter/Colab notebook there is no escape code either: the finished epochs' lines and one line for
the epoch in progress are one output of the cell, replaced in place as training goes (an IPython display
handle, so the saved notebook keeps only the last state). Without a running IPython kernel (notebook mode
forced in a test) the epochs' lines are printed."""

from __future__ import annotations

import builtins
import os
import sys
import time
from typing import TYPE_CHECKING

from vislab.reporting import LiveBar, display

if TYPE_CHECKING:  # a type only: the progress lines load no torch
    from vislab.training.history import EpochRow

NOTEBOOK_REFRESH_S = (
    0.25  # a notebook's line is redrawn at most this often: each redraw is a message
)


def in_notebook() -> bool:
    """Whether this process is a Jupyter (or Colab, VS Code) notebook's kernel: IPython's ZMQ shell is
    running (the test rich makes; IPython is not imported when it is not running)."""
    get_ipython = getattr(builtins, "get_ipython", None)
    if get_ipython is None:
        return False
    shell = type(get_ipython())
    return (
        shell.__name__ == "ZMQInteractiveShell"
        or "google.colab" in str(shell)
        or bool(os.getenv("DATABRICKS_RUNTIME_VERSION"))
    )


class Progress:
    """Lines and a per-epoch bar for one training: nothing when ``quiet``; ``notebook`` (default: whether
    this process is a notebook's kernel) replaces the cell's output in place."""

    def __init__(self, quiet: bool = False, notebook: bool | None = None):
        self.quiet = quiet
        self.jupyter = in_notebook() if notebook is None else notebook
        shown = display()
        live = None if quiet or self.jupyter or shown is None else shown.live_bar()
        self._live: LiveBar | None = live  # the bar this run may show
        self.interactive = live is not None
        self._bar: LiveBar | None = None  # the bar shown now
        self._cell: NotebookLines | None = None
        self._every = 1

    def line(self, text: str) -> None:
        if self.quiet:
            return
        if self._live is not None:
            self._live.print(text)
        else:
            print(text, file=sys.stdout if self.jupyter else sys.stderr, flush=True)

    def start(self, epochs: int, steps_per_epoch: int, first_epoch: int = 0) -> None:
        self.epochs, self.steps = epochs, steps_per_epoch
        self._every = max(1, steps_per_epoch // 20)
        if self._live is not None:
            self._bar = self._live
            self._bar.start(f"epoch {first_epoch + 1}/{epochs}", steps_per_epoch)
        elif self.jupyter and not self.quiet:
            self._cell = NotebookLines.open(epochs, steps_per_epoch, first_epoch)

    def start_steps(self, description: str, steps: int) -> None:
        """A bar over ``steps`` steps titled ``description`` (an LR range test's), on a terminal alone."""
        self._every = max(1, steps // 20)
        if self._live is not None:
            self._bar = self._live
            self._bar.start(description, steps)

    def wants_update(self, step: int) -> bool:
        if self._cell is not None:
            return step % self._every == 0 and self._cell.due()
        return self.interactive and step % self._every == 0

    def update(self, step: int, loss: float, acc: float, lr: float) -> None:
        self.show(step, f"loss {loss_text(loss)} acc {acc:.4f} lr {lr:.2e}")

    def show(self, step: int, info: str) -> None:
        """The bar at ``step``, followed by ``info``."""
        if self._bar is not None:
            self._bar.update(step, info)
        elif self._cell is not None:
            self._cell.step(step, info)

    def epoch_done(self, row: EpochRow) -> None:
        text = epoch_line(row, self.epochs)
        if self._bar is not None:
            self._bar.print(text)
            if row.epoch < self.epochs:
                self._bar.restart(f"epoch {row.epoch + 1}/{self.epochs}")
        elif self._cell is not None:
            self._cell.epoch_done(text, next_epoch=row.epoch)
        elif not self.quiet:
            print(text, file=sys.stdout if self.jupyter else sys.stderr, flush=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if self._cell is not None:
            self._cell.close()
            self._cell = None


LARGE = 1e5  # a loss from here on is written in exponent form: 1.98e+30, not 31 digits


def loss_text(loss: float) -> str:
    """A loss in a progress line: 4 decimals (0.6931), or 3 significant digits in exponent form from
    :data:`LARGE` on (1.98e+30), as exploding weights make it."""
    return f"{loss:.4f}" if abs(loss) < LARGE else f"{loss:.3g}"


def epoch_line(row: EpochRow, epochs: int) -> str:
    """An epoch's metrics row as one line: train, val (when scored), tracked test, seconds."""
    return (
        f"epoch {row.epoch}/{epochs}  train loss {loss_text(row.train_loss)} acc {row.train_acc:.4f}"
        + (
            f"  val loss {loss_text(row.val_loss)} acc {row.val_acc:.4f} pacc {row.val_pacc:.4f}"
            if row.evaluated
            else ""
        )
        + (
            f"  test (tracked) loss {loss_text(row.test_loss)} acc {row.test_acc:.4f}"
            if row.test_acc is not None
            else ""
        )
        + f"  {row.seconds:.1f}s"
    )


class NotebookLines:
    """A notebook cell's progress: the finished epochs' lines, then the line of the epoch in progress
    (:func:`progress_line`), shown as one text output that each call replaces."""

    def __init__(self, handle, pretty: type, epochs: int, steps: int, first_epoch: int):
        self._handle, self._pretty = handle, pretty
        self.epochs, self.steps, self.first_epoch = epochs, steps, first_epoch
        self.epoch = first_epoch  # 0-based: the epoch in progress
        self.lines: list[str] = []
        self.live = ""
        self._started = self._shown = time.monotonic()

    @classmethod
    def open(cls, epochs: int, steps: int, first_epoch: int) -> NotebookLines | None:
        """The display of the running cell; None without a running IPython kernel (nothing to update)."""
        try:  # IPython runs every notebook's kernel; vislab does not need it anywhere else
            from IPython import get_ipython
            from IPython.display import Pretty, display
        except ImportError:
            return None
        if get_ipython() is None:
            return None
        text = f"epoch {first_epoch + 1}/{epochs} starting"
        return cls(display(Pretty(text), display_id=True), Pretty, epochs, steps, first_epoch)

    def due(self) -> bool:
        """Whether the line was last drawn long enough ago to draw it again."""
        return time.monotonic() - self._shown >= NOTEBOOK_REFRESH_S

    def step(self, step: int, info: str) -> None:
        done = (self.epoch - self.first_epoch) * self.steps + step  # steps trained since start
        left = (self.epochs - self.epoch) * self.steps - step
        elapsed = time.monotonic() - self._started
        eta = elapsed * left / done if done else None
        self.live = progress_line(self.epoch + 1, self.epochs, step, self.steps, info, eta)
        self._show()

    def epoch_done(self, text: str, next_epoch: int) -> None:
        self.lines.append(text)
        self.epoch, self.live = next_epoch, ""
        self._show()

    def close(self) -> None:
        """The final state: the epochs' lines (and the unfinished epoch's line, if one was stopped)."""
        self._show()

    def _show(self) -> None:
        self._handle.update(self._pretty("\n".join([*self.lines, self.live]).rstrip("\n")))
        self._shown = time.monotonic()


def progress_line(
    epoch: int, epochs: int, step: int, steps: int, info: str, eta_s: float | None, width: int = 24
) -> str:
    """``epoch 3/8 ██████░░░░ 30/45  loss … acc … lr …  ~0:12 left``: plain text, no escape code."""
    filled = round(width * step / max(steps, 1))
    bar = "█" * filled + "░" * (width - filled)
    left = "" if eta_s is None else f"  ~{int(eta_s) // 60}:{int(eta_s) % 60:02d} left"
    return f"epoch {epoch}/{epochs} {bar} {step}/{steps}  {info}{left}"
