"""What a report's figures were measured with (epochs, split sizes) beside what the runs here did: a
sentence where they differ, so that a short or small run is not read as a failed reproduction.

    sources:
      dlvc-C:
        data: CIFAR-10 test set (10,000 images), models trained on 40,000 images and validated on 10,000
        split: {train: 40000, val: 10000, test: 10000}     # each size the report gives
      ...
    runs:
      cnn:
        dlvc-C: {where: §6.4.2, data: After 120 epochs, epochs: 120}  # overrides the source's (split: per size)

``epochs`` is how many epochs the report trained. With ``early_stopping: true`` it is the most it could
have trained: the report stopped when validation stopped improving. A run here is like-for-like on epochs
when it trained as many (summary.json's ``epochs_run``) or, both stopping early, when it stopped within the
report's most; a run stopped early against a report that trained them all trained fewer. A fitted baseline
(majority, svm) has no epochs. Each split size the report gives is compared with the run's ``n_train``,
``n_val`` or ``n_test``; what a report or a summary does not give is not compared. A row of seeds differs
when any of its seeds does, and the note gives the seeds' range ('stopped early after 4–5 epochs').
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, field_validator

from vislab.config import SpecFile
from vislab.training.summary import RunSummary
from vislab.words import and_list, first_few

Size = Annotated[int, Field(strict=True)]
SPLITS = ("train", "val", "test")
_NAMED = 3  # how many runs a claim names before "and N more"


class Split(SpecFile):
    """The split sizes a report's figures were measured with (absent: not given)."""

    train: Size | None = Field(None, ge=1, description="training images, e.g. 40000")
    val: Size | None = Field(None, ge=0, description="validation images (0: none held out)")
    test: Size | None = Field(None, ge=1, description="test images, e.g. 10000")

    def sizes(self) -> dict[str, int]:
        """Split → size, for the sizes given (train, val, test order)."""
        return {k: getattr(self, k) for k in SPLITS if getattr(self, k) is not None}


class MeasuredWith(SpecFile):
    """How long and on how much data a report's figures were measured (absent: not given)."""

    epochs: Size | None = Field(
        None, ge=1, description="epochs trained (with early_stopping: the most it could train)"
    )
    early_stopping: bool | None = Field(
        None, description="true: the report stopped early on validation, within `epochs`"
    )
    split: Split | None = Field(None, description="{train, val, test}: the split sizes it gives")

    @field_validator("split", mode="before")
    @classmethod
    def _split_is_a_mapping(cls, value: object) -> object:
        if isinstance(value, list | tuple):
            raise ValueError(
                "write the sizes by name, those the report gives: {train: 40000, val: 10000, test: 10000}"
            )
        return value


MEASURED_KEYS = tuple(MeasuredWith.model_fields)


def measured_with(source: MeasuredWith, run: MeasuredWith) -> MeasuredWith:
    """The source's conditions with the run's entry over them (the split size by size)."""
    sizes = {**_sizes(source), **_sizes(run)}
    return MeasuredWith(
        epochs=_first(run.epochs, source.epochs),
        early_stopping=_first(run.early_stopping, source.early_stopping),
        split=Split(**sizes) if sizes else None,
    )


def _first(*values):
    return next((v for v in values if v is not None), None)


def _sizes(m: MeasuredWith) -> dict[str, int]:
    return m.split.sizes() if m.split is not None else {}


# ------------------------------------------------------------------ one run against the report
@dataclass(frozen=True)
class Aspect:
    """One condition (epochs, or the split sizes) of a run's figures in words: the report's, and the run's
    where it differs ('' alike)."""

    theirs: str
    ours: str = ""


Seeds = Sequence[RunSummary]
"""A run's summaries: its summary.json alone, or each seed's of a row."""


def conditions(m: MeasuredWith, seeds: Seeds) -> dict[str, Aspect]:
    """``epochs`` and ``split`` of a run (every seed weighed) beside the report's ``m``; an aspect the
    report does not give is left out, and so are the epochs of a fitted baseline."""
    their_epochs, their_split = theirs(m)
    out = {}
    records = list(seeds)
    if their_epochs and not any(s.trained_by == "fit_arrays" for s in records):
        differ = any(_epochs_differ(m, s) for s in records)
        out["epochs"] = Aspect(their_epochs, _epochs_done(records) if differ else "")
    if their_split:
        differ = any(_split_differs(m, s) for s in records)
        out["split"] = Aspect(
            their_split, f"on {_split_text(_run_sizes(records))}" if differ else ""
        )
    return out


def theirs(m: MeasuredWith) -> tuple[str, str]:
    """The report's epochs and split in words ('' where not given), e.g. ('after 10 epochs',
    'on 40k train / 10k val / 10k test images')."""
    epochs = ""
    if m.epochs is not None:
        most, stop = ("at most ", " (early stopping)") if m.early_stopping else ("", "")
        epochs = f"after {most}{_epochs(m.epochs, m.epochs)}{stop}"
    sizes = {k: (n, n) for k, n in _sizes(m).items()}
    return epochs, f"on {_split_text(sizes)}" if sizes else ""


