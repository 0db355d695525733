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
``n_val`` or ``n_test``; what a report or a summary does not give is not compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, field_validator

from vislab.config import SpecFile

Size = Annotated[int, Field(strict=True)]
SPLITS = ("train", "val", "test")


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
def theirs(m: MeasuredWith) -> tuple[str, str]:
    """The report's epochs and split in words ('' where not given), e.g. ('after 10 epochs',
    'on 40k train / 10k val / 10k test images')."""
    epochs = ""
    if m.epochs is not None:
        most, stop = ("at most ", " (early stopping)") if m.early_stopping else ("", "")
        epochs = f"after {most}{_epochs(m.epochs)}{stop}"
    sizes = _sizes(m)
    return epochs, f"on {_split_text(sizes)}" if sizes else ""


def ours(m: MeasuredWith, summary: Mapping) -> str | None:
    """What the run did, in words, where it differs from ``m`` (e.g. 'trained 1 epoch'); None: it does
    not differ in what both give."""
    epochs = _epochs_differ(m, summary)
    split = _split_differs(m, summary)
    if not (epochs or split):
        return None
    did = "trained"
    if epochs:
        ran = _epochs(int(summary["epochs_run"]))
        did = f"stopped early after {ran}" if summary.get("stopped_early") else f"trained {ran}"
    return did + (f" on {_split_text(_run_sizes(summary))}" if split else "")


def _epochs_differ(m: MeasuredWith, summary: Mapping) -> bool:
    """Whether the run trained other epochs than the report (see the module's docstring)."""
    ran = summary.get("epochs_run")
    if m.epochs is None or ran is None or summary.get("trained_by") == "fit_arrays":
        return False
    if not m.early_stopping:
        return ran != m.epochs
    # both stopped on validation: the data decided, within the report's most
    return ran > m.epochs or (not summary.get("stopped_early") and ran < m.epochs)


def _split_differs(m: MeasuredWith, summary: Mapping) -> bool:
    run = _run_sizes(summary)
    return any(k in run and run[k] != n for k, n in _sizes(m).items())


def _run_sizes(summary: Mapping) -> dict[str, int]:
    """Split → size of a run (summary.json's n_train, n_val, n_test that it has)."""
    return {k: int(summary[f"n_{k}"]) for k in SPLITS if summary.get(f"n_{k}") is not None}


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _split_text(sizes: dict[str, int]) -> str:
    return " / ".join(f"{_count(n)} {k}" for k, n in sizes.items()) + " images"


def _count(n: int) -> str:
    """40000 → '40k', 1500 → '1.5k', 600 → '600', 54321 → '54,321': short, never rounded."""
    if n >= 1000 and n % 100 == 0:
        return f"{n / 1000:g}k"
    return f"{n:,}"


# ------------------------------------------------------------------ the sentence for one source
def unlike_sentence(src: str, differences: dict[str, tuple[tuple[str, str], str]]) -> str | None:
    """One sentence for ``src`` from its runs that trained otherwise (run → (:func:`theirs`, :func:`ours`));
    None for none."""
    if not differences:
        return None
    measured = " ".join(
        _aspect({run: t[i] for run, (t, _) in differences.items()}) for i in range(2)
    )
    by_ours = _grouped({run: o for run, (_, o) in differences.items()})
    here = ", ".join(
        f"{o} ({_names(runs)})" for o, runs in sorted(by_ours.items(), key=lambda g: -len(g[1]))
    )
    return f"{src}'s figures were measured {measured.strip()}; the runs here {here}: not like-for-like."


def _aspect(texts: dict[str, str]) -> str:
    """One aspect of the report's conditions over runs: its text, or where runs differ, each text with
    its runs."""
    groups = _grouped({run: t for run, t in texts.items() if t})
    if len(groups) == 1 and sum(map(len, groups.values())) == len(texts):
        return next(iter(groups))
    return " or ".join(f"{t} ({_names(runs)})" for t, runs in groups.items())


def _grouped(texts: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for run, text in texts.items():
        out.setdefault(text, []).append(run)
    return out


def _names(runs: list[str], shown: int = 3) -> str:
    """Runs named compactly: up to ``shown``, then how many more."""
    more = f" and {len(runs) - shown} more" if len(runs) > shown else ""
    return ", ".join(runs[:shown]) + more
