"""The reports' comparison table, built from run summaries."""

from __future__ import annotations

import csv
import io

COLUMNS = [  # (key in summary.json, header)
    ("run", "run"), ("val_acc", "val ACC"), ("val_pacc", "val PACC"), ("test_acc", "test ACC"),
    ("test_pacc", "test PACC"), ("train_time_s", "train time (s)"), ("test_time_s", "test time (s)"),
    ("params", "parameters"), ("best_epoch", "best epoch"),
]


def table_rows(summaries: dict[str, dict]) -> list[dict]:
    """One row per run (named by its key), columns as COLUMNS."""
    return [{key: (name if key == "run" else s.get(key)) for key, _ in COLUMNS} for name, s in summaries.items()]


def _fmt(key: str, v) -> str:
    if v is None:
        return "-"
    if key.endswith("acc"):
        return f"{v:.4f}"
    if key.endswith("_s"):
        return f"{v:.2f}"
    return str(v)


def to_markdown(rows: list[dict]) -> str:
    head = "| " + " | ".join(h for _, h in COLUMNS) + " |\n|" + "---|" * len(COLUMNS) + "\n"
    return head + "".join("| " + " | ".join(_fmt(k, r[k]) for k, _ in COLUMNS) + " |\n" for r in rows)


def to_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[k for k, _ in COLUMNS], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def to_rich(rows: list[dict], title: str = ""):
    from rich.table import Table

    t = Table(title=title or None)
    for key, head in COLUMNS:
        t.add_column(head, justify="left" if key == "run" else "right")
    for r in rows:
        t.add_row(*(_fmt(k, r[k]) for k, _ in COLUMNS))
    return t
