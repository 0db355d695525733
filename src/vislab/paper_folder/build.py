"""``vislab paper``: a suite folder (or run folders, folders of runs) → a paper folder.

    DIR/figures/<name>.pdf, .png    the report's figures, drawn for a page (3.3 or 6.9 in wide); with
                                    seeds, a model's own figures (Grad-CAM, attention) of each row's first
                                    seed only, captioned "cnn, seed 0 (cnn-s0)"
    DIR/tables.tex, tables.md       the results (booktabs; Markdown for Word and Google Docs), with
                                    what each run was: its model, seed and the settings that differ
    DIR/figures.tex                 a figure environment per figure (two column-wide ones to a row),
                                    with the report's captions
    DIR/tables/<run>_epochs.tex     a run's metrics per epoch (paper_folder/epochs.py): \\input one where
                                    you want it; none of a model fitted once (majority, svm); runs whose
                                    names differ only in punctuation (a b, a_b): <run>-<6 hex digits>
    DIR/texts.tex                   the data, how the runs were made, the seeds, the groups' verdicts and
                                    the notes on runs left out, in brief (paper_folder/texts.py)
    DIR/notes.md                    the notes in full: why, and what to do (paper_folder/notes.py)
    DIR/main.tex                    the title, then texts.tex, tables.tex and figures.tex \\input: compiles
                                    with pdflatex

The plan and the figures are the report's (``report.build``); this module draws them for a page and
writes the LaTeX and Markdown around them. Written again (after more runs), it rewrites them all, or all but
a main.tex the user edited (api/papers.py decides, by the folder's record of what vislab wrote): what it
says of the runs is in texts.tex, rewritten, so an edited main.tex that inputs it stays true. A file of the
user's in figures/ (their own diagram) is kept: only vislab's figures are replaced or deleted.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from vislab.errors import UserError
from vislab.experiments.results.cells import param_cell
from vislab.experiments.results.data_used import data_line, titled
from vislab.experiments.results.folders import keyed, runs_of, unique_names
from vislab.experiments.results.for_people import for_people
from vislab.experiments.results.provenance import (
    FITTED,
    fitted_rows,
    recipe_sentence,
    select_metrics,
    trainable_params_note,
)
from vislab.experiments.results.reported import legend
from vislab.experiments.results.settings import Settings, table_settings
from vislab.experiments.results.spread import COMPARE
from vislab.experiments.results.table import SPREAD_NOTE, first_of_rows, with_settings
from vislab.experiments.results.texts import cells_notes
from vislab.experiments.sweeps.trials import database_note
from vislab.files import atomic_write_text
from vislab.paper_folder.epochs import epoch_table, lost_epoch_note, table_file, table_names
from vislab.paper_folder.figures import PageFigure, PageFigures
from vislab.paper_folder.figures_tex import figures_tex, keep_figures, keep_older_figures
from vislab.paper_folder.latex import drop_compiled
from vislab.paper_folder.notes import brief, failed, paper_notes, write_notes
from vislab.paper_folder.selection import only_runs
from vislab.paper_folder.tables import (
    caveats_by_source,
    latex_tables,
    markdown_tables,
    parts,
    per_class_part,
    sources,
)
from vislab.paper_folder.texts import (
    SEE_TEXTS,
    TEXTS,
    generated,
    kept_main,
    latex_verdicts,
    made_from,
    main_tex,
    texts_tex,
    trials_left_out,
)
from vislab.report.build import (
    draw_sections,
    note_lost_rows,
    notes_once,
    provenance_of,
    say_undrawn,
)
from vislab.report.plan import ReportPlan, not_loaded, plan_report, plan_runs, undrawn
from vislab.report.run_files import read_histories
from vislab.report.search import search_text
from vislab.report.seeds import (
    cited,
    own_splits,
    pairing,
    plan_datasets,
    plan_rows,
    plan_settings,
    plan_verdicts,
    reported_of,
    results_table,
)


def write_paper(
    targets: Sequence[str | Path],
    out: str | Path | None = None,
    title: str | None = None,
    trust_code: bool = False,
    log: Callable[[str], None] = print,
    keep_main: bool = False,
    *,
    figures: bool = True,
    only: Sequence[str] = (),
    compiled_ours: Callable[[str], bool] | None = None,
    ours: Callable[[str], bool] | None = None,
) -> Path:
    """Write the paper folder of ``targets`` (one suite, run or runs folder, or several: a folder of runs
    stands for its runs, named as compare names them) into ``out`` (default ``<target>/paper`` for one
    target); return the path of its main.tex.
    ``trust_code``: import a run's own model file even if changed since training. ``log``: told each run
    file not read (texts.tex's notes and the tables list them too). ``keep_main``: main.tex is the user's
    (edited since vislab wrote it): left as it is, and ``log`` told so (texts.tex, which it inputs, is
    rewritten). ``figures`` False: the tables and texts only, nothing drawn: figures.tex lists the figures
    an earlier build drew of this paper's runs that figures/ still holds (``figures_tex.keep_figures``; a
    figure of several runs only when drawn of none the paper leaves out), ``log`` told of those left out.
    The figures are drawn aside and moved in once all are drawn: a build cut short leaves the last one's.
    ``only``: the runs (or rows of seeds) the paper keeps (``selection.only_runs``).
    ``compiled_ours`` (a build not compiled: no --pdf): which of the files an earlier --pdf compiled
    are vislab's, unchanged: those are deleted, ``log`` told (``latex.drop_compiled``). ``ours``: which
    files of the folder (relative paths) are vislab's, unchanged (None: all): a figure of an earlier
    build is deleted or replaced only if so; any other file in figures/ is the user's, kept, and a
    build that draws a figure of its name refuses it (UserError, nothing written: ``PageFigures``). That
    the files may be replaced and no other process writes them is the caller's to check (api/papers.py)."""
    plan, settings = paper_plan(targets, out, only, log)
    folder = Path(out) if out is not None else plan.folder / "paper"
    _check_out(folder)
    with notes_once():  # the figures load a run's data per seed: each load's notes, said once
        figs = _draw(plan, folder, trust_code, ours) if figures else None
        write_epoch_tables(plan, folder, unread=not figures)  # before texts.tex: its notes say it
    drawn = list(figs.saved.values()) if figs is not None else None
    _write_texts(plan, settings, folder, drawn, title, keep_main, made_from=made_from(targets))
    if figs is not None:  # figures.tex names the new ones only now: the earlier build's may go
        figs.drop_earlier()
    elif not keep_figures(folder / "figures.tex", plan.runs, plan_rows(plan) or {}, log):
        keep_older_figures(folder / "figures.tex", set(plan.runs), bool(only), log)
    for note in [*failed(plan), *plan.unread]:  # as notes.md says them
        log(f"warning: {note}")
    if compiled_ours is not None and (said := drop_compiled(folder, compiled_ours)):
        log(said)
    if keep_main:
        for line in kept_main(folder / "main.tex", None if drawn is None else len(drawn), title):
            log(line)
    return folder / "main.tex"


