"""The figures the courses' reports published, carried by a suite beside its runs (``reported:``).

    reported:
      sources:                        # who published them; each key labels its columns in the tables
        dlvc-B:
          title: DLVC assignment 1, group report B (Čuš & Akay, 2024)
          data: CIFAR-10, 40k / 10k / 10k split, 10 epochs; val figures on val, test figures on test
          dataset: cifar10            # optional: vislab's data.name of those figures (a note when runs differ)
          epochs: 10                  # optional, as ``data`` says: how they were measured (like_for_like.py)
          split: {train: 40000, val: 10000, test: 10000}
      runs:                           # run → source → where the figures are, and the figures
        resnet18:
          dlvc-B: {where: Table 1, val_acc: "0.5051", test_acc: "0.6305", train_time_s: "1643.49"}

A figure is written as the report prints it, accuracies as fractions: a number (``"0.6305"``; quoted keeps
the printed digits), or what a report reads off a curve: ``"≈0.80"``, ``"0.75–0.78"``, ``">0.90"``. A
run's entry may add to the source's ``data`` (e.g. its epochs, and ``epochs:`` over the source's) and carry a
``note`` (what the report leaves open). ``epochs``, ``early_stopping`` and ``split`` hold what ``data`` says
(only what it says), for a note when the runs here trained otherwise (:mod:`.like_for_like`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, Field, model_validator

from vislab.config import SpecFile, validate
from vislab.experiments.results.like_for_like import (
    MEASURED_KEYS,
    Aspect,
    MeasuredWith,
    Seeds,
    conditions,
    measured_with,
    unlike_sentence,
)
from vislab.training.summary import RunSummary

# The figures a report can give for a run: keys of the results table (results/table.py COLUMNS).
FIGURES = (
    "train_acc",
    "val_acc",
    "val_pacc",
    "test_acc",
    "test_pacc",
    "test_loss",
    "train_time_s",
    "test_time_s",
)
_FIGURE = re.compile(
    r"^(?P<qual>[≈~<>≤≥])?\s*(?P<low>\d+(?:\.\d+)?)(?:\s*[–-]\s*(?P<high>\d+(?:\.\d+)?))?$"
)
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def _figure(text: str) -> str:
    """A figure as printed, checked and written one way: '~' → '≈', a range's '-' → '–'."""
    m = _FIGURE.match(text.strip())
    if not m:
        raise ValueError(
            "a reported figure is a number as printed ('0.6305'), or '≈0.80', '0.75–0.78', '>0.90' "
            "(accuracies as fractions: 80 % is 0.80)"
        )
    qual = {"~": "≈"}.get(m["qual"] or "", m["qual"] or "")
    return qual + m["low"] + (f"–{m['high']}" if m["high"] else "")


def figure_value(text: str | None) -> float | None:
    """The number a figure stands for (a range's middle), for sorting; None for anything else."""
    m = _FIGURE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        return None
    low = float(m["low"])
    return (low + float(m["high"])) / 2 if m["high"] else low


def _key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(
            "a source key is letters, digits, '.', '_' or '-' (it names table columns)"
        )
    return key


Figure = Annotated[str, AfterValidator(_figure)]


class ReportSource(MeasuredWith):
    """One report that published figures for runs of the suite."""

    title: str = Field(
        description="course, practical and report, e.g. 'DLVC assignment 1, group report B (2024)'"
    )
    data: str = Field(
        description="on which data its figures were measured, e.g. 'CIFAR-10 test set, 10 epochs'"
    )
    dataset: str | None = Field(
        None, description="vislab's data.name of that data, e.g. cifar10 (a note when runs differ)"
    )


class ReportedFigures(MeasuredWith):
    """What one report gives for one run: where, and the figures as printed (absent: not given)."""

    where: str = Field(description="table, figure or question, e.g. 'Table 1' or 'Q22, Figure 9'")
    data: str | None = Field(
        None, description="what else holds for this run's figures, e.g. 'After 60 epochs'"
    )
    note: str | None = Field(None, description="what the report leaves open about these figures")
    dataset: str | None = Field(None, description="overrides the source's dataset for this run")
    train_acc: Figure | None = None
    val_acc: Figure | None = None
    val_pacc: Figure | None = None
    test_acc: Figure | None = None
    test_pacc: Figure | None = None
    test_loss: Figure | None = None
    train_time_s: Figure | None = None
    test_time_s: Figure | None = None

    def figures(self) -> dict[str, str]:
        """Figure key → the figure as printed, for the figures this report gives (in FIGURES' order)."""
        return {key: getattr(self, key) for key in FIGURES if getattr(self, key) is not None}

    @model_validator(mode="after")
    def _accuracies_are_fractions(self) -> ReportedFigures:
        for key, figure in self.figures().items():
            value = figure_value(figure)
            if key.endswith("acc") and value is not None and value > 1:
                raise ValueError(f"{key} {figure} is above 1: write accuracies as fractions")
        return self


