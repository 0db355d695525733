"""A paper folder's texts about its runs, kept apart from the main.tex they go into: ``texts.tex`` (the data
and how the runs were made, the seeds, the groups' verdicts, the notes on the runs left out) is vislab's
and written again by every build, like tables.tex; main.tex only \\input's it, so a main.tex the user
edited (theirs, kept) still shows what the tables show. And what a build says of such a main.tex."""

from __future__ import annotations

import re
import time
from collections.abc import Collection, Sequence
from pathlib import Path

import optuna

from vislab.experiments.results.spread import COMPARE, RULE, Verdict
from vislab.experiments.sweeps.attrs import is_surplus
from vislab.experiments.sweeps.results import trial_name
from vislab.experiments.sweeps.trials import STATE_WORDS, state_word
from vislab.paper_folder.latex import escape, main_document
from vislab.version import __version__
from vislab.words import and_list, first_few

TEXTS = "texts"  # texts.tex, \input by main.tex
RUNS_SECTION, RUNS_LABEL = "Data and runs", "sec:runs"  # texts.tex's heading over the data line
# under each table in tables.tex: where the PDF says the data used and how the runs were made (LaTeX)
SEE_TEXTS = (
    f"Data and how the runs were made: see ``{RUNS_SECTION}'' on page~\\pageref{{{RUNS_LABEL}}}."
)
INPUT_TEXTS = (
    f"\\input{{{TEXTS}}} % the data, seeds, verdicts and notes on the runs: vislab writes {TEXTS}.tex "
    "again on each build\n"
)


def texts_tex(intro: Sequence[str], verdicts: str, notes: Sequence[str]) -> str:
    """texts.tex: the ``intro`` paragraphs (plain text) under the heading the tables point to
    (:data:`SEE_TEXTS`), the ``verdicts`` section (LaTeX) and the ``notes`` (plain text, each a sentence
    or two: the runs that did not finish, files that could not be read) as a list."""
    heading = f"\\section*{{{RUNS_SECTION}}}\\label{{{RUNS_LABEL}}}\n"
    paragraphs = heading + "\n\n".join(escape(p) for p in intro if p)
    items = "".join(f"  \\item {escape(n)}\n" for n in notes)
    # \sloppy: a note's long settings and paths (train.epochs=1:) go to the next line, not past the margin
    listed = (
        f"\\section*{{Notes}}\n{{\\sloppy\\begin{{itemize}}\n{items}\\end{{itemize}}}}\n"
        if notes
        else ""
    )
    head = f"% written by vislab paper, again on each build: edit main.tex, which \\input's {TEXTS}.tex\n"
    return head + "\n\n".join(p for p in (paragraphs, verdicts, listed) if p) + "\n"


def trials_left_out(study: optuna.Study, chosen: Collection[str] | None = None) -> list[str]:
    """The note on a sweep's trials that are in no table (pruned, failed, interrupted, running or
    queued), named by state, as results.md counts them (not those that repeated another's values: they
    have no run); ``chosen``: only those of these runs (--only). [] when there are none."""
    by_state: dict[str, list[str]] = {}
    for t in study.get_trials(deepcopy=False):
        name, state = trial_name(t), state_word(t)
        wanted = chosen is None or name in chosen
        if state not in ("complete", "repeated") and not is_surplus(t) and wanted:
            by_state.setdefault(state, []).append(name)
    if not by_state:
        return []
    named = "; ".join(
        f"{state}: {first_few(names, 8)}" for state in STATE_WORDS if (names := by_state.get(state))
    )
    return [
        f"Trials not in the tables, which hold the complete ones only ({named}): the sweep's "
        "trials.csv lists every trial with its state, parameters and error."
    ]


def main_tex(title: str) -> str:
    """main.tex: the ``title``, then texts.tex, tables.tex and figures.tex, each \\input."""
    return main_document(title, [], INPUT_TEXTS, [])