def _draw(
    plan: ReportPlan, folder: Path, trust_code: bool, ours: Callable[[str], bool] | None = None
) -> PageFigures:
    """The report's figures of ``plan`` drawn for a page, moved into ``folder/figures`` once all are
    drawn (a build cut short moves none); ``.saved`` in the order drawn; ``ours``: see
    :func:`write_paper`. The figures it could not draw are said on the terminal (``say_undrawn``)."""
    mine = (lambda name: ours(f"figures/{name}")) if ours is not None else None
    figs, planned = PageFigures(folder / "figures", plan.notes, plan.files, mine), len(plan.notes)
    try:
        draw_sections(plan, figs, trust_code)
        figs.publish()
    finally:
        figs.close()
    say_undrawn(plan, planned)
    return figs


def write_epoch_tables(plan: ReportPlan, folder: Path, unread: bool = False) -> list[Path]:
    """``tables/<run>_epochs.tex``: the metrics per epoch of each run with its own figures (a seeded
    row's first seed, a sweep's best few trials), none of a model fitted once (majority, svm: no epochs);
    each run its own file and label (``table_names``); ``unread``: note each
    metrics.jsonl that cannot be read in the plan, of a row's every seed (the figures' build notes it
    otherwise). A row lost
    from a metrics.jsonl (its last line cut short: a :class:`~vislab.errors.Note`, shown when the build
    read the file) goes into the notes, and so does a kept epoch with no row, which its table lacks
    (``lost_epoch_note``)."""
    trained = [n for n, s in plan.detailed.items() if s.trained_by != FITTED]
    read = _with_their_seeds(plan, trained) if unread else trained  # the curves read every seed
    histories, notes = read_histories(plan.runs, read, plan.files)  # as the figures read them
    note_lost_rows(plan, read)
    if unread:
        plan.unread += notes
    histories = {n: histories[n] for n in trained}
    names = table_names(histories, [*plan.runs, *(plan_rows(plan) or {})])  # as its figures'
    metrics = select_metrics({n: plan.runs[n] for n in histories}, plan.configs)  # best.pt's
    written = []
    for name, rows in histories.items():
        part, label = names[name]
        best = plan.detailed[name].best_epoch
        text = epoch_table(name, rows, best, label, metrics.get(name))
        if text:
            path = folder / table_file(part)
            path.parent.mkdir(exist_ok=True)
            atomic_write_text(path, text)
            written.append(path)
            plan.notes += lost_epoch_note(name, rows, best, plan.runs[name], table_file(part))
    for old in set((folder / "tables").glob("*_epochs.tex")) - set(written):  # an earlier build's
        old.unlink()
    return written


