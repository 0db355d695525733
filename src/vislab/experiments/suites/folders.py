"""Where a planned run's folder comes from when the suite's folder holds it otherwise: a run trained for
another number of epochs is kept beside (``make_room``), a run trained before the suite had seeds
becomes its seed 0 (``seed_zero_of_before``), and a run that diverged with other settings is deleted, to
train anew (``start_anew``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import yaml

from vislab.config.build import stored_tree
from vislab.errors import UserError
from vislab.experiments.suites.plan import PlannedRun, kept_back, plan_run, seed_zero_before
from vislab.experiments.suites.spec import Suite
from vislab.training.rundir import RunDir


def make_room(p: PlannedRun, log: Callable[[str], None]) -> PlannedRun:
    """``p.run_dir`` holds this run trained (or started) for another number of epochs: keep that run beside
    it as ``<run>.epochs-<E>`` and plan the one asked for — back from the folder an earlier switch kept,
    when one holds it, else trained anew. A finished run is never overwritten, nor called failed."""
    try:
        RunDir(p.run_dir).check_free()  # not while a live process writes it
        old = stored_tree(p.run_dir)["train"]["epochs"]
        new = p.config.train.epochs
        aside = _free_name(p.run_dir.with_name(f"{p.run_dir.name}.epochs-{old}"))
        p.run_dir.rename(aside)
    except (UserError, OSError, KeyError, TypeError, yaml.YAMLError) as e:
        return PlannedRun(p.name, p.run_dir, "failed", p.config, f"{p.message}; it stays: {e}")
    summary = RunDir(aside).read_summary()
    what = "finished" if summary is not None and summary.complete else "unfinished"
    said = f"{p.name}: {p.message}: that {what} run is kept as {aside}"
    if kept_back(p) is not None:
        kept = p.run_dir.with_name(f"{p.run_dir.name}.epochs-{new}")
        kept.rename(p.run_dir)
        log(f"{said}, and the {new}-epoch run kept as {kept} is back")
        return plan_run(p.name, p.run_dir, lambda: p.config)
    log(f"{said}; training it for {new} epochs")
    return PlannedRun(p.name, p.run_dir, "start", p.config)


def seed_zero_of_before(p: PlannedRun, suite: Suite, log: Callable[[str], None]) -> PlannedRun:
    """``p`` — or, for a seeded suite's ``<row>-s0`` still to start, the run the suite trained into
    ``<row>`` before it had seeds (the same config, seed + 0), when that folder holds it finished or
    resumable: moved to ``<row>-s0`` (summary.json's ``run`` too) and planned there, so that adding seeds
    trains only the new ones."""
    if seed_zero_before(p, suite) is None:
        return p  # no such run, another one, or nothing to keep: it stays where it is
    before = p.run_dir.with_name(suite.run_names()[p.name])
    try:
        RunDir(before).check_free()  # not while a live process writes it
        before.rename(p.run_dir)
    except (UserError, OSError) as e:
        log(f"{p.name}: {before} holds it (trained before without seeds), but it stays there ({e})")
        return p
    _rename_in_summary(p.run_dir)
    log(f"{p.name}: {before} holds this run, trained before without seeds: moved to {p.run_dir}")
    return plan_run(p.name, p.run_dir, lambda: p.config)


def start_anew(p: PlannedRun, log: Callable[[str], None]) -> PlannedRun:
    """``p``; for a run planned to start where its folder holds it diverged with other settings
    (plan.py ``_diverged``), that folder moved aside first to ``<run>.diverged`` (``-2``, ``-3``… where
    taken), and said — or, where it cannot be, ``failed`` saying why (a live process holds it; the run's
    ``train.init_from`` names a checkpoint inside it, which moving would lose)."""
    if p.action != "start" or not p.message or not p.run_dir.is_dir():
        return p
    source = p.config.train.init_from if p.config is not None else None
    if source and p.run_dir.resolve() in (Path(source).resolve(), *Path(source).resolve().parents):
        why = (
            f"its train.init_from={source} is inside that folder: copy the checkpoint elsewhere, point "
            f"train.init_from at the copy and run the suite again"
        )
        return PlannedRun(p.name, p.run_dir, "failed", p.config, f"{p.message}, but {why}")
    aside = next(
        d
        for i in range(1, 1000)
        if not (
            d := p.run_dir.with_name(f"{p.run_dir.name}.diverged{f'-{i}' if i > 1 else ''}")
        ).exists()
    )
    try:
        RunDir(p.run_dir).check_free()  # not while a live process writes it
        p.run_dir.rename(aside)
    except (UserError, OSError) as e:
        return PlannedRun(p.name, p.run_dir, "failed", p.config, f"{p.message}, but it stays: {e}")
    log(f"{p.name}: {p.message}: the diverged run moved to {aside}")
    return p


def _rename_in_summary(run_dir: Path) -> None:
    """summary.json's ``run`` (the run folder's name) after the folder was renamed ``run_dir``."""
    rd = RunDir(run_dir)
    summary = rd.read_summary()
    if summary is not None and summary.run is not None:
        rd.write_summary(summary.replace(run=run_dir.name))


def _free_name(path: Path) -> Path:
    """``path``, or ``path-1``, ``path-2``, ... : the first that does not exist."""
    n = 0
    while (candidate := path.with_name(f"{path.name}-{n}" if n else path.name)).exists():
        n += 1
    return candidate
