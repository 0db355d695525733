"""The terminal's view of ``vislab eval`` and ``vislab predict``: the values ``vislab.predict`` returns,
formatted as a per-class table, confused pairs and one line per image."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vislab.errors import UserError
from vislab.plotting.mistakes import pair_lines
from vislab.predict import Evaluation, Ranked

out = Console()


def print_scores(ev: Evaluation) -> None:
    """The split's accuracy, per-class table and most confused pairs (before any PNG is written)."""
    m, names = ev.scored.metrics, ev.scored.class_names
    out.print(f"{ev.split}: acc {m.acc:.4f}, per-class acc {m.pacc:.4f}, n={m.n}", highlight=False)
    table = Table()
    table.add_column("class")
    table.add_column("accuracy", justify="right")
    table.add_column("support", justify="right")
    for name, acc, row in zip(names, m.per_class, m.confusion):
        table.add_row(escape(str(name)), f"{acc:.4f}", str(int(row.sum())))
    out.print(table)
    out.print(f"most confused pairs ({ev.split}, true → predicted):", highlight=False)
    for line in pair_lines(ev.pairs, names) or ["none: every prediction is right"]:
        out.print(escape(f"  {line}"), highlight=False)


def print_figures(ev: Evaluation) -> None:
    """Where the confusion matrix and the gallery were written."""
    lines = [f"confusion matrix: {ev.confusion_png}"]
    if ev.mistakes_png is not None and ev.scored.data.is_image:
        lines.append(f"most confidently wrong images ({len(ev.mistakes)}): {ev.mistakes_png}")
    elif ev.mistakes_png is not None:
        lines.append(f"most confused pairs (feature vectors, no images): {ev.mistakes_png}")
    for line in lines:
        out.print(escape(line), highlight=False, soft_wrap=True)


def print_predictions(results: list[tuple[Path, Ranked | UserError]]) -> int:
    """One line per image: its top-k classes, or its error. Returns the number of errors."""
    failures = 0
    for path, ranked in results:
        if isinstance(ranked, UserError):
            failures += 1
            print_image_error(path, ranked)
            continue
        text = ", ".join(f"{name} {q:.3f}" for name, q in ranked)
        out.print(escape(f"{path}: {text}"), highlight=False, soft_wrap=True)
    return failures


def print_image_error(image: object, error: UserError) -> None:
    """``IMAGE: error: ...`` for one image of several that could not be used (the others go on)."""
    out.print(
        f"[red]{escape(str(image))}: error:[/] {escape(str(error))}",
        highlight=False,
        soft_wrap=True,
    )