def _with_their_seeds(plan: ReportPlan, names: list[str]) -> list[str]:
    """``names`` (a seeded row's first seed) and the other finished seeds of their rows, row by row: the
    runs whose metrics.jsonl the curves read (a paper without figures notes each that cannot be read)."""
    rows = [seeds for seeds in (plan_rows(plan) or {}).values() if set(seeds) & set(names)]
    seeds = [n for r in rows for n in r if n in plan.complete and n in plan.runs]
    return list(dict.fromkeys([*names, *seeds]))


def paper_plan(
    targets: Sequence[str | Path],
    out: str | Path | None,
    only: Sequence[str] = (),
    log: Callable[[str], None] = print,
) -> tuple[ReportPlan, Settings]:
    """The report's plan of ``targets`` (``only``: of those runs, ``selection.only_runs``), its model
    figures kept to the first seed of each row (the curves, tables and each row's test figures hold
    every seed: ``report/run_sections.py``), and what its tables say each row was (``_chosen_settings``);
    ``log``: told of a suite's records brought up to date (``plan_report``)."""
    paths = [Path(t) for t in targets]
    if not paths:
        raise UserError(
            "give a suite folder, or one or more run folders or folders of runs, to make a paper of."
        )
    if len(paths) == 1:
        plan = plan_report(paths[0], log=log)
    else:
        if out is None:
            raise UserError(
                "with several folders, give --out (Python: out=): the folder the paper goes to."
            )
        plan = plan_runs(_named(paths), Path(out))
    if not plan.table:  # a sweep's complete trials from its study database are rows too
        raise UserError(_nothing_finished(plan, paths))
    settings, said = plan_settings(plan), undrawn(plan)
    if only:
        plan = only_runs(plan, only)
        settings = _chosen_settings(plan, settings)
        plan.notes = [n for n in plan.notes if n != said]  # said again, of the trials kept
        said = undrawn(plan)
        plan.notes += [said] if said else []
    if said:  # on the terminal too, as texts.tex's notes say it
        log(f"note: {said}")
    if plan.study is not None:  # texts.tex's notes name the trials in no table
        plan.notes += trials_left_out(plan.study, set(plan.runs) if only else None)
    rows = plan_rows(plan)
    if rows:
        firsts = first_of_rows(plan.complete, rows)
        keep = {next(n for n in rows[r] if n in plan.complete) for r in firsts}
        plan.detailed = {n: s for n, s in plan.detailed.items() if n in keep}
    return plan, settings


def _nothing_finished(plan: ReportPlan, paths: list[Path]) -> str:
    """Why ``plan`` (of ``paths``) has no row for a paper (its sweep study not loaded, or no run finished)."""
    unread = "".join(f"\n  - {note}" for note in plan.unread)
    if why := not_loaded(plan):  # its rows are in the study alone
        return f"no finished run in {plan.folder}: no trial's run folder is here, and {why}{unread}"
    return (
        f"no finished run in {', '.join(map(str, paths))} (none has a complete summary.json): "
        f"finish a run first (vislab train / vislab suite), then make its paper.{unread}"
    )


def _chosen_settings(plan: ReportPlan, whole: Settings) -> Settings:
    """The settings of the runs ``--only`` kept in ``plan``, with the setting keys of the ``whole``
    folder's table: a row lists what tells it apart as it does without ``--only``
    (an augmentation two chosen runs share included), whichever runs are chosen; a sweep's trials their
    swept values."""
    if whole.swept:
        return plan_settings(plan)
    return table_settings(plan.complete, plan.runs, plan_rows(plan), plan.configs, whole.keys)


def _named(paths: list[Path]) -> dict[str, Path]:
    """The runs of several ``paths`` by name, as ``vislab compare`` names them (``results.folders``): a
    run folder by its own name, a folder of runs (a suite's, a sweep's, any other) standing for its
    runs, ``<folder>/run``; a name two runs share lengthened by the folders above them (``a/cnn``)."""
    return unique_names([runs_of(p, key) for key, p in keyed([(None, p) for p in paths])])


def _check_out(folder: Path) -> None:
    """Make ``folder`` and its figures/, and delete the scratch folders of a build that was killed
    (``figures/.tmp-*``: the folder's lock, held by the caller, says no other build is drawing); UserError
    when it cannot be written. Which of its files are vislab's to replace is its record's to say
    (api/written.py); the earlier build's figures and tables go once this one's are written."""
    if folder.is_file():
        raise UserError(f"--out '{folder}' is a file: give a folder for the paper.")
    try:
        (folder / "figures").mkdir(parents=True, exist_ok=True)
        for scratch in (folder / "figures").glob(".tmp-*"):
            shutil.rmtree(scratch)
    except OSError as e:
        raise UserError(
            f"cannot write --out '{folder}': {e.strerror}. Choose a folder you can write to."
        ) from None


