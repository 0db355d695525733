"""How the numbers of a table were made, said in one line: the command-line changes to a suite's config
(suite.json's ``overrides``: ``--data``, ``--epochs``, ``--set``) and the checkpoint the test figures come
from (each run's ``train.select_metric``, in its config.yaml). results.md, report.html and the paper's
tables.md, tables.tex and main.tex all print :func:`provenance_line` (with the CPU thread counts, where
the runs trained with different ones); the paper adds how the runs trained
(:func:`recipe_sentence`: the optimizer, learning rate, batch size, epochs, ... they share)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from vislab.config import RESULT_NEUTRAL_KEYS, Config
from vislab.config.build import setting, stored_tree
from vislab.config.notes import augmentations_on
from vislab.config.unread import unread_setting
from vislab.errors import ConfigError
from vislab.experiments.records import SuiteInfo, SweepInfo
from vislab.experiments.results.for_people import setting_text
from vislab.experiments.results.seed_rows import seeds_differing
from vislab.experiments.results.settings import _sides, differing_settings, flat_settings
from vislab.training.summary import RunSummary
from vislab.words import and_list

FITTED = "fit_arrays"  # summary.json's trained_by of a model fitted once on arrays (majority, svm)


def made_info(folder: Path) -> SuiteInfo | SweepInfo:
    """What says how the runs of ``folder`` were made: its suite.json, or a sweep stage's sweep.json (an
    empty :class:`SweepInfo` when neither is there or readable)."""
    suite = SuiteInfo.read(folder)
    return suite if suite != SuiteInfo() else SweepInfo.read(folder)


def swept_metric(folder: Path) -> str | None:
    """The metric a sweep stage ``folder``'s trials were chosen by (its sweep.json's), None for any other
    folder."""
    info = made_info(folder)
    return info.metric if isinstance(info, SweepInfo) else None


def select_metrics(
    run_dirs: dict[str, Path], configs: dict[str, Config] | None = None
) -> dict[str, str]:
    """Run → the ``train.select_metric`` its config.yaml records (runs without a readable one left out).
    ``configs``: run → its config.yaml already read (a report's); a run not in it has its file read here."""
    out = {}
    for name, run_dir in run_dirs.items():
        if configs and name in configs:
            train = configs[name].train
            # given in the file: a default the validated config fills in is no record
            if "select_metric" in train.model_fields_set:
                out[name] = train.select_metric
            continue
        try:
            metric = setting(stored_tree(run_dir), "train.select_metric")
        except ConfigError:
            continue
        if metric:
            out[name] = str(metric)
    return out


def changes_sentence(
    info: SuiteInfo | SweepInfo | None, otherwise: Mapping[str, str] | None = None
) -> str:
    """What the command line changed in a suite's config (suite.json: ``name``, ``overrides``) or a sweep's
    base config (sweep.json: ``study``, ``overrides``); the keys that leave results alone
    (config.RESULT_NEUTRAL_KEYS: data.root, train.device, ...) named apart, without their values (a local
    path); and the suite's rows whose seeds' configs differ in more than their seed (``otherwise``: row →
    which runs differ in what, ``seed_rows.seeds_differing``): not all made with the suite's config. ""
    when ``info`` records no overrides."""
    if info is None or info.overrides is None:
        return ""
    said = _overrides_sentence(info, whose="vislab suite given " if otherwise else "")
    if not otherwise:
        return said
    rows = "; ".join(f"{differ}, though seeds of {row}" for row, differ in otherwise.items())
    return (
        f"{said[:-1]}, but not all: {rows} — trained on since with other settings (vislab train "
        f"--resume RUN with --epochs or --set), so each is a row of its own."
    )


def _overrides_sentence(info: SuiteInfo | SweepInfo, whose: str = "") -> str:
    """:func:`changes_sentence` of ``info``'s overrides alone; ``whose``: what had no command-line
    changes, where not all runs are as made."""
    sweep = isinstance(info, SweepInfo)
    name = info.study if isinstance(info, SweepInfo) else info.name
    kind, config = ("sweep", "base config") if sweep else ("suite", "config")
    made = (
        f"{'Trials' if sweep else 'Runs'} made with {f'{kind} {name}' if name else f'the {kind}'}'s"
    )
    sets = [str(s) for s in info.overrides]
    neutral = [s for s in sets if s.split("=", 1)[0].strip().startswith(RESULT_NEUTRAL_KEYS)]
    changed = [s for s in sets if s not in neutral]
    if not sets:
        return f"{made} {config} as its file gives it ({whose}no command-line changes)."
    what = ", ".join(changed) if changed else "nothing that changes results"
    # their keys alone: a folder's path is the user's machine, not the paper's business
    keys = dict.fromkeys(s.split("=", 1)[0].strip() for s in neutral)
    where = f" (and, leaving results alone, {', '.join(keys)})" if neutral else ""
    return f"{made} {config}, changed on the command line: {what}{where}."


def checkpoint_sentence(select: dict[str, str], fitted: Sequence[str] = ()) -> str:
    """Which checkpoint the test figures come from: best.pt, the epoch with the best select metric (each
    run's, ``select``: run → metric); ``fitted`` runs have one checkpoint, chosen from nothing."""
    by_metric: dict[str, list[str]] = {}
    for name, metric in select.items():
        if name not in fitted:
            by_metric.setdefault(metric, []).append(name)
    which = (
        next(iter(by_metric))
        if len(by_metric) == 1
        else "; ".join(f"{m} for {', '.join(names)}" for m, names in by_metric.items())
    )
    parts = [f"the checkpoint with the best {which} (best.pt)"] if by_metric else []
    parts += [f"{', '.join(fitted)}: fitted once, one checkpoint"] if fitted else []
    return f"Test figures from {'; '.join(parts)}." if parts else ""


def provenance_line(
    info: SuiteInfo | SweepInfo | None,
    summaries: Mapping[str, RunSummary],
    run_dirs: dict[str, Path],
    rows: dict[str, list[str]] | None = None,
    configs: dict[str, Config] | None = None,
) -> str:
    """The one line saying how the table's runs (``summaries``, in ``run_dirs``) were made: the suite's
    or sweep's command-line changes (``info``: its suite.json or sweep.json; None: neither) and the
    checkpoint of the test figures; a suite's rows whose seeds differ in more than their seed named
    (:func:`changes_sentence`). ``rows`` (row → its seeds' runs) names rows instead of each seed's run;
    ``configs``: as :func:`select_metrics`."""
    row_of = {run: row for row, runs in (rows or {}).items() for run in runs}
    select: dict[str, str] = {}
    dirs = {n: run_dirs[n] for n in summaries if n in run_dirs}
    for run, metric in select_metrics(dirs, configs).items():
        select.setdefault(row_of.get(run, run), metric)
    otherwise = None
    if isinstance(info, SuiteInfo) and info.rows:  # its seeds trained alike, as the tables check
        otherwise = seeds_differing(info.rows, run_dirs, configs, among=summaries)
    fitted = fitted_rows(summaries, rows)
    parts = (
        changes_sentence(info, otherwise),
        checkpoint_sentence(select, fitted),
        threads_sentence(summaries),
    )
    return " ".join(p for p in parts if p)


def threads_sentence(summaries: Mapping[str, RunSummary]) -> str:
    """Where the CPU runs of ``summaries`` trained with different thread counts (summary.json's
    ``threads``, and ``threads_resumed``: the other counts resumes trained with): their float sums round
    differently. "" where they agree or do not say (runs older than the record, GPU runs)."""
    counts: set[int] = set()
    for s in summaries.values():
        if not str(s.device or "").startswith("cpu"):
            continue
        later = s.get("threads_resumed")
        for n in [s.get("threads"), *(later if isinstance(later, list) else [])]:
            if isinstance(n, int) and not isinstance(n, bool):
                counts.add(n)
    if len(counts) < 2:
        return ""
    return (
        f"Trained with {and_list([str(n) for n in sorted(counts)])} CPU threads: float sums round "
        f"differently, so "
        f"results can differ slightly (set train.threads to the same value for bit-identical runs)."
    )


def fitted_rows(
    summaries: Mapping[str, RunSummary], rows: dict[str, list[str]] | None = None
) -> list[str]:
    """The table's rows of a model fitted once (:data:`FITTED`: majority, svm), each once; ``rows`` (row
    → its seeds' runs) names rows instead of each seed's run."""
    row_of = {run: row for row, runs in (rows or {}).items() for run in runs}
    fitted = [row_of.get(n, n) for n, s in summaries.items() if s.trained_by == FITTED]
    return list(dict.fromkeys(fitted))


# what the parameters column counts of a fitted baseline, as `vislab model info` explains it
FITTED_PARAMS = (
    "the values the model stores, held as buffers (majority: its class priors; svm: its support "
    "vectors and their coefficients), set by its fit, not by gradient descent, as vislab model info "
    "counts them"
)


def fitted_params_note(fitted: Sequence[str]) -> str:
    """Under a table with a parameters column: what it counts of the ``fitted`` rows (:func:`fitted_rows`,
    :data:`FITTED_PARAMS`), lower-case, without a full stop; "" without one."""
    if not fitted:
        return ""
    return f"parameters of {', '.join(fitted)} (fitted once): {FITTED_PARAMS}"


def trainable_params_note(
    summaries: Mapping[str, RunSummary], rows: dict[str, list[str]] | None = None
) -> str:
    """Under a table with a parameters column: the rows whose steps trained fewer parameters than the
    model has (summary.json's trainable_params: a frozen backbone, train.freeze), each as "trained of
    total" (``rows``: a row's first seed that says); lower-case, without a full stop; "" when none."""
    row_of = {run: row for row, runs in (rows or {}).items() for run in runs}
    found: dict[str, str] = {}
    for name, s in summaries.items():
        row, trained, total = row_of.get(name, name), s.trainable_params, s.params
        if row not in found and trained is not None and total is not None and trained != total:
            found[row] = f"{row} {trained:,} of {total:,}"
    if not found:
        return ""
    return (
        "the parameters column counts every parameter of the model; those its steps trained (the rest "
        f"frozen, as train.freeze does): {', '.join(found.values())}"
    )


# (dotted key, words): the settings that say how a run trained, as the paper states them
RECIPE = (
    ("optim.name", "optimizer"),
    ("optim.lr", "learning rate"),
    ("optim.momentum", "momentum"),
    ("optim.weight_decay", "weight decay"),
    ("train.batch_size", "batch size"),
    ("train.epochs", "epochs"),
    ("schedule.name", "schedule"),
    ("data.normalize", "normalization"),
)
AUGMENTATION = "augmentation"


def _other_differing(
    configs: Mapping[str, Config], summaries: Mapping[str, RunSummary]
) -> list[str]:
    """The settings outside :data:`RECIPE` and augmentation that differ among the runs (a sweep's
    ``model.dropout``), by their keys, as the table's settings columns find them; of runs of different
    models, no model option (each model has its own); seeds are said apart."""
    runs = [
        (flat_settings(cfg.to_dict()), summaries[name].trained_by or "optimizer")
        for name, cfg in configs.items()
        if name in summaries
    ]
    said = {key for key, _ in RECIPE}
    keys = list(dict.fromkeys(k for row in differing_settings(runs) for k in row))
    if len({flat.get("model.name") for flat, _ in runs}) > 1:  # each model's options are its own
        keys = [k for k in keys if not k.startswith("model.")]
    return [k for k in keys if k not in said and not k.startswith("augment.") and "seed" not in k]


def recipe_sentence(configs: Mapping[str, Config], summaries: Mapping[str, RunSummary]) -> str:
    """How the runs of ``summaries`` trained (their ``configs``: run → config.yaml read): each setting of
    :data:`RECIPE`, and whether they were augmented, said once where every run that reads it has the
    same value, else named as differing per run (the table's settings give each run's). Each run's
    values are those the tables compare (``settings._sides``): a setting it never reads is left out (the
    optimizer of a fitted baseline, momentum with adam), one that amounts to a value is that value
    (optim.name=sgd of mlp-scratch's own step). "" without a config."""
    values: dict[str, list[str]] = {words: [] for _, words in (*RECIPE, ("", AUGMENTATION))}
    for name, cfg in configs.items():
        if name not in summaries:
            continue
        trained_by = summaries[name].trained_by or "optimizer"
        compared = _sides(flat_settings(cfg.to_dict()), trained_by).compared
        for key, words in RECIPE:
            if key in compared:
                values[words].append(setting_text(compared[key]))
        if not unread_setting("augment.p", trained_by):  # a fitted baseline is never augmented
            on = [k.removeprefix("augment.").removesuffix(".p") for k in augmentations_on(cfg)]
            values[AUGMENTATION].append(f"on ({', '.join(on)})" if on else "off")
    shared = [f"{words} {vs[0]}" for words, vs in values.items() if vs and len(set(vs)) == 1]
    differ = [words for words, vs in values.items() if len(set(vs)) > 1]
    differ += _other_differing(configs, summaries)
    if not shared and not differ:
        return ""
    several = len([n for n in configs if n in summaries]) > 1
    every = ", the same in every run that uses them" if several else ""
    said = f"Training settings{every}: {', '.join(shared)}." if shared else ""
    if differ:
        said += f" Set per run (the table's settings give each run's): {', '.join(differ)}."
    return said.strip()