def _epochs_done(seeds: list[RunSummary]) -> str:
    """How many epochs the seeds trained, e.g. 'trained 1 epoch', 'stopped early after 4–5 epochs',
    'trained 5–8 epochs, stopping early in 2 of 3 seeds'."""
    ran = [s.epochs_run for s in seeds if s.epochs_run is not None]
    span = _epochs(*_span(ran))
    stopped = sum(bool(s.stopped_early) for s in seeds if s.epochs_run is not None)
    if stopped == len(ran):
        return f"stopped early after {span}"
    return f"trained {span}" + (
        f", stopping early in {stopped} of {len(ran)} seeds" if stopped else ""
    )


def _epochs_differ(m: MeasuredWith, summary: RunSummary) -> bool:
    """Whether the run trained other epochs than the report (see the module's docstring)."""
    ran = summary.epochs_run
    if m.epochs is None or ran is None:
        return False
    if not m.early_stopping:
        return ran != m.epochs
    # both stopped on validation: the data decided, within the report's most
    return ran > m.epochs or (not summary.stopped_early and ran < m.epochs)


def _split_sizes(summary: RunSummary) -> dict[str, int | None]:
    """Split → its size in the run (summary.json's n_train, n_val, n_test; None: not said)."""
    return {"train": summary.n_train, "val": summary.n_val, "test": summary.n_test}


def _split_differs(m: MeasuredWith, summary: RunSummary) -> bool:
    run = {k: n for k, n in _split_sizes(summary).items() if n is not None}
    return any(k in run and run[k] != n for k, n in _sizes(m).items())


def _run_sizes(seeds: list[RunSummary]) -> dict[str, tuple[int, int]]:
    """Split → the smallest and largest size over the seeds (summary.json's n_train, n_val, n_test)."""
    sizes = {k: [n for s in seeds if (n := _split_sizes(s)[k]) is not None] for k in SPLITS}
    return {k: _span(ns) for k, ns in sizes.items() if ns}


def _span(values: list[int]) -> tuple[int, int]:
    return min(values), max(values)


def _epochs(low: int, high: int) -> str:
    return f"{_range(str(low), str(high))} epoch" + ("" if high == 1 else "s")


def _range(low: str, high: str) -> str:
    return low if low == high else f"{low}–{high}"


def _split_text(sizes: dict[str, tuple[int, int]]) -> str:
    return (
        " / ".join(f"{_range(_count(lo), _count(hi))} {k}" for k, (lo, hi) in sizes.items())
        + " images"
    )


def _count(n: int) -> str:
    """40000 → '40k', 1500 → '1.5k', 600 → '600', 54321 → '54,321': short, never rounded."""
    if n >= 1000 and n % 100 == 0:
        return f"{n / 1000:g}k"
    return f"{n:,}"


# ------------------------------------------------------------------ the sentence for one source
def unlike_sentence(src: str, runs: dict[str, dict[str, Aspect]]) -> str | None:
    """One sentence for ``src`` from the :func:`conditions` of its cited runs, naming the runs each of its
    claims is true of; None when every run was measured as the report's figures."""
    differ = {run: c for run, c in runs.items() if any(a.ours for a in c.values())}
    if not differ:
        return None
    measured = " ".join(filter(None, (_reported(runs, differ, k) for k in ("epochs", "split"))))
    return f"{src}'s figures were measured {measured}; the runs here {_done(differ)}: not like-for-like."


def _reported(
    runs: dict[str, dict[str, Aspect]], differ: dict[str, dict[str, Aspect]], key: str
) -> str:
    """The report's ``key`` for the runs that differ: its text alone where it holds for every cited run
    it applies to, else each text with the runs it holds for ('' where none gives it)."""
    groups = _grouped({run: c[key].theirs for run, c in differ.items() if key in c})
    if len({c[key].theirs for c in runs.values() if key in c}) == 1:
        return "".join(groups)
    return " or ".join(f"{text} ({first_few(names, _NAMED)})" for text, names in groups.items())


def _done(differ: dict[str, dict[str, Aspect]]) -> str:
    """What the runs here did, a claim per distinct epochs or split, each naming its runs; the epochs and
    split of the same runs in one claim ('trained 1 epoch on 5k train images (a, b)')."""
    by_key = {
        key: _grouped({run: c[key].ours for run, c in differ.items() if key in c and c[key].ours})
        for key in ("epochs", "split")
    }
    claims = []
    for text, names in sorted(by_key["epochs"].items(), key=lambda g: -len(g[1])):
        split = next((s for s, n in by_key["split"].items() if n == names), None)
        if split is not None:
            del by_key["split"][split]
        claims.append(f"{text}{f' {split}' if split else ''} ({first_few(names, _NAMED)})")
    for text, names in sorted(by_key["split"].items(), key=lambda g: -len(g[1])):
        claims.append(f"trained {text} ({first_few(names, _NAMED)})")
    return and_list(claims)


def _grouped(texts: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for run, text in texts.items():
        out.setdefault(text, []).append(run)
    return out