def kept_main(main_tex_path: Path, drawn: int | None, title: str | None = None) -> list[str]:
    """What a paper written again says of the user's main.tex, kept: what was rewritten beside it
    (``drawn``: how many figures; None: none drawn), that a ``title`` given is not used (main.tex holds
    the title), and a note when it does not \\input texts.tex,
    tables.tex or figures.tex (what was rewritten would not show in it), naming the line to add, and
    what it names that the folder no longer has (:func:`missing_targets`)."""
    figures = f"figures.tex, tables.md and {drawn} figure{'s' * (drawn != 1)}"
    said = (
        "main.tex is yours (edited since vislab wrote it): kept; tables.tex, "
        + (figures if drawn is not None else "tables.md (figures not drawn: kept as they were)")
        + " rewritten"
    )
    try:
        text = main_tex_path.read_text(errors="replace")
    except OSError:  # gone or unreadable meanwhile: nothing to tell of it
        return [said]
    lost = [name for name in ("tables", "figures") if not inputs(text, name)]
    lines = [said if lost else said + " — your main.tex \\input's them"]
    if inputs(text, TEXTS):
        lines[0] += (
            f", and {TEXTS}.tex: the data, seeds, verdicts and notes it shows are this build's"
        )
    else:
        lines.append(
            f"note: your main.tex does not \\input {TEXTS}.tex, which holds this build's data and seeds, "
            f"the groups' verdicts and the notes on the runs left out: what your main.tex says of them is "
            f"an earlier build's. Put \\input{{{TEXTS}}} after \\maketitle, in place of those paragraphs."
        )
    if lost:
        files = " nor ".join(f"{name}.tex" for name in lost)
        put = " and ".join(f"\\input{{{name}}}" for name in lost)
        lines.append(
            f"note: your main.tex no longer \\input's {files}, so the refreshed {' and '.join(lost)} do "
            f"not show in it: put {put} back where they go."
        )
    if title is not None:
        lines.append(
            "note: --title (Python: title=) is not used: the title is main.tex's, which is yours and kept. "
            "Edit \\title in main.tex, or move main.tex away to get a new one with this title."
        )
    return lines + missing_targets(main_tex_path)


def inputs(tex: str, name: str) -> bool:
    """Whether LaTeX ``tex`` inputs (\\input, \\include) the file ``name`` (or name.tex) outside a
    comment."""
    code = re.sub(r"(?<!\\)%.*", "", tex)  # a comment runs from an unescaped % to the line's end
    file = rf"(?:\./)?{re.escape(name)}(?:\.tex)?"
    return re.search(rf"\\(?:input|include)(?:\s*\{{\s*{file}\s*\}}|\s+{file}\b)", code) is not None


# the commands of main.tex naming a file or a label, and how it names them
_TARGETS = {
    "input": r"\\(?:input|include)\s*\{([^}]*)\}",
    "graphics": r"\\includegraphics\s*(?:\[[^\]]*\])?\s*\{([^}]*)\}",
    "ref": r"\\(?:[cC]ref|ref|autoref|pageref|nameref|vref)\s*\{([^}]*)\}",
}
_SPELLED = {"input": "\\input{{{}}}", "graphics": "\\includegraphics{{{}}}", "ref": "\\ref{{{}}}"}


def missing_targets(main_tex_path: Path) -> list[str]:
    """A note naming what the user's main.tex inputs, includes or refers to (\\input, \\include,
    \\includegraphics, \\ref, \\cref) that its paper folder no longer has — a figure, per-epoch table
    or label of a run renamed (a paper of several folders names a run <folder>/<run>) or left out —
    each with its new name where one maps (old → new); [] when none."""
    folder = main_tex_path.parent
    try:
        code = re.sub(r"(?<!\\)%.*", "", main_tex_path.read_text(errors="replace"))
    except OSError:
        return []
    have = _targets_of(folder)
    gone: dict[str, str] = {}  # main.tex's command naming what is gone → its new name, or "(gone)"
    for kind, pattern in _TARGETS.items():
        for found in re.findall(pattern, code):
            for name in (n.strip() for n in found.split(",")) if kind == "ref" else [found.strip()]:
                if name and name not in have[kind] and not _on_disk(folder, kind, name):
                    new = [n for n in have[kind] if _renamed(name, n)]
                    to = f" → {' or '.join(sorted(new))}" if new else " (gone)"
                    gone[_SPELLED[kind].format(name)] = to
    if not gone:
        return []
    named = "; ".join(command + to for command, to in gone.items())
    return [
        f"note: your main.tex names what this build no longer has: {named}. A paper of several folders "
        "names each run <folder>/<run>, as vislab compare does, and a run left out has no table, figure "
        "or label: edit these in main.tex."
    ]