class Reported(SpecFile):
    """A suite's ``reported:`` block."""

    sources: dict[Annotated[str, AfterValidator(_key)], ReportSource] = Field(
        min_length=1, description="source key → the report (title, data)"
    )
    runs: dict[str, dict[str, ReportedFigures]] = Field(
        {}, description="run name → source key → {where, figures}"
    )

    @model_validator(mode="after")
    def _sources_are_declared(self) -> Reported:
        for run, by_source in self.runs.items():
            unknown = sorted(set(by_source) - set(self.sources))
            if unknown:
                raise ValueError(
                    f"run '{run}' cites {unknown}, not under reported.sources "
                    f"(declared: {', '.join(self.sources)})"
                )
        return self


# ------------------------------------------------------------------ reading a block
ReportedLike = Reported | Mapping[str, Any] | None
"""A ``reported:`` block: the suite's model, or the mapping suite.json records (or a caller passes)."""


def as_reported(reported: ReportedLike) -> Reported | None:
    """The block as its model: as loaded with its suite, or a mapping (suite.json's) checked again
    (ConfigError naming each mistake). None for no block."""
    if reported is None or isinstance(reported, Reported):
        return reported
    return validate(Reported, dict(reported), "reported:", kind="suite") if reported else None


def as_block(reported: Reported | None) -> dict:
    """The block as suite.json records it: the figures as printed, what is not given left out."""
    return reported.model_dump(exclude_none=True) if reported is not None else {}


def reported_columns(reported: ReportedLike) -> dict[str, list[str]]:
    """Figure key → the sources that give it for some run, in the order the sources are declared."""
    reported = as_reported(reported)
    if reported is None:
        return {}
    given = {
        (src, key)
        for by_source in reported.runs.values()
        for src, figures in by_source.items()
        for key in figures.figures()
    }
    return {
        key: [src for src in reported.sources if (src, key) in given]
        for key in FIGURES
        if any(k == key for _, k in given)
    }


def reported_figure(reported: ReportedLike, run: str, source: str, key: str) -> str | None:
    """The figure ``source`` printed for ``run`` (None: not given)."""
    reported = as_reported(reported)
    figures = reported.runs.get(run, {}).get(source) if reported is not None else None
    return figures.figures().get(key) if figures is not None else None


def _sentences(entry: dict) -> dict:
    """An entry's texts as the tables end them (the suite file's own full stops dropped). ``data`` is kept
    as written: it names what was measured on, a data set whose name may be lower-case (digits); a
    ``note``, the report's remark on a run, starts its sentence capitalised."""
    out = {k: v.rstrip(" .") if isinstance(v, str) else v for k, v in entry.items()}
    if out.get("note"):
        out["note"] = out["note"][0].upper() + out["note"][1:]
    return out


def legend(reported: ReportedLike, runs: list[str]) -> list[dict]:
    """Per source: its key, title, data, and the cited runs among ``runs`` with where (and note/data)."""
    reported = as_reported(reported)
    if reported is None:
        return []
    out = []
    for src, info in reported.sources.items():
        cited = [
            _sentences(dict(run=run, **_texts(by_source[src])))
            for run, by_source in reported.runs.items()
            if src in by_source and run in runs
        ]
        if cited:
            out.append(dict(key=src, **_sentences(_texts(info)), runs=cited))
    return out


def _texts(entry: MeasuredWith) -> dict:
    """An entry's texts and figures, without the conditions its ``data`` already says in words."""
    return entry.model_dump(exclude_none=True, exclude=set(MEASURED_KEYS))


Cited = Mapping[str, RunSummary | Seeds]
"""What the reports' figures are set beside: run → its summary.json, or row → its seeds' summaries."""


