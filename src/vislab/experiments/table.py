"""The reports' comparison table, built from run summaries: CSV, Markdown, rich, and rows for HTML."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.table import Table

from vislab.training.checkpoint import atomic_write_text

COLUMNS = [  # (key in summary.json, header); train ACC is the best epoch's (the train–test gap of report 004)
    ("run", "run"),
    ("train_acc", "train ACC"),
    ("val_acc", "val ACC"),
    ("val_pacc", "val PACC"),
    ("test_acc", "test ACC"),
    ("test_pacc", "test PACC"),
    ("test_loss", "test loss"),
    ("train_time_s", "train time (s)"),
    ("test_time_s", "test time (s)"),
    ("params", "parameters"),
    ("best_epoch", "best epoch"),
]


def table_rows(summaries: dict[str, dict]) -> list[dict]:
    """One row per run (named by its key), columns as COLUMNS."""
    return [
        {key: (name if key == "run" else s.get(key)) for key, _ in COLUMNS}
        for name, s in summaries.items()
    ]


def fmt(key: str, v) -> str:
    """A cell as the reports print it: accuracies and losses to 4 decimals, times to 2, counts as integers."""
    if v is None:
        return "-"
    if key.endswith(("acc", "loss")):
        return f"{v:.4f}"
    if key.endswith("_s"):
        return f"{v:.2f}"
    if key == "params" and isinstance(v, int):
        return f"{v:,}"
    return str(v)


def to_markdown(rows: list[dict], failures: dict[str, str] | None = None) -> str:
    head = (
        "| "
        + " | ".join(h for _, h in COLUMNS)
        + " |\n|"
        + "|".join("---" if k == "run" else "---:" for k, _ in COLUMNS)
        + "|\n"
    )
    text = head + "".join(
        "| " + " | ".join(fmt(k, r[k]) for k, _ in COLUMNS) + " |\n" for r in rows
    )
    if failures:
        text += "\nFailed or unfinished runs:\n\n" + "".join(
            f"- **{name}**: {' '.join(str(msg).split())}\n" for name, msg in failures.items()
        )
    return text


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[k for k, _ in COLUMNS], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def to_rich(rows: list[dict], title: str = "") -> Table:
    """The table for the terminal (rich)."""
    t = Table(title=title or None)
    for key, head in COLUMNS:
        t.add_column(head, justify="left" if key == "run" else "right")
    for r in rows:
        t.add_row(*(fmt(k, r[k]) for k, _ in COLUMNS))
    return t


def write_tables(
    out: Path, summaries: dict[str, dict], failures: dict[str, str] | None = None, title: str = ""
) -> list[dict]:
    """``out/results.csv`` (finished runs, full precision) and ``out/results.md`` (plus failures)."""
    rows = table_rows(summaries)
    atomic_write_text(Path(out) / "results.csv", to_csv(rows))
    atomic_write_text(
        Path(out) / "results.md", (f"# {title}\n\n" if title else "") + to_markdown(rows, failures)
    )
    return rows
