"""The paper's tables: what each run was (its model, seed and the settings that differ between the runs:
columns of the first table when few, else a table of each run's ``key=value`` settings, as
``settings.for_people`` says), vislab's figures (mean ± std with seeds), the per-class table laid out for
print (``table_layout``) and the reports' published figures in their own columns, the best of vislab's
among the runs of one dataset in bold (``cells.bold_cells``), each source's footnote and caveats; then what
the reports say about the runs; as booktabs LaTeX (tables.tex) and Markdown (tables.md) of the results
tables' cells (``cells.fmt``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vislab.experiments.results.cells import (
    REPORTED,
    bold_cells,
    bold_rule,
    column_meanings,
    fmt,
    pipe_table,
    ranks,
)
from vislab.experiments.results.columns_dash import figures_dash_note
from vislab.experiments.results.data_used import mixes_data
from vislab.experiments.results.for_people import LISTED, LISTED_NOTE, listed_line, listed_markdown
from vislab.experiments.results.per_class import per_class_table
from vislab.experiments.results.provenance import fitted_params_note
from vislab.experiments.results.reported import (
    FIGURES,
    NO_NUMBERS,
    REPORTS_SAY,
    Cited,
    ReportedLike,
    as_reported,
    cited_line,
    mismatches,
    source_line,
)
from vislab.experiments.results.settings import IDENTITY, RUN_FOLDER
from vislab.experiments.results.spread import RULE, SPREAD_WORDS
from vislab.paper_folder.captions import PARTS, part_caption
from vislab.paper_folder.latex import CAPTION_SKIP, escape
from vislab.paper_folder.markdown import md_rows, md_text
from vislab.paper_folder.table_layout import printable, spans_columns
from vislab.training.summary import RunSummary
from vislab.words import and_list


@dataclass(frozen=True)
class Source:
    """A report that cites the runs: its key, the footnote's text, its footnote mark (a, b, …; '' for a
    report that gives no figures, so has no column), why its figures are not like-for-like with the runs
    here ('' when they are), said under its tables, its title and data (``reported.source_line``), and the
    runs it cites (``reported.legend``'s: where, and its data and note for each)."""

    key: str
    text: str
    mark: str
    caveat: str = ""
    head: str = ""
    runs: tuple[dict, ...] = ()


@dataclass(frozen=True)
class Said:
    """What a report says about the runs, after the tables: its key, title and data (``head``), a line per
    run (``reported.cited_line``) and, where no table carries it, why its figures are not like-for-like."""

    key: str
    head: str
    lines: list[str]
    caveat: str = ""


@dataclass(frozen=True)
class Part:
    """One table: its label, caption, columns (key, header), rows, bold cells ((row, key) pairs), the columns
    of text, left-aligned (the run, what each run was), its ``note`` (plain text: its n/a, - and code)."""

    label: str
    caption: str
    cols: list[tuple[str, str]]
    rows: list[dict]
    bold: set[tuple[int, str]]
    text: tuple[str, ...] = ("run",)
    note: str = ""


def parts(
    rows: list[dict],
    cols: list[tuple[str, str]],
    seeded: bool,
    data: Sequence[str] | None = None,
    lead: Sequence[str] = (),
    fitted: Sequence[str] = (),
    trained: str = "",
    lead_note: str = "",
) -> list[Part]:
    """The results table split in three (accuracy, training, cost), each with its reported columns and
    the cells ``cells.bold_cells`` picks in bold (``data``: each row's dataset, ranked within one); a
    column no run has a value for (e.g. top-5 accuracy below ten classes) is left out, and a table left
    with none. ``lead``: the columns of what each run was (model, seed, a few settings), after the run in
    the first table. ``fitted``: the rows of a fitted baseline, whose parameters the caption explains;
    ``trained``: the parameters rows trained, where fewer than they have
    (``provenance.trainable_params_note``), said in the caption too. ``lead_note``: what the ``lead``
    columns' cells mean (n/a, -, code), under the first table; each table's ``-`` figures under it."""
    out = []
    spread = f"; {SPREAD_WORDS}" if seeded else ""
    for label, keys in PARTS:
        first = () if out else tuple(lead)
        named = ("run", "seeds", *first)
        mine = [
            (k, h)
            for k, h in cols
            if k in named
            or (k.split(REPORTED)[0] in keys and any(r.get(k) is not None for r in rows))
        ]
        if all(k in named for k, _ in mine):
            continue
        bold = bold_cells(rows, mine, data)
        ranked = any(ranks(k) for k, _ in mine)  # a table of times and counts bolds nothing
        rule = f"; {bold_rule(seeded, mixes_data(data))}" if ranked else ""
        rule += "".join(f"; {m}" for m in column_meanings(mine))
        if any(k == "params" for k, _ in mine):
            rule += "".join(f"; {p}" for p in (fitted_params_note(fitted), trained) if p)
        what = f"; after each run: {_what(first)}" if first else ""
        text = ("run", *first)
        caption = part_caption(label, [k.split(REPORTED)[0] for k, _ in mine])
        note = " ".join(p for p in (lead_note if first else "", figures_dash_note(rows, mine)) if p)
        out.append(Part(label, f"{caption}{what}{spread}{rule}.", mine, rows, bold, text, note))
    return out


def per_class_part(
    summaries: Mapping[str, RunSummary],
    rows: Mapping[str, list[str]] | None,
    datasets: Mapping[str, str],
) -> list[Part]:
    """The per-class table (``per_class.per_class_table`` of those arguments) laid out to print at its
    size (``table_layout.printable``: turned, split); none when no run has per-class figures or they
    have too many classes for one."""
    table = per_class_table(summaries, rows, datasets)
    if table is None or not table.rows:
        return []
    return printable(Part("per-class", table.caption(), table.cols, table.rows, table.bold))


def _what(lead: Sequence[str]) -> str:
    """The caption's words for the ``lead`` columns: "model, seed and the settings that differ"."""
    words = [k for k in (*IDENTITY, RUN_FOLDER) if k in lead]  # a sweep's rows from its database
    if len(words) < len(lead):
        words.append("the settings that differ between the runs")
    return and_list(words) if words else ""


def sources(
    legend: list[dict], caveats: Mapping[str, list[str]] | None = None
) -> dict[str, Source]:
    """Source key → its footnote (title, data, where each run's figures are), mark (the sources with
    figures in turn), ``caveats`` (:func:`caveats_by_source`) and the runs it cites."""
    figured = [s["key"] for s in legend if any(k in FIGURES for r in s["runs"] for k in r)]
    out = {}
    for src in legend:
        key, head = src["key"], source_line(src)
        where = "; ".join(f"{r['run']}: {r['where']}" for r in src["runs"])
        mark = "abcdefghijklmnopqrstuvwxyz"[figured.index(key) % 26] if key in figured else ""
        caveat = " ".join((caveats or {}).get(key, []))
        text = f"{key}: {head} Where: {where}."
        out[key] = Source(key, text, mark, caveat, head, tuple(src["runs"]))
    return out


def caveats_by_source(reported: ReportedLike, cited: Cited) -> dict[str, list[str]]:
    """Source key → the sentences saying where its figures are not like-for-like with the runs ``cited``
    (``reported.mismatches``, asked one source at a time); sources with none left out."""
    block = as_reported(reported)
    out = {}
    for key, source in block.sources.items() if block is not None else ():
        runs = {run: {key: by[key]} for run, by in block.runs.items() if key in by}
        alone = block.model_copy(update={"sources": {key: source}, "runs": runs})
        if found := mismatches(alone, cited):
            out[key] = found
    return out


def used_sources(t: Part, srcs: dict[str, Source]) -> list[Source]:
    """The sources with a column in table ``t``."""
    return [s for s in srcs.values() if any(k.endswith(REPORTED + s.key) for k, _ in t.cols)]


def footnoted(tables: Sequence[Part], srcs: dict[str, Source]) -> set[str]:
    """The keys of the sources some table cites (a column of theirs): those with a footnote."""
    return {s.key for t in tables for s in used_sources(t, srcs)}


def reports_say(tables: Sequence[Part], srcs: dict[str, Source]) -> list[Said]:
    """What the reports say about the runs, in results.md's words (``reported.cited_line``): of a source a
    table cites, the runs it says something of (its data or a note: where they are is in its footnote);
    of any other, every run it cites, and why its figures are not like-for-like (no table carries it)."""
    cited = footnoted(tables, srcs)
    out = []
    for s in srcs.values():
        runs = [r for r in s.runs if s.key not in cited or r.get("data") or r.get("note")]
        if runs:
            caveat = "" if s.key in cited else s.caveat
            out.append(Said(s.key, s.head, [cited_line(r) for r in runs], caveat))
    return out


def _said_heading(tables: Sequence[Part], srcs: dict[str, Source]) -> tuple[str, str]:
    """The heading of :func:`reports_say` and, as results.md adds where no table has a reported column,
    that they print no numbers ('' otherwise)."""
    return REPORTS_SAY, "" if footnoted(tables, srcs) else f" ({NO_NUMBERS})"


def _header(key: str, head: str, srcs: dict[str, Source], latex: bool) -> str:
    """A column's header; a reported column's ends with its source's footnote mark."""
    src = srcs.get(key.split(REPORTED)[1]) if REPORTED in key else None
    if src is None:
        return escape(head) if latex else head
    base = head.split(" (reported")[0]
    if latex:
        return f"{escape(base)} (rep.)\\textsuperscript{{{src.mark}}}"
    return f"{base} (reported, {src.key})[^{src.key}]"


# ------------------------------------------------------------------------------------------ LaTeX
def latex_tables(
    tables: Sequence[Part],
    srcs: dict[str, Source],
    note: str,
    listed: dict[str, list[str]] | None = None,
    see: str = "",
) -> str:
    """tables.tex: one booktabs ``table`` per part (``table*`` when wider than a column: both columns of
    a two-column template), under each after the footnotes and like-for-like caveats of the sources it
    has columns of: its own note (:attr:`Part.note`), ``note`` (plain text: the runs left out) and
    ``see`` (LaTeX: where the text says the data used and how the runs were made). ``listed`` (row →
    its ``key=value`` settings, when too many differ for columns): a table of them after the first.
    Then what the reports say about the runs (:func:`reports_say`)."""
    head = "% vislab's results (booktabs, graphicx).\n"
    under = " ".join(p for p in (escape(note), see) if p)
    blocks = [_latex_table(t, srcs, under) for t in tables]
    if listed:
        blocks.insert(1, _latex_listed(listed, under))
    return head + "\n".join(blocks) + _latex_said(tables, srcs)


def _latex_said(tables: Sequence[Part], srcs: dict[str, Source]) -> str:
    """:func:`reports_say` as a list under a run-in heading ('' when the reports say nothing)."""
    said = reports_say(tables, srcs)
    if not said:
        return ""
    title, aside = _said_heading(tables, srcs)
    items = "".join(
        f"  \\item \\textbf{{{escape(s.key)}}}: {escape(s.head)}\n  \\begin{{itemize}}\n"
        + "".join(f"    \\item {escape(line)}\n" for line in s.lines)
        + "  \\end{itemize}\n"
        for s in said
    )
    notes = "".join(f"\\textbf{{Note:}} {escape(s.caveat)}\n\n" for s in said if s.caveat)
    return (
        f"\n\\paragraph*{{{escape(title)}}}{escape(aside)}:\n"
        f"\\begin{{itemize}}\n{items}\\end{{itemize}}\n{notes}"
    )


def _latex_listed(listed: dict[str, list[str]], note: str = "") -> str:
    """The settings each run changed as a two-column booktabs table, each row's line wrapped, ``note``
    (LaTeX) under it as under every table."""
    wrapped = "\\parbox[t]{{0.75\\linewidth}}{{\\raggedright {}}}"  # a long line wraps in its cell
    body = "\n".join(
        f"{escape(row)} & {wrapped.format(escape(listed_line(texts)))} \\\\"
        for row, texts in listed.items()
    )
    return (
        f"\\begin{{table}}[htbp]\n\\centering\\small{CAPTION_SKIP}\n"
        f"\\caption{{{escape(LISTED)}: {escape(LISTED_NOTE)}.}}\n\\label{{tab:settings}}\n"
        f"\\begin{{tabular}}{{ll}}\n\\toprule\nrun & settings \\\\\n\\midrule\n{body}\n"
        f"\\bottomrule\n\\end{{tabular}}\n{_note_under(note) if note else ''}\\end{{table}}\n"
    )


def _note_under(text: str) -> str:
    """A footnote-sized paragraph under a table's tabular (``text`` already LaTeX)."""
    return f"\\par\\smallskip\\parbox{{\\linewidth}}{{\\raggedright\\footnotesize {text}}}\n"


def _latex_table(t: Part, srcs: dict[str, Source], note: str = "") -> str:
    align = "".join("l" if k in t.text else "r" for k, _ in t.cols)
    header = _latex_header(t.cols, srcs)
    body = "\n".join(
        " & ".join(_latex_cell(k, r.get(k), (i, k) in t.bold) for k, _ in t.cols) + " \\\\"
        for i, r in enumerate(t.rows)
    )
    used = used_sources(t, srcs)
    notes = "".join(_note_under(f"\\textsuperscript{{{s.mark}}} {escape(s.text)}") for s in used)
    caveat = " ".join(s.caveat for s in used if s.caveat)
    notes += _note_under(f"\\textbf{{Note:}} {escape(caveat)}") if caveat else ""
    under = " ".join(p for p in (escape(t.note), note) if p)
    notes += _note_under(under) if under else ""
    env = "table*" if spans_columns(t) else "table"  # page-wide in a two-column template
    return (
        f"\\begin{{{env}}}[htbp]\n\\centering\\small\\setlength{{\\tabcolsep}}{{4pt}}{CAPTION_SKIP}\n"
        f"\\caption{{{escape(t.caption)}}}\n"
        f"\\label{{tab:{t.label}}}\n"
        "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n"
        f"\\begin{{tabular}}{{{align}}}\n\\toprule\n{header}\n\\midrule\n{body}\n\\bottomrule\n"
        f"\\end{{tabular}}}}\n{notes}\\end{{{env}}}\n"
    )


def _latex_header(cols: list[tuple[str, str]], srcs: dict[str, Source]) -> str:
    """The header: one row, or with reported columns two — each figure's name over its columns
    (``\\cmidrule``), then "vislab" and each source's key with its footnote mark."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for key, head in cols:
        groups.setdefault(key.split(REPORTED)[0], []).append((key, head))
    if all(len(members) == 1 for members in groups.values()):
        return " & ".join(_header(k, h, srcs, latex=True) for k, h in cols) + " \\\\"
    top, rules, bottom, first = [], [], [], 1
    for members in groups.values():
        n = len(members)
        if n == 1:
            top.append("")
            bottom.append(_header(*members[0], srcs, latex=True))
        else:
            name = escape(members[0][1].split(" (reported")[0])
            top.append(f"\\multicolumn{{{n}}}{{c}}{{{name}}}")
            rules.append(f"\\cmidrule(lr){{{first}-{first + n - 1}}}")
            bottom += [_source_head(k, srcs) for k, _ in members]
        first += n
    return " & ".join(top) + " \\\\\n" + "".join(rules) + "\n" + " & ".join(bottom) + " \\\\"


def _source_head(key: str, srcs: dict[str, Source]) -> str:
    """Under a figure's name: "vislab", or the source's key with its footnote mark."""
    if REPORTED not in key:
        return "vislab"
    src = srcs.get(key.split(REPORTED)[1])
    name = key.split(REPORTED)[1]
    return f"{escape(name)}\\textsuperscript{{{src.mark}}}" if src else escape(name)


def _latex_cell(key: str, value: object, bold: bool) -> str:
    """A cell as the results tables print it, ``bold``: its mean alone in bold; a spread's ± std in a
    smaller size (a narrower column)."""
    mean, _, std = fmt(key, value).partition(" ± ")
    mean = f"\\textbf{{{escape(mean)}}}" if bold else escape(mean)
    return f"{mean}\\,{{\\footnotesize$\\pm$\\,{escape(std)}}}" if std else mean


# ------------------------------------------------------------------------------------------ Markdown
def markdown_tables(
    tables: Sequence[Part],
    srcs: dict[str, Source],
    note: str,
    verdicts: dict[str, list[str]],
    listed: dict[str, list[str]] | None = None,
) -> str:
    """tables.md: ``note`` (the data used, how the runs were made), the same tables as pipe tables (Word,
    Google Docs, pandoc), each followed by the like-for-like caveats of its sources and its own note (the
    first by the ``listed`` settings of each run, when too many differ for columns), the groups' verdicts and the rule
    they use, what the reports say about the runs (:func:`reports_say`), then the footnotes of the sources
    the tables cite."""
    out = [f"{note}\n"] if note else []
    for n, t in enumerate(tables):
        out.append(f"**Table: {md_text(t.caption)}**\n")
        cols = [(k, _header(k, h, srcs, latex=False)) for k, h in t.cols]
        out += pipe_table(cols, md_rows(t.rows, t.text), t.bold, t.text)
        if caveat := " ".join(s.caveat for s in used_sources(t, srcs) if s.caveat):
            out.append(f"\n**Note:** {caveat}")
        if t.note:
            out.append(f"\n{md_text(t.note)}")
        if n == 0 and listed:
            out.append(listed_markdown({md_text(r): v for r, v in listed.items()}).rstrip("\n"))
        out.append("")
    if verdicts:
        out.append("**Differences within groups** (rule: see the footnote[^rule])\n")
        out += [f"- {group}: {s}" for group, sentences in verdicts.items() for s in sentences]
        out.append(f"\n[^rule]: {RULE}")
    if said := _markdown_said(tables, srcs):
        out += ["", *said] if out and out[-1] else said
    cited = footnoted(tables, srcs)
    out += [f"[^{s.key}]: {s.text}" for s in srcs.values() if s.key in cited]
    return "\n".join(out) + "\n"


def _markdown_said(tables: Sequence[Part], srcs: dict[str, Source]) -> list[str]:
    """:func:`reports_say` as results.md lists it: a line per source, one per run under it."""
    said = reports_say(tables, srcs)
    if not said:
        return []
    title, aside = _said_heading(tables, srcs)
    out = [f"**{title}**{aside}:\n"]
    for s in said:
        out += [f"- **{s.key}**: {s.head}", *(f"  - {line}" for line in s.lines)]
    out += [f"\n**Note:** {s.caveat}" for s in said if s.caveat]
    return [*out, ""]
