"""A comparison table's cells: how each value prints (:func:`fmt`, :func:`param_cell`) and which cells are
bold (:func:`bold_cells`: the best of each column among the runs of one dataset) — the one rule results.md,
report.html and the paper's tables share."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from vislab.config.overrides import as_yaml
from vislab.experiments.results.spread import ALPHA, TEST_SET, Spread, verdict

REPORTED = "_reported_"  # in a column's key: a figure a course's report published, not vislab's
HIGHER = ("acc", "auc")  # how the keys of the figures whose best is the highest end
SCORES = (*HIGHER, "loss")  # the figures of merit (a loss: lowest best), printed to 4 decimals


def fmt(key: str, v) -> str:
    """A cell as the reports print it: accuracies, AUCs and losses to 4 decimals, times to 2, counts as
    integers;
    a reported figure (text) as the report printed it."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, Spread):
        return _spread_cell(key, v)
    if key.endswith(SCORES):
        return f"{v:.4f}"
    if key.endswith("_s"):
        return f"{v:.2f}"
    if key == "params" and isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _spread_cell(key: str, v: Spread) -> str:
    """``mean ± std`` at the figure's precision (counts to one decimal unless whole); the mean alone
    for a single run, or a count every seed shares (parameters)."""

    measured = key.endswith((*SCORES, "_s"))

    def one(x: float) -> str:
        if measured:
            return fmt(key, x)
        return fmt(key, int(x)) if float(x).is_integer() else f"{x:.1f}"

    same = v.std is None or (v.std == 0 and not measured)  # a count all seeds share: said once
    return one(float(v)) if same else f"{one(float(v))} ± {one(v.std)}"


