"""What a run that ends before finishing leaves: metrics.jsonl and a summary.json saying how it stopped and
how far the training its last.pt holds goes (a signal, a NaN loss, a failing model or callback)."""

from __future__ import annotations

from vislab.training.history import to_rows
from vislab.training.rundir import RunDir
from vislab.training.setup import Training
from vislab.training.state import LoopState, Saved
from vislab.training.summary import stopped_summary


def mark(t: Training, status: str, message: str | None = None) -> None:
    """metrics.jsonl and a summary.json with ``status`` for a run that ends before finishing; its
    ``epochs_run`` and ``step`` say how far the training its ``last.pt`` holds goes (``t.last_saved``):
    where a stop has just saved it, or where an earlier save left it (an epoch's end, or the step a
    resumed run started from) — what a data-parallel run, a NaN loss and a failure mid-epoch keep;
    ``message``: why, where the results tables should not guess (a callback's failure)."""
    if t.dist.is_main:
        t.run.write_metrics(to_rows(t.history))
        write_stopped_summary(t.run, t.loop, status, t.last_saved, message)


def write_stopped_summary(
    run: RunDir, loop: LoopState, status: str, saved: Saved | None, message: str | None = None
) -> None:
    """``run``'s summary.json for a run stopped with ``status`` where ``loop`` stood, its ``last.pt``
    at ``saved`` (``mark``), ``message`` saying why (None: none); also what the ``--nproc`` launcher
    writes from ``last.pt`` when no rank could (``launch.summarise_stopped``)."""
    summary = stopped_summary(status, loop, saved)
    run.write_summary(summary if message is None else summary.replace(message=message))
