"""Console progress: a rich bar with ETA, loss and accuracy on a terminal; plain lines otherwise.

In a Jupyter/Colab notebook (rich's ``Console.is_jupyter``) there is no bar and no escape code: plain lines
on the cell's standard output."""

from __future__ import annotations

import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.progress import (
    Progress as RichProgress,
)


class Progress:
    def __init__(self, quiet: bool = False, console: Console | None = None):
        self.quiet = quiet
        self.console = console or Console(stderr=True)
        self.jupyter = self.console.is_jupyter
        self.interactive = not quiet and self.console.is_terminal and not self.jupyter
        self._bar: RichProgress | None = None
        self._task = None
        self._every = 1

    def line(self, text: str) -> None:
        if self.quiet:
            return
        if self.jupyter:
            print(text, flush=True)
        else:
            self.console.print(text, highlight=False, soft_wrap=True)

    def start(self, epochs: int, steps_per_epoch: int, first_epoch: int = 0) -> None:
        self.epochs, self.steps = epochs, steps_per_epoch
        self._every = max(1, steps_per_epoch // 20)
        if self.interactive:
            self._bar = RichProgress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[info]}"),
                console=self.console,
            )
            self._bar.start()
            self._task = self._bar.add_task(
                f"epoch {first_epoch + 1}/{epochs}", total=steps_per_epoch, info=""
            )

    def wants_update(self, step: int) -> bool:
        return self.interactive and step % self._every == 0

    def update(self, step: int, loss: float, acc: float, lr: float) -> None:
        if self._bar is not None:
            self._bar.update(
                self._task, completed=step, info=f"loss {loss:.4f} acc {acc:.4f} lr {lr:.2e}"
            )

    def epoch_done(self, row: dict) -> None:
        text = (
            f"epoch {row['epoch']}/{self.epochs}  train loss {row['train_loss']:.4f} acc {row['train_acc']:.4f}"
            + (
                f"  val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f} pacc {row['val_pacc']:.4f}"
                if "val_acc" in row
                else ""
            )
            + (
                f"  test (tracked) loss {row['test_loss']:.4f} acc {row['test_acc']:.4f}"
                if "test_acc" in row
                else ""
            )
            + f"  {row['seconds']:.1f}s"
        )
        if self._bar is not None:
            self._bar.console.print(text, highlight=False)
            if row["epoch"] < self.epochs:
                self._bar.reset(
                    self._task, description=f"epoch {row['epoch'] + 1}/{self.epochs}", info=""
                )
        elif not self.quiet:
            print(text, file=sys.stdout if self.jupyter else sys.stderr, flush=True)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
