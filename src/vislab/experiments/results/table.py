"""The reports' comparison table, built from run summaries: CSV, Markdown, rich, and rows for HTML.

Beside vislab's figures, a suite's ``reported:`` block adds one column per figure and source (what the
course's report published for that run; blank where it gives none), and the data each run used is
stated from the runs' own summaries, not from the suite's description.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from rich.table import Table

from vislab.experiments.results.reported import (
    ReportedLike,
    as_reported,
    legend,
    mismatches,
    reported_columns,
    reported_figure,
)
from vislab.training.checkpoint import atomic_write_text

COLUMNS = [  # (key in summary.json, header); train ACC is the best epoch's (the train–test gap of RDFIA 1-cd)
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
    ("epochs_run", "epochs"),
    ("best_epoch", "best epoch"),
]


def reported_key(key: str, source: str) -> str:
    """The column of figure ``key`` as ``source`` reported it, e.g. ``test_acc_reported_dlvc-B``."""
    return f"{key}_reported_{source}"


def columns(reported: ReportedLike = None) -> list[tuple[str, str]]:
    """COLUMNS, each figure followed by the reported columns of the sources that give it."""
    by_key = reported_columns(reported)
    out = []
    for key, head in COLUMNS:
        out.append((key, head))
        out += [(reported_key(key, s), f"{head} (reported, {s})") for s in by_key.get(key, [])]
    return out


def table_rows(summaries: dict[str, dict], reported: ReportedLike = None) -> list[dict]:
    """One row per run (named by its key): vislab's figures, then the reported ones (None: not given)."""
    reported = as_reported(reported)
    by_key = reported_columns(reported)
    rows = []
    for name, s in summaries.items():
        row = {key: (name if key == "run" else s.get(key)) for key, _ in COLUMNS}
        for key, sources in by_key.items():
            for src in sources:
                row[reported_key(key, src)] = reported_figure(reported, name, src, key)
        rows.append(row)
    return rows


def fmt(key: str, v) -> str:
    """A cell as the reports print it: accuracies and losses to 4 decimals, times to 2, counts as integers;
    a reported figure (text) as the report printed it."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if key.endswith(("acc", "loss")):
        return f"{v:.4f}"
    if key.endswith("_s"):
        return f"{v:.2f}"
    if key == "params" and isinstance(v, int):
        return f"{v:,}"
    return str(v)


# ------------------------------------------------------------------------------ the data each run used
def datasets(summaries: dict[str, dict]) -> list[str]:
    """The datasets (data.name) the runs used, in run order."""
    return list(dict.fromkeys(str(s.get("data", "?")) for s in summaries.values()))


def data_line(summaries: dict[str, dict]) -> str:
    """What the runs were trained and scored on, from their summaries: dataset and split sizes."""
    groups: dict[str, list[str]] = {}
    for name, s in summaries.items():
        sizes = " / ".join(
            f"{s[k]:,} {k.removeprefix('n_')}" for k in ("n_train", "n_val", "n_test") if k in s
        )
        what = f"{s.get('data', '?')} ({sizes} images)" if sizes else str(s.get("data", "?"))
        groups.setdefault(what, []).append(name)
    if len(groups) == 1:
        return f"Data: {next(iter(groups))}{', all runs' if len(summaries) > 1 else ''}."
    return (
        "Data: " + "; ".join(f"{what} for {', '.join(runs)}" for what, runs in groups.items()) + "."
    )


def titled(title: str, summaries: dict[str, dict]) -> str:
    """``title`` plus the data actually used, e.g. 'suite dlvc-compare on fashion-mnist'."""
    names = datasets(summaries)
    return f"{title} on {', '.join(names)}" if title and names else title


def reported_notes(reported: ReportedLike, summaries: dict[str, dict]) -> str:
    """Markdown: for each source, what it is, on which data it measured, and where each figure is."""
    reported = as_reported(reported)
    blocks = []
    for src in legend(reported, list(summaries)):
        lines = [f"- **{src['key']}**: {src['title']}. Measured on: {src['data']}."]
        for r in src["runs"]:
            extra = "".join(f" {r[k]}." for k in ("data", "note") if r.get(k))
            lines.append(f"  - {r['run']}: {r['where']}.{extra}")
        blocks.append("\n".join(lines))
    if not blocks:
        return ""
    warn = "".join(f"\n**Note:** {m}\n" for m in mismatches(reported, summaries))
    intro = (
        "Reported figures (the columns marked 'reported', as the reports print them; '-': not given), "
        "where they are, and what the reports say"
        if reported_columns(reported)
        else "What the reports say about these runs (they print no numbers for them)"
    )
    return f"\n{intro}:\n\n" + "\n".join(blocks) + "\n" + warn


# ------------------------------------------------------------------------------------------ formats
def to_markdown(
    rows: list[dict], failures: dict[str, str] | None = None, cols: list | None = None
) -> str:
    cols = cols or COLUMNS
    head = (
        "| "
        + " | ".join(h for _, h in cols)
        + " |\n|"
        + "|".join("---" if k == "run" else "---:" for k, _ in cols)
        + "|\n"
    )
    text = head + "".join("| " + " | ".join(fmt(k, r[k]) for k, _ in cols) + " |\n" for r in rows)
    if failures:
        text += "\nFailed or unfinished runs:\n\n" + "".join(
            f"- **{name}**: {' '.join(str(msg).split())}\n" for name, msg in failures.items()
        )
    return text


def to_csv(rows: list[dict], cols: list | None = None) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[k for k, _ in cols or COLUMNS], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def to_rich(rows: list[dict], title: str = "", cols: list | None = None) -> Table:
    """The table for the terminal (rich)."""
    t = Table(title=title or None)
    for key, head in cols or COLUMNS:
        t.add_column(head, justify="left" if key == "run" else "right")
    for r in rows:
        t.add_row(*(fmt(k, r[k]) for k, _ in cols or COLUMNS))
    return t


def write_tables(
    out: Path,
    summaries: dict[str, dict],
    failures: dict[str, str] | None = None,
    title: str = "",
    reported: ReportedLike = None,
) -> list[dict]:
    """``out/results.csv`` (finished runs, full precision, reported figures as printed) and
    ``out/results.md``: the title with the data used, the table, the reported figures' sources, failures."""
    reported = as_reported(reported)
    rows, cols = table_rows(summaries, reported), columns(reported)
    atomic_write_text(Path(out) / "results.csv", to_csv(rows, cols))
    head = f"# {titled(title, summaries)}\n\n" if title else ""
    head += f"{data_line(summaries)}\n\n" if summaries else ""
    atomic_write_text(
        Path(out) / "results.md",
        head + to_markdown(rows, failures, cols) + reported_notes(reported, summaries),
    )
    return rows