def param_cell(v: Any) -> str:
    """A setting's value (a swept one, or one a run changed) as results.md prints it: a float to 4
    significant digits, a list as --set takes it (:func:`setting_cell`), a boolean as the config
    spells it (``false``), '-' for none."""
    if isinstance(v, (list, tuple, dict)):
        return setting_cell(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def setting_cell(v: Any) -> Any:
    """A setting's value in results.csv and ``vislab.compare``: a list (or mapping) as --set takes it,
    YAML's flow style (``[2000, 500, 500]``, ``[test]``), anything else as it is."""
    return as_yaml(v) if isinstance(v, (list, tuple, dict)) else v


# ------------------------------------------------------------------------------------------ bold


def ranks(key: str) -> bool:
    """Whether column ``key`` has a best to bold: vislab's figures of merit (:data:`SCORES`) —
    not times (a fitted baseline that trains nothing would "win" them), counts or reported figures."""
    return REPORTED not in key and key.endswith(SCORES)


def best_row(rows: list[dict], key: str) -> int | None:
    """The row whose value of vislab's column ``key`` is printed in bold (the tables' one rule): the best
    (highest accuracy or AUC, lowest loss) when it beats every other row — by more than the spread of the seeds
    where both values are :class:`Spread` (:func:`verdict` against each, not only the second best: a
    lower mean with a wide spread may be within it), else by a value that prints differently.
    None for a column that does not :func:`ranks`, fewer than two values, or no such best."""
    if not ranks(key):
        return None
    values = {i: r[key] for i, r in enumerate(rows) if isinstance(r.get(key), (int, float))}
    if len(values) < 2:
        return None
    ranked = sorted(values, key=lambda i: -values[i] if key.endswith(HIGHER) else values[i])
    best = values[ranked[0]]
    return ranked[0] if all(_beats(key, best, values[i]) for i in ranked[1:]) else None


def _beats(key: str, best: float, other: float) -> bool:
    """Whether ``best`` (ranked first) beats ``other``: printed differently (0.3000 twice is a tie) and,
    both with seeds, by more than their spread (Welch's t-test, :func:`verdict`)."""
    if fmt(key, float(best)) == fmt(key, float(other)):
        return False
    if isinstance(best, Spread) and isinstance(other, Spread):
        return bool(verdict("", best.values, "", other.values).exceeds)
    return True


def rivals(mine: str, other: str) -> bool:
    """Whether rows of datasets ``mine`` and ``other`` (``data_used.row_datasets``) are of one dataset
    but ranked apart, on other test sets, neither unranked (test set unknown, or figures not its own)."""
    dataset, _, test_set = mine.partition(TEST_SET)
    theirs, _, their_set = other.partition(TEST_SET)
    unranked = test_set.startswith("unknown ") or their_set.startswith("unknown ")
    return mine != other and dataset == theirs and not unranked


def bold_cells(
    rows: list[dict], cols: list[tuple[str, str]], data: Sequence[str] | None = None
) -> set[tuple[int, str]]:
    """The (row index, column key) of every cell printed in bold: :func:`best_row` of each column, among
    the rows of one dataset (``data``: each row's, ``data_used.row_datasets``) — digits' accuracy is never
    ranked against circles'."""
    groups: dict[str | None, list[int]] = {}
    for i in range(len(rows)):
        groups.setdefault(data[i] if data else None, []).append(i)
    out = set()
    for members in groups.values():
        among = [rows[i] for i in members]
        out |= {(members[j], k) for k, _ in cols if (j := best_row(among, k)) is not None}
    return {(i, k) for i, k in out if not data or not _matched_apart(rows, data, i, k)}


def _matched_apart(rows: list[dict], data: Sequence[str], i: int, key: str) -> bool:
    """Whether a row of row ``i``'s dataset ranked apart from it (another test set:
    :func:`rivals`) shows a value of ``key`` as good as row ``i``'s or better: bold never marks
    a value another row of the table beats or ties."""
    mine = rows[i][key]
    for j, row in enumerate(rows):
        other = row.get(key)
        if not isinstance(other, (int, float)) or not rivals(data[i], data[j]):
            continue
        ahead = other > mine if key.endswith(HIGHER) else other < mine
        if ahead or fmt(key, float(other)) == fmt(key, float(mine)):
            return True
    return False


# what the tables' train ACC column is, said under results.md's table and in the paper's table caption
TRAIN_ACC_MEANS = (
    "train ACC is the mean accuracy over the best epoch's training batches as they trained (train mode: "
    "dropout on, augmented, a mixed label counted by its larger share; a fitted baseline's: on the train "
    "split), not best.pt's accuracy on the train split"
)


# what the tables' test AUC column is: under results.md's table and report.html's, in the paper's caption
AUC_MEANS = (
    "test AUC is the macro one-vs-rest ROC AUC: each class's AUC against the rest, averaged over the "
    "classes with test images (as sklearn's roc_auc_score, multi_class='ovr', average='macro', where "
    "every class has test images)"
)


def column_meanings(cols: Sequence[tuple[str, str]]) -> list[str]:
    """What the train ACC and test AUC columns are (:data:`TRAIN_ACC_MEANS`, :data:`AUC_MEANS`), of
    those ``cols`` has: the paper's captions say them."""
    keys = {k for k, _ in cols}
    return [m for k, m in (("train_acc", TRAIN_ACC_MEANS), ("test_auc", AUC_MEANS)) if k in keys]


def figures_note(cols: Sequence[tuple[str, str]]) -> str:
    """The sentences under a table on what its train ACC and test AUC columns are
    (:func:`column_meanings`); "" without either."""
    return " ".join(f"{m[0].upper()}{m[1:]}." for m in column_meanings(cols))


def bold_rule(seeded: bool, mixed: bool = False) -> str:
    """What bold means: with seeds, beyond their spread; ``mixed`` (a table of several datasets): among
    the runs of each dataset."""
    best = f"in bold, the best of vislab's runs{' on each dataset' if mixed else ''}"
    if seeded:
        return (
            f"{best} when it beats every other run beyond the spread of the seeds (Welch's t-test "
            f"against each, p < {ALPHA}, not only against the second best; none where no run does)"
        )
    return f"{best} (none where two runs tie)"


def bold_note(seeded: bool, mixed: bool = False) -> str:
    """The sentence under a table with bold cells: what bold means (:func:`bold_rule`)."""
    rule = bold_rule(seeded, mixed)
    mean = " (its mean, never the ± std)" if seeded else ""
    return (
        f"{rule[0].upper()}{rule[1:]} in each accuracy, AUC and loss column: the highest accuracy or "
        f"AUC, the lowest loss{mean}; times and counts are not ranked."
    )


def markdown_cell(key: str, value: object, bold: bool) -> str:
    """A Markdown table cell (:func:`fmt`, '|' escaped), ``bold``: its mean alone in bold, never the ± std."""
    mean, sep, std = fmt(key, value).replace("|", "\\|").partition(" ± ")
    return f"{f'**{mean}**' if bold else mean}{sep}{std}"


def pipe_table(
    cols: Sequence[tuple[str, str]],
    rows: Sequence[Mapping],
    bold: Collection[tuple[int, str]] = frozenset(),
    text: Collection[str] = ("run",),
) -> list[str]:
    """A Markdown pipe table's lines: ``cols`` (key, header), each row's cells by :func:`markdown_cell`
    (``bold``: the (row, key) cells in bold), the columns of ``text`` left-aligned, the figures right."""
    return [
        "| " + " | ".join(h for _, h in cols) + " |",
        "|" + "|".join("---" if k in text else "---:" for k, _ in cols) + "|",
        *(
            "| " + " | ".join(markdown_cell(k, r.get(k), (i, k) in bold) for k, _ in cols) + " |"
            for i, r in enumerate(rows)
        ),
    ]
