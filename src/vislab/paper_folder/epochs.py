"""A run's metrics per epoch as a booktabs LaTeX table (``tables/<run>_epochs.tex`` of a paper folder): epoch,
train loss and accuracy, val loss, accuracy and PACC (mean per-class accuracy), learning rate — the table a
course report shows beside its curves. A long run keeps every k-th epoch (at most :data:`MAX_ROWS` rows),
its first and last epochs and the epoch whose weights were kept (best.pt), and the caption says so."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from vislab.paper_folder.latex import escape
from vislab.report.figure_set import unique_names

MAX_ROWS = 25  # a table that fits half a page
# (metrics-row key, header, format): the columns, each shown when some row has it
COLUMNS = (
    ("epoch", "epoch", "{:d}"),
    ("train_loss", "train loss", "{:.4f}"),
    ("train_acc", "train ACC", "{:.4f}"),
    ("val_loss", "val loss", "{:.4f}"),
    ("val_acc", "val ACC", "{:.4f}"),
    # the default train.select_metric: what best.pt is chosen by
    ("val_pacc", "val PACC", "{:.4f}"),
    # train.track_test's: the test split scored each epoch, for the reports' train-vs-test curves
    ("test_loss", "test loss", "{:.4f}"),
    ("test_acc", "test ACC", "{:.4f}"),
    ("lr", "learning rate", "{:.2e}"),
)


_HEADS = {k: h.rstrip(".") for k, h, _ in COLUMNS}  # a metric as the table heads it: "val PACC"


def table_file(part: str) -> str:
    """The file of a run's table in the paper folder, ``part`` its name's (:func:`table_names`):
    ``tables/<part>_epochs.tex``."""
    return f"tables/{part}_epochs.tex"


def label_part(run: str) -> str:
    """``run`` as a part of its table's LaTeX label: characters other than letters and digits as ``-``."""
    return "".join(c if c.isalnum() else "-" for c in run)


def table_names(runs: Iterable[str], among: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Each of ``runs`` → (the part of its table's file name, of its label), distinct for distinct runs
    (``a b`` and ``a_b``, ``x-1`` and ``x_1``): the file part ``unique_names``' among the paper's runs
    and rows ``among`` (its figures' in figures/), the label :func:`label_part` where no other of
    ``runs`` has the same (an earlier vislab's label), else the file part."""
    names = list(runs)
    every = unique_names([*names, *among])
    files = {r: every[r] for r in names}
    shared = Counter(label_part(r) for r in names)
    labels = {r: label_part(r) if shared[label_part(r)] == 1 else files[r] for r in names}
    if len(set(labels.values())) < len(labels):  # a file part spelling another run's label
        labels = files
    return {r: (files[r], labels[r]) for r in names}


def kept_rows(rows: Sequence[dict], best: int | None = None) -> tuple[list[dict], int]:
    """The rows the table shows and the stride k: all of them up to :data:`MAX_ROWS`, else every k-th
    (the smallest k that fits), the first, the last and the ``best`` epoch's."""
    stride = max(1, -(-len(rows) // MAX_ROWS))
    if stride == 1:
        return list(rows), 1
    last = len(rows) - 1
    return [
        r for i, r in enumerate(rows) if i % stride == 0 or i == last or r["epoch"] == best
    ], stride


def epoch_table(
    run: str,
    rows: Sequence[dict],
    best: int | None = None,
    label: str | None = None,
    metric: str | None = None,
) -> str:
    """``run``'s metrics.jsonl ``rows`` as a LaTeX ``table`` (booktabs), the ``best`` epoch's row (best.pt)
    in bold; '' without rows. The epoch-0 row of ``train.eval_at_start`` (the untrained model) has no
    learning rate: a dash. Labelled ``tab:epochs-<label>`` (default :func:`label_part`; a paper of runs
    whose labels would be the same gives each its own: :func:`table_names`). ``metric``: the run's
    ``train.select_metric``, which the caption names as what best.pt was chosen by (None: unknown)."""
    shown, stride = kept_rows(rows, best)
    cols = [(k, h, f) for k, h, f in COLUMNS if any(r.get(k) is not None for r in shown)]
    if not shown or len(cols) < 2:
        return ""
    body = "\n".join(
        " & ".join(_cell(r, k, f, r["epoch"] == best) for k, _, f in cols) + " \\\\" for r in shown
    )
    header = " & ".join(escape(h) for _, h, _ in cols) + " \\\\"
    label = label_part(run) if label is None else label
    return (
        f"% {escape(run)}: metrics per epoch (written by vislab paper; booktabs)\n"
        "\\begin{table}[htbp]\n\\centering\\small\n"
        f"\\caption{{{escape(_caption(run, rows, stride, best, metric))}}}\n"
        f"\\label{{tab:epochs-{label}}}\n"
        f"\\begin{{tabular}}{{{'r' * len(cols)}}}\n\\toprule\n{header}\n\\midrule\n{body}\n"
        "\\bottomrule\n\\end{tabular}\n\\end{table}\n"
    )


def _caption(
    run: str, rows: Sequence[dict], stride: int, best: int | None, metric: str | None = None
) -> str:
    """What the table shows: the run, which epochs (every k-th of a long run) and what is in bold, with
    the ``metric`` it was kept by — or, where the kept epoch has no row (metrics.jsonl lost it: cut
    short), that it is not in the table."""
    n = len(rows)
    which = "" if stride == 1 else f" (one epoch in {stride} of its {n}, the first and the last)"
    by = f": the best {_HEADS.get(metric, metric)}, train.select_metric" if metric else ""
    kept = f"whose weights were kept (best.pt{by})"
    bold = f"; in bold epoch {best}, {kept}" if best is not None else ""
    if lost_epoch(rows, best):
        bold = (
            f"; epoch {best}, {kept}, is not in it: its row is missing from "
            f"the run's metrics.jsonl (see the notes)"
        )
    return f"{run}: loss, accuracy and learning rate per epoch{which}{bold}."


def lost_epoch(rows: Sequence[dict], best: int | None) -> bool:
    """Whether the kept epoch ``best`` has no row in a run's metrics.jsonl ``rows`` (the file lost it)."""
    return best is not None and all(r.get("epoch") != best for r in rows)


def lost_epoch_note(
    run: str, rows: Sequence[dict], best: int | None, run_dir: Path, table: str
) -> list[str]:
    """The paper's note on a run whose kept epoch (best.pt's, ``best``) has no row in its metrics.jsonl
    ``rows``, which its per-epoch ``table`` (its caption says "see the notes") therefore lacks; [] when
    the row is there."""
    if not lost_epoch(rows, best):
        return []
    return [
        f"{run}: epoch {best}, whose weights were kept (best.pt), has no row in "
        f"{run_dir / 'metrics.jsonl'} (the file lost it), so {table} shows the epochs it has without it."
    ]


def _cell(row: dict, key: str, form: str, bold: bool) -> str:
    """A cell: its value formatted (a dash where the row has none, as the untrained row's rate)."""
    value = row.get(key)
    if value is None or (key == "lr" and row.get("epoch") == 0):
        return "--"
    text = escape(form.format(int(value) if key == "epoch" else float(value)))
    return f"\\textbf{{{text}}}" if bold else text