def _on_disk(folder: Path, kind: str, name: str) -> bool:
    """Whether a file main.tex names (not a label) is in ``folder``, with an extension LaTeX tries: a file
    of the user's own (sections/intro.tex, img/logo.png) is no target of a build."""
    if kind == "ref":
        return False
    return any((folder / f"{name}{ext}").is_file() for ext in ("", ".tex", ".pdf", ".png", ".jpg"))


def _targets_of(folder: Path) -> dict[str, set[str]]:
    """What a main.tex in ``folder`` may name: its .tex files (with and without .tex), its figures
    (figures/<name>, with and without the extension) and the labels of its .tex files."""
    tex = [p for p in (*folder.glob("*.tex"), *folder.glob("tables/*.tex")) if p.is_file()]
    inputs = {str(p.relative_to(folder).with_suffix("")) for p in tex}
    pictures = [p.relative_to(folder) for p in folder.glob("figures/*") if p.is_file()]
    labels = set()
    for p in tex:
        labels.update(re.findall(r"\\label\s*\{([^}]*)\}", p.read_text(errors="replace")))
    return {
        "input": inputs | {f"{n}.tex" for n in inputs} | {f"./{n}" for n in inputs},
        "graphics": {str(p) for p in pictures} | {str(p.with_suffix("")) for p in pictures},
        "ref": labels,
    }


def _renamed(old: str, new: str) -> bool:
    """Whether ``new`` is ``old`` with a part put in at a boundary (a run's folder before its name):
    tables/cnn_epochs → tables/qs_cnn_epochs, fig:confusion_cnn → fig:confusion_qs_cnn,
    tab:epochs-cnn → tab:epochs-qs-cnn."""
    if len(new) <= len(old):
        return False
    for i in range(len(old)):
        head, tail, added = old[:i], old[i:], new[i : len(new) - len(old) + i]
        if (
            (not head or head[-1] in "/:_-")
            and new.startswith(head)
            and new.endswith(tail)
            and re.fullmatch(r"[\w.]*[^\w.]|[\w.]*_", added)
        ):
            return True
    return False


def latex_verdicts(verdicts: dict[str, list[Verdict]], paired: str = COMPARE["previous"]) -> str:
    """The groups' verdicts as a LaTeX section: how they pair the runs (``paired``), the rule in a
    footnote ('' without verdicts)."""
    if not verdicts:
        return ""
    items = "".join(
        f"  \\item \\textbf{{{escape(group)}}}: {escape(v.sentence())}\n"
        for group, vs in verdicts.items()
        for v in vs
    )
    return (
        "\\section*{Differences within groups}\n"
        f"{escape(paired)}, on the test set\\footnote{{{escape(RULE)}}}.\n"
        f"\\begin{{itemize}}\n{items}\\end{{itemize}}\n"
    )


def made_from(targets: Sequence[str | Path]) -> str:
    """The folders a paper is made from, as texts.tex names them: its one folder, or its run folders (not
    the paper's own folder, where several runs' plan is made)."""
    return and_list([str(t) for t in targets])


def generated(made_from: str) -> str:
    """texts.tex's line saying when, by which vislab and from which folders (``made_from``) it was made."""
    return f"Generated {time.strftime('%Y-%m-%d %H:%M')} by vislab {__version__} from {made_from}."
