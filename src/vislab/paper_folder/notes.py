"""A paper's notes on its runs: the runs that did not finish, the files that could not be read, the figures
not drawn, the notes the runs gave as they trained. The PDF (texts.tex's Notes) says each in a sentence;
where a note goes on to why and what to do about it (a redefined class's source diff, the Python call that
trains it again), that goes to notes.md beside it, which holds every note in full, and to the terminal."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from vislab.experiments.results.texts import notes_by_text
from vislab.files import atomic_write_text
from vislab.report.plan import ReportPlan
from vislab.report.seeds import plan_rows

NOTES = "notes.md"  # every note in full, beside main.tex
LONG = 200  # characters: a note longer than this is said in brief in the PDF (:func:`brief`)
ASIDE = (
    60  # characters: an aside in parentheses longer than this, listing (a source diff), is left out
)
_HEAD = 30  # characters: a note cut at a colon says at least this much of it (a run's name alone is none)
IN_FULL = f"in full, with what to do: {NOTES}"
SAID = "Said in training: "  # a note a run gave as it trained, then who gave it: "(runs: a and b)"
_WHO = re.compile(r" \((every run(?: but [^()]*)?|runs?: [^()]*)\)$")
# the abbreviations a sentence goes on past (a note is never cut after "e.g.")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.")
_SENTENCE_END = re.compile(
    r"(?<=[.!?])" + "".join(rf"(?<!\b{re.escape(a)})" for a in _ABBREVIATIONS) + r"\s+(?=[A-Z])"
)
DID_NOT_FINISH = ": not in the tables, it did not finish"  # a failed run's note, after its name
_FAILED = re.compile(rf"(.*?{DID_NOT_FINISH}) \((.*)\)", re.DOTALL)  # its name, then its reason


def paper_notes(plan: ReportPlan) -> list[str]:
    """The notes of ``plan``, in full: the runs that did not finish, the files that could not be read,
    the figures not drawn, then the notes the tables' runs gave as they trained (summary.json's; the
    like-for-like caveats are under their tables, in tables.tex: not again here)."""
    said = [f"{SAID}{line}" for line in notes_by_text(plan.complete, plan_rows(plan))]
    return failed(plan) + plan.unread + plan.notes + said


def failed(plan: ReportPlan) -> list[str]:
    """A note per run that did not finish: left out of the tables, why, and the fix (texts.tex's, and
    said on the terminal)."""
    return [f"{n}{DID_NOT_FINISH} ({msg})" for n, msg in plan.failures.items()]


def brief(note: str) -> str:
    """``note`` as the PDF says it: as it is up to :data:`LONG` characters, else its first sentence
    (:func:`_gist`), pointing to :data:`NOTES`; as it is where nothing is left out. A note the runs gave
    as they trained keeps who gave it; a failed run's (:func:`failed`) the first clause of its reason."""
    if len(note) <= LONG:
        return note
    if failure := _FAILED.fullmatch(note):
        head, reason = failure.groups()
        clause = _gist(reason).split("; ")[0]
        return note if clause == reason else f"{head} ({_unstopped(clause)}; {IN_FULL})."
    who = _WHO.search(note) if note.startswith(SAID) else None
    text = note[: who.start()] if who else note
    first = _gist(text)
    if first == text:
        return note
    return f"{_unstopped(first)} ({f'{who[1]}; ' if who else ''}{IN_FULL})."


def _gist(text: str) -> str:
    """The first sentence of ``text`` (never cut after an abbreviation) without its long asides
    (:func:`_without_asides`: a redefined class's source diff) and, where that is still long, up to its
    first ": " past its first :data:`_HEAD` characters (what is left out, not why)."""
    first = _SENTENCE_END.split(_without_asides(text), maxsplit=1)[0]
    if len(first) > 2 * LONG and (at := first.find(": ", _HEAD)) > 0:
        first = first[:at]
    return first


def _unstopped(sentence: str) -> str:
    """``sentence`` without its closing full stop, but for one that ends an abbreviation ("etc.")."""
    sentence = sentence.rstrip(" ")
    if sentence.endswith(_ABBREVIATIONS):
        return sentence
    return sentence.rstrip(" .")


def _without_asides(text: str) -> str:
    """``text`` without its asides in parentheses (nested ones inside) longer than :data:`ASIDE`
    characters that list something (a ": " or "; " in them): a source diff, not an error's position."""
    out, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char == "(":
            if depth == 0:
                out.append(text[start:i])
                start = i
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                aside, start = text[start : i + 1], i + 1
                if len(aside) > ASIDE and (": " in aside or "; " in aside):
                    out[-1] = out[-1].rstrip(" ")  # "since (…): the model" → "since: the model"
                else:
                    out.append(aside)
    out.append(text[start:])
    return "".join(out)


def write_notes(folder: Path, notes: Sequence[str]) -> None:
    """``folder``/notes.md: every note in full, a list item each ("no notes" when there are none)."""
    items = "".join(f"- {' '.join(n.split())}\n" for n in notes) or "No notes on these runs.\n"
    atomic_write_text(folder / NOTES, f"# Notes on the runs\n\n{items}")
