"""What a run's config says of its test set, where its saved test predictions (predictions_test.npz) are
missing: the settings that draw its test split (:data:`SPLIT_KEYS`, as ``settings.read_settings`` reads
them: what its checkpoint recorded over config.yaml), compared with another run's
(``data_used.rows_with_own_test_sets``). One config is one test set; another train.seed draws another
only where the seed draws the test split (:func:`seed_draws_test`: an official test set is the same for
every seed), and a setting that only resizes or transforms the images, or that draws train and val
alone, draws none; rows it tells apart are never ranked against each other. Rows of seeds that each drew
their own split are weighed only against those of the same settings (:func:`own_sets`); rows whose seeds
share one by data.split_seed are named (:func:`shared_splits`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from vislab.config import RESULT_NEUTRAL_KEYS
from vislab.config.reads import Value, carved, idle_settings
from vislab.errors import UserError
from vislab.experiments.results.settings import read_settings
from vislab.training.rundir import SavedPredictions
from vislab.training.summary import RunSummary

Test = SavedPredictions | dict  # a run's test set: its saved predictions, or its split settings


# the settings that draw a run's test split (data.* but how images are shown or where read)
SPLIT_KEYS = ("train.seed", "data.")
# what leaves the test split's images as they are: where and how they are read, and what only resizes
# or transforms them (data.image_size: the size a folder's images are decoded to)
NOT_SPLIT_KEYS = (
    *RESULT_NEUTRAL_KEYS,
    "data.normalize",
    "data.zca_epsilon",
    "data.resize",
    "data.image_size",
)
# what changes the samples themselves, not which are drawn, so that a saved test set's origins (official
# set and index) do not tell it: data.noise draws the circles' points elsewhere, data.label_mode labels
# CIFAR-100's images otherwise, data.options a torchvision dataset's (prefixes: data.options.<key>)
SAMPLE_KEYS = ("data.noise", "data.n_samples", "data.label_mode", "data.options")
# what draws train and val alone (data/split.py carves test first, whatever val_fraction; the limits
# cut train): the keys themselves, not prefixes (data.limit_eval samples test)
TRAIN_VAL_ONLY = ("data.val_fraction", "data.limit", "data.limit_per_class")


def seed_draws_test(value: Value) -> bool:
    """Whether train.seed draws the run's test split (``value``: its setting by dotted key), as
    data/split.py does: data.split's sizes carve it from the pooled sets, data.limit_eval samples it, or
    no official test set of its source is loaded so that it is carved from train (``config.reads.carved``,
    the rule that reads data.test_fraction); not where its source's official test set is the test split."""
    return value("data.split_seed") is None and draws_test_split(value)


def draws_test_split(value: Value) -> bool:
    """Whether a seed draws the run's test split (train.seed, or data.split_seed where it is set), as
    :func:`seed_draws_test` tells."""
    drawn = value("data.split") is not None or value("data.limit_eval") is not None
    return drawn or carved("test")(value) is None


def split_settings(run_dir: Path) -> dict[str, object]:
    """The settings of the run in ``run_dir`` that draw its test split (:data:`SPLIT_KEYS`; train.seed
    where :func:`seed_draws_test`; none that does nothing given the others, ``config.reads.idle_settings``:
    data.test_fraction beside an official test set), as ``settings.read_settings`` reads them (what its
    checkpoint recorded over its config.yaml); UserError naming the file where there is none to read."""
    settings = read_settings(run_dir)
    value = settings.__getitem__
    idle = idle_settings(value)
    seeds = () if seed_draws_test(value) else ("train.seed",)
    seeds += (
        () if draws_test_split(value) else ("data.split_seed",)
    )  # draws train and val alone, or none
    skip = {*TRAIN_VAL_ONLY, *idle, *seeds}
    return {
        k: v
        for k, v in settings.items()
        if k.startswith(SPLIT_KEYS) and not k.startswith(NOT_SPLIT_KEYS) and k not in skip
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


def samples_vary(data: str | None) -> bool:
    """Whether data ``data`` (a data.name) has samples that :data:`SAMPLE_KEYS` change: circles' points,
    CIFAR-100's labels, a torchvision dataset's options; for any other, its runs' configs are not read."""
    return data in ("circles", "cifar100") or str(data).startswith("torchvision:")


def same_samples(mine: dict | None, theirs: dict | None) -> bool:
    """Whether two runs' split settings (:func:`split_or_none`; None: not read, nothing told) draw the
    same samples by :data:`SAMPLE_KEYS`, where their saved test predictions name the same ones."""
    if mine is None or theirs is None:
        return True
    return {k: v for k, v in mine.items() if k.startswith(SAMPLE_KEYS)} == {
        k: v for k, v in theirs.items() if k.startswith(SAMPLE_KEYS)
    }


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
        # a key one of them lacks (train.seed where it draws no test split) follows from one both hold
        keys = [k for k in sorted({*mine} & {*theirs}) if mine[k] != theirs[k]] or [
            k for k in sorted({*mine, *theirs}) if mine.get(k) != theirs.get(k)
        ]
        if not keys:
            return f"the split of {other}"
        return f"another split than {other}'s: " + ", ".join(
            f"{k} {mine.get(k)} vs {theirs.get(k)}" for k in keys
        )
    return ""


def own_sets(
    own: list[str],
    rows: dict[str, list[str]],
    runs: dict[str, Path],
    summaries: Mapping[str, RunSummary],
    one: Mapping[str, tuple[str | None, Test, str]],
) -> tuple[dict[str, int], list[str]]:
    """(row → the number of the data settings that drew its seeds' splits, for the ``own`` rows of
    seeds each on their own: their dataset and their first run's split settings but train.seed, None
    where it has none to read; the rows of ``one``, one test set each, of a dataset that has own rows)."""
    firsts = {row: next(n for n in rows[row] if n in runs) for row in own}
    data = {row: summaries.get(first, RunSummary()).data for row, first in firsts.items()}
    keys: list[tuple] = []
    out = {}
    for row, first in firsts.items():
        settings = _settings_of(first, runs)
        key = (data[row], None if settings is None else sorted(settings.items(), key=str))
        keys += [] if key in keys else [key]
        out[row] = keys.index(key) + 1
    beside = [row for row, (d, _, _) in one.items() if d in data.values()]
    return out, beside


def _settings_of(run: str, runs: dict[str, Path]) -> dict | None:
    """The split settings of ``run`` but train.seed (each seed's own), None where none can be read."""
    try:
        settings = split_settings(runs[run])
    except (UserError, KeyError):
        return None
    return {k: v for k, v in settings.items() if k != "train.seed"}


def shared_splits(
    one: Mapping[str, tuple[str | None, Test, str]],
    rows: dict[str, list[str]],
    runs: dict[str, Path],
) -> dict[str, object]:
    """Row → its data.split_seed, for the rows of ``one`` (one test set each) of two seeds or more whose
    first run set data.split_seed: its seeds share their train/val/test images."""
    out = {}
    for row, (_, _, first) in one.items():
        if len([n for n in rows[row] if n in runs]) < 2:
            continue
        try:
            seed = read_settings(runs[first]).get("data.split_seed")
        except (UserError, KeyError):
            continue
        if seed is not None:
            out[row] = seed
    return out
