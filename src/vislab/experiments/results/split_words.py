"""The data line's sentences on the rows' test sets (``data_used.data_line`` says them): rows of seeds
that each drew their own split (:func:`own_sentence`) or that share one by data.split_seed
(:func:`shared_sentence`), rows scored on different test sets (:func:`apart_sentence`), rows whose test
set their config alone tells (:func:`told_sentence`) and rows whose test set is unknown
(:func:`blind_sentence`), and why a row's is (:func:`unknown_split`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from vislab.words import and_list


def own_sentence(
    rows: Sequence[str], fixed: Sequence[str] = (), own_set: Mapping[str, int] | None = None
) -> str:
    """The data line's sentence on the rows of seeds that each drew their own split (``rows``); beside
    rows of one test set (``fixed``), that they are weighed against each other alone; ``own_set``: row →
    the number of the data settings that drew its seeds' splits, where rows of several are weighed only
    against the rows of theirs."""
    line = (
        f"The seeds of {and_list(rows)} each drew their own train/val/test split (with their "
        f"train.seed): the sizes are each seed's, and the seeds' test images differ"
    )
    if fixed:
        line += (
            f"; bold and verdicts weigh {'this row' if len(rows) == 1 else 'these rows'} against no "
            f"row of one test set ({and_list(fixed)})"
        )
    groups: dict[int, list[str]] = {}
    for row in rows:
        groups.setdefault((own_set or {}).get(row, 1), []).append(row)
    if len(groups) > 1:
        said = "; ".join(", ".join(g) for g in groups.values())
        line += f", and only against those whose seeds drew their splits by the same data settings ({said})"
    return f"{line}."


def shared_sentence(shared: Mapping[str, Any]) -> str:
    """The data line's sentence on the rows of seeds that share one split by data.split_seed
    (``shared``: row → its data.split_seed), "" when none."""
    by_seed: dict[str, list[str]] = {}
    for row, seed in shared.items():
        by_seed.setdefault(str(seed), []).append(row)
    return " ".join(
        f"The seeds of {and_list(rows)} share their train/val/test images (data.split_seed={seed}): "
        "their spread is the training's own draws' (initialisation, order, augmentation, dropout), "
        "not the split's."
        for seed, rows in by_seed.items()
    )


def apart_sentence(apart: Sequence[Sequence[str]], numbers: Mapping[str, int] | None = None) -> str:
    """The data line's sentence on rows scored on different test sets (``apart``: the rows of each;
    ``numbers``: row → its test set's number, ``data_used.OwnSplits``' ``test_set``; default 1, 2, ...)."""
    numbered = [((numbers or {}).get(rows[0], i), rows) for i, rows in enumerate(apart, 1)]
    sets = "; ".join(f"test set {n}: {', '.join(rows)}" for n, rows in numbered)
    return (
        f"Rows scored on different test images (their train/val/test splits differ: drawn with another "
        f"train.seed, or other data settings) — {sets}. Their test figures are not of the same images: "
        f"bold ranks only the rows of one test set against each other."
    )


def told_sentence(told: Mapping[str, str]) -> str:
    """The data line's sentence on the rows whose test set their config tells (``told``: row → what it
    says beside another row), "" when none."""
    if not told:
        return ""
    said = "; ".join(f"{row} ({what})" if what else row for row, what in told.items())
    return (
        f"Test set told by config.yaml alone (no predictions_test.npz; the data.* settings that draw "
        f"the test split compared instead, and train.seed where it draws it) for {said}."
    )


def blind_sentence(blind: Mapping[str, str]) -> str:
    """The data line's sentence on the rows whose test set is unknown (``blind``: row → why, and what
    its config says of its split), "" when none."""
    named = {row: why for row, why in blind.items() if why}  # "": said apart (the file named)
    if not named:
        return ""
    said = "; ".join(f"{row} ({why})" for row, why in named.items())
    return (
        f"Test set unknown for {said}: {'its' if len(named) == 1 else 'their'} test figures are not "
        f"ranked in bold; give the run folder with its predictions_test.npz, as vislab train writes it."
    )


def unknown_split(
    row: str, names: list[str], unread: list[str], missing: list[str]
) -> tuple[str, str | None]:
    """For a row whose test set is not known (``unread``: its seeds' files that cannot be read;
    ``missing``: its runs without one, nor a config to tell by): why, for the data line's "Test set
    unknown" ("" where a sentence of its own says it), and that sentence (None if none)."""
    if unread and len(names) > 1:
        said = f"Whether the seeds of {row} drew their own train/val/test split is not known: "
        return "", f"{said}{'; '.join(unread)}."
    why = f"{_whose(row, missing)} no predictions_test.npz, nor a config.yaml to tell its split by"
    return "; ".join(unread) or why, None


def _whose(row: str, missing: list[str]) -> str:
    """Who has no file: "it has", or the runs of a row of seeds ("a-s1 has")."""
    return (
        "it has"
        if missing == [row]
        else f"{', '.join(missing)} {'has' if len(missing) == 1 else 'have'}"
    )