def _write_texts(
    plan: ReportPlan,
    settings: Settings,
    folder: Path,
    figures: list[PageFigure] | None,
    title: str | None,
    keep_main: bool,
    made_from: str,
) -> None:
    """tables.tex, tables.md, texts.tex, figures.tex of the drawn ``figures`` (None: none drawn, an
    earlier build's figures.tex kept, else one without figures written) and main.tex (unless
    ``keep_main``); ``settings``: what each row was (``paper_plan``'s); ``made_from``: the folders it
    was made from, as texts.tex names them (``texts.made_from``)."""
    figures_only, figure_cols = results_table(plan)
    readable = for_people(settings)  # a few settings as columns, more listed
    rows, cols = with_settings(figures_only, figure_cols, readable.columns, param_cell)
    seeded = plan_rows(plan) is not None
    rows_cited = cited(plan)
    caveats = caveats_by_source(reported_of(plan), rows_cited)  # reported otherwise than these runs
    srcs = sources(legend(reported_of(plan), list(rows_cited)), caveats)
    data = plan_datasets(plan, figures_only)
    fitted = fitted_rows(plan.complete, plan_rows(plan))  # a caption says what their parameters are
    trained = trainable_params_note(plan.complete, plan_rows(plan))  # a frozen backbone's
    lead = " ".join(p for p in cells_notes(readable.columns) if p)  # the first table's n/a, -, code
    tables = parts(rows, cols, seeded, data, readable.columns.keys, fitted, trained, lead)
    named = dict(zip([r["run"] for r in figures_only], data))
    tables += per_class_part(plan.complete, plan_rows(plan), named)
    line = data_line(plan.complete or plan.table, own_splits(plan), plan.configs)
    made = _made(plan)
    # the data used and how the runs were made: said once, in texts.tex (and atop tables.md); under each
    # table (a table copied alone keeps it) where to find them and the runs left out
    away = database_note(plan.study, plan.elsewhere, plan.folder) if plan.elsewhere else ""
    under = " ".join(p for p in (_left_out(plan), away) if p)
    note = " ".join(p for p in (line, made, under) if p)
    verdicts = plan_verdicts(plan)
    sentences = {g: [v.sentence() for v in vs] for g, vs in verdicts.items()}
    listed = readable.listed
    atomic_write_text(folder / "tables.tex", latex_tables(tables, srcs, under, listed, SEE_TEXTS))
    atomic_write_text(folder / "tables.md", markdown_tables(tables, srcs, note, sentences, listed))
    if figures is not None or not (folder / "figures.tex").is_file():
        atomic_write_text(folder / "figures.tex", figures_tex(figures or [], plan.runs))
    # what main.tex says of the runs, in a file of its own that each build rewrites: a main.tex the user
    # edited (kept) inputs it, and so says what the tables say
    search = search_text(plan.folder, plan.study)  # a sweep's: what it searched
    intro = [search, line, made, SPREAD_NOTE if seeded else "", generated(made_from)]
    _write_said(plan, folder, intro, latex_verdicts(verdicts, COMPARE[pairing(plan)]))
    if not keep_main:
        atomic_write_text(
            folder / "main.tex", main_tex(title or titled(_heading(plan), plan.table))
        )


def _write_said(plan: ReportPlan, folder: Path, intro: list[str], verdicts: str) -> None:
    """texts.tex (the ``intro`` paragraphs, the ``verdicts`` section and the notes in brief) and notes.md
    (the notes in full: ``paper_folder.notes``)."""
    notes = paper_notes(plan)
    atomic_write_text(
        folder / f"{TEXTS}.tex", texts_tex(intro, verdicts, [brief(n) for n in notes])
    )
    write_notes(folder, notes)


def _made(plan: ReportPlan) -> str:
    """How the runs were made: the suite's command-line changes and the checkpoint of the test figures
    (``provenance_of``), then the training settings they share and those that differ (``recipe_sentence``)."""
    return " ".join(
        p for p in (provenance_of(plan), recipe_sentence(plan.configs, plan.complete)) if p
    )


def _left_out(plan: ReportPlan) -> str:
    """The sentence under each table naming the runs whose summary.json could not be read ("" if none)."""
    if not plan.left_out:
        return ""
    return (
        f"Not in these tables: {', '.join(plan.left_out)}, whose summary.json could not be read (resuming "
        f"a run writes it again: vislab train --resume RUN_DIR)."
    )


def _heading(plan: ReportPlan) -> str:
    if plan.suite is not None:
        return f"Suite {plan.suite.name or plan.folder.name}"
    return f"Run {plan.folder.name}" if plan.one_run else "Runs"
