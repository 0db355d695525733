"""What a run's config says of its test set, where its saved test predictions (predictions_test.npz) are
missing: the settings that draw its train/val/test split (:data:`SPLIT_KEYS`, as ``settings.read_settings``
reads them: what its checkpoint recorded over config.yaml), compared with another run's
(``data_used.rows_with_own_test_sets``). One config is one split; another train.seed may draw another
(or not: an official test set is the same for every seed), so rows it tells apart are never ranked
against each other."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vislab.config import RESULT_NEUTRAL_KEYS
from vislab.errors import UserError
from vislab.experiments.results.settings import read_settings
from vislab.training.rundir import SavedPredictions

Test = SavedPredictions | dict  # a run's test set: its saved predictions, or its split settings


# the settings that draw a run's train/val/test split (data.* but how images are shown or where read)
SPLIT_KEYS = ("train.seed", "data.")
NOT_SPLIT_KEYS = (*RESULT_NEUTRAL_KEYS, "data.normalize", "data.zca_epsilon", "data.resize")


def split_settings(run_dir: Path) -> dict[str, object]:
    """The settings of the run in ``run_dir`` that draw its split (:data:`SPLIT_KEYS`), as
    ``settings.read_settings`` reads them (what its checkpoint recorded over its config.yaml);
    UserError naming the file where there is none to read."""
    return {
        k: v
        for k, v in read_settings(run_dir).items()
        if k.startswith(SPLIT_KEYS) and not k.startswith(NOT_SPLIT_KEYS)
    }


def split_or_none(test: Test, run: str, runs: dict[str, Path]) -> dict | None:
    """A test set's split settings: ``test`` itself, or its run's (None where they cannot be read)."""
    if isinstance(test, dict):
        return test
    try:
        return split_settings(runs[run])
    except (UserError, KeyError):
        return None


def by_config(
    names: list[str], runs: dict[str, Path], saved: dict[str, SavedPredictions]
) -> dict[str, dict] | None:
    """Run → its split settings (:func:`split_settings`), for the runs ``names`` of a row of which some
    have no saved test predictions; None where one of those has no config to read either."""
    out = {}
    for name in names:
        try:
            out[name] = split_settings(runs[name])
        except (UserError, KeyError):
            if name not in saved:
                return None
    return out


def differ(settings: Sequence[dict]) -> bool:
    """Whether runs' split settings differ: each drew its own split."""
    return any(s != settings[0] for s in settings[1:])


def told(row: str, one: dict[str, tuple[str | None, Test, str]], runs: dict[str, Path]) -> str:
    """What ``row``'s config says of its test set, beside the first other row of its dataset: the same
    split, or another and the settings that differ ("" for a row of seeds each drawing its own, or one
    alone)."""
    if row not in one:
        return ""
    data, test, first = one[row]
    mine = split_or_none(test, first, runs) or {}
    for other, (their_data, their_test, their_first) in one.items():
        theirs = split_or_none(their_test, their_first, runs)
        if other == row or their_data != data or theirs is None:
            continue
        keys = [k for k in sorted({*mine, *theirs}) if mine.get(k) != theirs.get(k)]
        if not keys:
            return f"the split of {other}"
        return f"another split than {other}'s: " + ", ".join(
            f"{k} {mine.get(k)} vs {theirs.get(k)}" for k in keys
        )
    return ""