def row_summaries(
    summaries: dict[str, RunSummary], rows: dict[str, list[str]]
) -> dict[str, list[RunSummary]]:
    """Row → the summaries of its finished runs (its seeds), for the rows with one: what
    :func:`mismatches` weighs of a seeded suite (``reported:`` names rows, not ``<row>-s<i>`` runs)."""
    seeds = {row: [summaries[n] for n in names if n in summaries] for row, names in rows.items()}
    return {row: found for row, found in seeds.items() if found}


def mismatches(reported: ReportedLike, summaries: Cited) -> list[str]:
    """Per source, a sentence where its figures were measured on another dataset than its runs here used,
    and one where they trained other epochs or on other split sizes (summary.json's ``epochs_run``,
    ``stopped_early``, ``n_train``/``n_val``/``n_test``); only for runs with that source's figures. A row
    of seeds (:func:`row_summaries`) is weighed by every seed."""
    reported = as_reported(reported)
    seeds = {run: _seeds(found) for run, found in summaries.items()}
    out = []
    for src in reported.sources if reported is not None else ():
        cited = {
            run: by_source[src]
            for run, by_source in reported.runs.items()
            if src in by_source and run in seeds
        }
        out += [_other_dataset(reported, src, cited, seeds)]
        out += [unlike_sentence(src, _conditions(reported.sources[src], cited, seeds))]
    return [s for s in out if s]


def _seeds(found: RunSummary | Seeds) -> Seeds:
    """A run's summary, or a row's seeds', as a list of records."""
    return [found] if isinstance(found, RunSummary) else list(found)


def _other_dataset(
    reported: Reported, src: str, cited: dict[str, ReportedFigures], seeds: dict[str, Seeds]
) -> str | None:
    """The sentence for runs here on another dataset than the source's figures (None: none)."""
    theirs_, ours_ = set(), set()
    for run, figures in cited.items():
        dataset = figures.dataset or reported.sources[src].dataset
        used = {str(s.data) for s in seeds[run]} - {dataset}
        if dataset and used:
            theirs_.add(dataset)
            ours_ |= used
    if not ours_:
        return None
    return (
        f"{src}'s figures were measured on {', '.join(sorted(theirs_))}; the runs here used "
        f"{', '.join(sorted(ours_))}: the reported columns are not a like-for-like comparison."
    )


def _conditions(
    source: ReportSource, cited: dict[str, ReportedFigures], seeds: dict[str, Seeds]
) -> dict[str, dict[str, Aspect]]:
    """Run → its conditions beside the report's (:func:`.like_for_like.conditions`)."""
    return {run: conditions(measured_with(source, f), seeds[run]) for run, f in cited.items()}


# ------------------------------------------------------------- what the reports say, as tables list it
REPORTS_SAY = "What the reports say about these runs"
NO_NUMBERS = "they print no numbers for them"


def source_line(src: dict) -> str:
    """A source of ``reported.legend`` as the tables name it: its title and the data it measured on."""
    return f"{src['title']}. Measured on: {src['data']}."


def cited_line(cited: dict) -> str:
    """A run a source cites (one of its ``legend`` runs), as the tables list it: where, then what the
    source adds for it (its data, its note: the report's words on the run)."""
    extra = "".join(f" {cited[k]}." for k in ("data", "note") if cited.get(k))
    return f"{cited['run']}: {cited['where']}.{extra}"


def reported_notes(reported: ReportedLike, summaries: Cited) -> str:
    """Markdown: for each source, what it is, on which data it measured, where each figure is and what it
    says of each run (:func:`source_line`, :func:`cited_line`)."""
    reported = as_reported(reported)
    blocks = []
    for src in legend(reported, list(summaries)):
        lines = [f"- **{src['key']}**: {source_line(src)}"]
        lines += [f"  - {cited_line(r)}" for r in src["runs"]]
        blocks.append("\n".join(lines))
    if not blocks:
        return ""
    warn = "".join(f"\n**Note:** {m}\n" for m in mismatches(reported, summaries))
    intro = (
        "Reported figures (the columns marked 'reported', as the reports print them; '-': not given), "
        "where they are, and what the reports say"
        if reported_columns(reported)
        else f"{REPORTS_SAY} ({NO_NUMBERS})"
    )
    return f"\n{intro}:\n\n" + "\n".join(blocks) + "\n" + warn
