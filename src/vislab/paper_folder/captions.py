"""The paper's results table in three parts (accuracy, training, cost), and each part's caption naming
what its columns hold (a sweep's rows from its study database hold only the objective and the epochs)."""

from __future__ import annotations

from collections.abc import Collection

from vislab.experiments.results.table import COLUMNS
from vislab.words import and_list

ACCURACY = ("val_acc", "val_pacc", "test_acc", "test_pacc")
COST = ("train_time_s", "test_time_s", "params", "epochs_run", "best_epoch")
PARTS = (  # (label, the figures it holds): the results table's columns in three tables
    ("accuracy", ACCURACY),
    ("training", tuple(k for k, _ in COLUMNS[1:] if k not in ACCURACY + COST)),
    ("cost", COST),
)


def part_caption(label: str, shown: Collection[str]) -> str:
    """The caption's head of the part ``label`` of :data:`PARTS` whose columns are ``shown`` (their keys)."""
    if label == "training":
        return "Training accuracy and further test figures"
    if label == "cost":
        words = [w for w, keys in _COST_WORDS if any(k in shown for k in keys)]
        return and_list(words).capitalize()
    splits = and_list([w for w, p in (("validation", "val_"), ("test", "test_")) if _any(shown, p)])
    kinds = [
        w
        for w, suffix in (("accuracy (ACC)", "_acc"), ("per-class accuracy (PACC)", "_pacc"))
        if any(k.endswith(suffix) for k in shown)
    ]
    return f"{splits.capitalize()} {and_list(kinds)}, as fractions"


_COST_WORDS = (
    ("size", ("params",)),
    ("time", ("train_time_s", "test_time_s")),
    ("epochs", ("epochs_run", "best_epoch")),
)


def _any(shown: Collection[str], prefix: str) -> bool:
    """Whether an accuracy column of ``shown`` starts with ``prefix``."""
    return any(k.startswith(prefix) and k in ACCURACY for k in shown)
