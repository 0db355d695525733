"""A suite's dry run (``vislab suite ... --dry-run``): what running it would do to each run, seen from its
folder alone — nothing (done), resume (from which epoch), start, retrain, failed (a start that would fail
as it loads its weights too: :class:`StartChecks`), or busy (a live vislab process holds its folder) —,
with the settings results.md will show of it; nothing is moved, trained or written, and no lock is
taken."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from vislab.config import Config, config_notes
from vislab.config.unread import unread_setting
from vislab.data import load_splits
from vislab.data.input_spec import InputSpec
from vislab.data.preprocess import NormStats
from vislab.errors import UserError
from vislab.experiments.results.for_people import said_settings
from vislab.experiments.results.settings import differing_settings, flat_settings, row_sets
from vislab.experiments.suites.plan import (
    PlannedRun,
    check_plan,
    declared_trained_by,
    kept_back,
    not_with_these,
    seed_zero_before,
)
from vislab.experiments.suites.refusals import OPENS, in_use
from vislab.experiments.suites.spec import Suite
from vislab.models.hooks import ModelHooks
from vislab.models.registry import build_model, copies_weights
from vislab.training.finetune import init_from_run
from vislab.training.mirror_notes import mirror_notes
from vislab.training.resume import open_resume
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary
from vislab.training.writable import check_writable


@dataclass(frozen=True)
class Foreseen:
    """What running the suite would do to one run, seen from its folder alone (nothing moved or trained):
    ``action`` as :class:`PlannedRun`'s, or ``busy`` (a live vislab process holds the folder the run would
    open: the whole suite would be refused, :func:`refuse_busy`) or ``left out`` (see :func:`_foreseen`),
    ``said`` in words ("resume from epoch 3 of 5"), its ``config`` and ``settings``, those of its config
    that differ between the suite's runs (dotted key → value, as results.csv's columns), how its model
    trains (``trained_by``: "fit_arrays" for a fitted baseline, which has no epochs) and ``changed``: the
    settings its line says — what results.md will show of it and what its suite row sets
    (results/settings.py ``said_settings``)."""

    name: str
    action: str
    said: str
    config: Config
    settings: dict[str, Any]
    trained_by: str = "optimizer"
    changed: dict[str, Any] = field(default_factory=dict)


def foresee_suite(
    suite: Suite, out: Path, overrides: list[str] | tuple = (), only: Collection[str] | None = None
) -> list[Foreseen]:
    """What running ``suite`` into ``out`` would do to each run (``only``: to those runs; their settings
    still those that differ among all the suite's runs), checked as the runner checks it first
    (:func:`check_plan`, then that ``out`` can be written: the same errors) — and data that cannot be read,
    which the runner meets as the suite runs, named too —, but nothing is moved, trained, downloaded or
    written. A run the runner moves first — kept for another epoch count, or trained before the suite
    had seeds (suites/folders.py) — is planned where it lies."""
    plan = check_plan(suite, out, overrides, unread=True, only=only)
    check_writable(out, "the suite's runs")
    changed, how = changed_settings(plan), [_trained_by(p) for p in plan]
    sets = [_row_sets(suite, p, trained_by) for p, trained_by in zip(plan, how)]
    starts = StartChecks([p.run_dir for p in plan if p.action in OPENS])
    return [
        starts.foreseen(
            replace(_foreseen(p, suite, settings, only), trained_by=trained_by, changed=said)
        )
        for p, settings, trained_by, said in zip(plan, changed, how, said_settings(changed, sets))
        if only is None or p.name in only or p.action == "retrain"
    ]


class StartChecks:
    """What a run that starts anew meets as it sets up, beyond what :func:`check_plan` checks (its config,
    its data, its model built without weights): its model built with the weights it asks for
    (:func:`~vislab.models.registry.copies_weights`: resnet18's and timm's ``model.pretrained``,
    ``model.weights``; a builder looks for the file before it builds, so a missing one costs no model)
    and ``train.init_from``'s checkpoint loaded into it, on the CPU, as the run's set-up does
    (training/parts.py ``build_parts``) — each data section read once, nothing written. A
    ``train.init_from`` of a run the suite trains (``trained``: their folders) is not there yet: not read."""

    def __init__(self, trained: list[Path] = ()) -> None:
        self._inputs: dict[str, tuple[tuple[int, ...], int] | None] = {}
        self._trained = {folder.resolve() for folder in trained}

    def foreseen(self, f: Foreseen) -> Foreseen:
        """``f``, or, for a run that would start (or start over) and fail as it sets up, ``failed`` with
        the run's own error."""
        if f.action not in ("start", "retrain") or not (problem := self.mistake(f.config)):
            return f
        return replace(f, action="failed", said=f"{f.action}, which fails: {problem}")

    def mistake(self, cfg: Config) -> str:
        """Why a run of ``cfg`` would fail as its weights are loaded, or ""."""
        options = cfg.model.kwargs()
        source = self._init_from(cfg)
        if not (source or copies_weights(cfg.model.name, options)):
            return ""
        inputs = self._read(cfg)
        if inputs is None:  # data that cannot be read: check_plan says so (or the runner meets it)
            return ""
        try:
            with torch.random.fork_rng(devices=[]):
                model = build_model(cfg.model.name, *inputs, **options)
                if source:
                    init_from_run(model, source)
        except UserError as e:
            return str(e)
        except Exception as e:  # noqa: BLE001 - e.g. a user's model that raises as it is built
            return (
                f"building model {cfg.model.name} with its weights failed: {type(e).__name__}: {e}"
            )
        return ""

    def _init_from(self, cfg: Config) -> str | None:
        """``cfg``'s ``train.init_from`` to read; None without one, or for a run the suite trains."""
        source = cfg.train.init_from
        if not source:
            return None
        path = Path(source).resolve()
        return None if self._trained.intersection([path, *path.parents]) else source

    def _read(self, cfg: Config) -> tuple[tuple[int, ...], int] | None:
        """(the model's input shape, the number of classes) of ``cfg``'s data, or None where it cannot be
        read (never downloaded: a dry run writes nothing)."""
        key = cfg.data.model_dump_json() + cfg.augment.model_dump_json() + cfg.train.tta
        if key not in self._inputs:
            try:
                data = cfg.data.model_copy(update={"download": False})
                splits = load_splits(data, cfg.train.seed, notes=False)
                spec = InputSpec.build(
                    cfg.augment, splits.sample_shape, NormStats("none"), cfg.train.tta
                )
                self._inputs[key] = (spec.input_shape, splits.num_classes)
            except UserError:
                self._inputs[key] = None
        return self._inputs[key]


def _row_sets(suite: Suite, p: PlannedRun, trained_by: str) -> dict[str, Any]:
    """The settings of planned run ``p`` that its suite row sets (results/settings.py ``row_sets``)."""
    row = suite.run_names()[p.name]
    return row_sets(flat_settings(p.config.to_dict()), suite.runs[row] or {}, trained_by)


def _foreseen(
    p: PlannedRun, suite: Suite, settings: dict[str, Any], only: Collection[str] | None
) -> Foreseen:
    """:class:`Foreseen` of planned run ``p`` (its config checked: never None here); ``left out`` where
    ``only`` leaves out a run its folder holds trained with other settings (the tables leave it out)."""
    if only is not None and p.name not in only:
        return Foreseen(
            p.name, "left out", f"left out by --only: {not_with_these(p)}", p.config, settings
        )
    moved = seed_zero_before(p, suite)
    if moved is not None:
        return Foreseen(p.name, *_moved_said(moved), p.config, settings)
    if held := (in_use(p.run_dir) if p.action in OPENS else ""):  # the suite refuses (refuse_busy)
        said = f"busy, so the whole suite would be refused before anything is trained or written: {held}"
        return Foreseen(p.name, "busy", said, p.config, settings)
    back = kept_back(p) if p.action == "retrain" else None
    if back is not None:
        said = f"{_said(back)} ({p.message}: the run kept as {back.run_dir} comes back)"
        return Foreseen(p.name, back.action, said, p.config, settings)
    return Foreseen(p.name, p.action, _said(p), p.config, settings)


def _moved_said(moved: PlannedRun) -> tuple[str, str]:
    """(action, words) for the run a seeded suite's ``<row>-s0`` finds in ``<row>`` (:func:`seed_zero_before`):
    moved there and planned as it is — or, while a live vislab process holds that folder, left where it
    is and started anew (as the runner does)."""
    before = f"{moved.run_dir}, trained before the suite had seeds"
    if held := in_use(moved.run_dir):
        return "start", f"start ({before}, stays where it is: {held})"
    return moved.action, f"{_said(moved)} (moved from {before})"


def _said(p: PlannedRun) -> str:
    """What planned run ``p`` would do, in words."""
    if p.action == "resume":
        return _resume_said(p)
    if p.action == "retrain":
        return f"retrain ({p.message}: that run is kept beside it)"
    if p.action == "failed":
        return f"failed: {p.message}"
    if p.action == "start" and p.message:  # its folder holds a diverged run of other settings
        return f"start ({p.message})"
    return "already complete, skipped" if p.action == "done" else p.action


def _resume_said(p: PlannedRun) -> str:
    """How planned run ``p`` resumes ("resume from epoch 3 of 5"), read from its last.pt as resuming opens
    it (its error where it cannot: the run would fail); a run whose training ended is only evaluated."""
    try:
        loop = open_resume(RunDir(p.run_dir)).resume.loop
    except UserError as e:
        return f"resume, which fails: {e}"
    if loop.stopped_early or loop.epoch >= p.config.train.epochs:
        return f"resume: its training ended after epoch {loop.epoch}, so it is only evaluated"
    return f"resume from epoch {loop.epoch + 1} of {p.config.train.epochs}"


def changed_settings(plan: list[PlannedRun]) -> list[dict[str, Any]]:
    """Per planned run, its settings whose values differ among the runs, by the rule of the tables
    (results/settings.py ``differing_settings``). A run already in its folder is compared as its
    summary.json says its model trains (a fitted baseline reads no optim.*, schedule.*, augment.* or
    train.epochs); a run not started yet as its model's class declares it with its options
    (plan.py :func:`~vislab.experiments.suites.plan.declared_trained_by`)."""
    runs = [(flat_settings(p.config.to_dict()), _trained_by(p)) for p in plan]
    return differing_settings(runs)


def _trained_by(p: PlannedRun) -> str:
    """How planned run ``p``'s model trains: as its summary.json records it, else as its model declares."""
    recorded = (RunDir(p.run_dir).read_summary() or RunSummary()).trained_by
    return recorded or declared_trained_by(p.config.model.name, p.config.model.kwargs())


def foreseen_notes(foreseen: list[Foreseen]) -> list[str]:
    """The notes the runs that would train (start, resume, retrain) print as they start and that need no
    data: their configs' own (``config_notes``) and mirrored digits (``augment.hflip`` on digits or
    characters) — each distinct note once, as ``note (run, run): ...``. (The notes that need the data or
    the built model come as the runs start.)"""
    runs_of: dict[str, list[str]] = {}
    for f in foreseen:
        if f.action not in ("start", "resume", "retrain"):
            continue
        for note in [*config_notes(f.config), *_hflip_notes(f)]:
            runs_of.setdefault(note, []).append(f.name)
    return [f"note ({', '.join(runs)}): {note}" for note, runs in runs_of.items()]


def _hflip_notes(f: Foreseen) -> list[str]:
    """``mirror_notes`` of ``augment.hflip`` alone: for a model without flips of its own and without
    ``train.tta``, whose notes depend on the model's own flips (known once it is built: said as it starts)."""
    cfg = f.config
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"tta": "none"})})
    return mirror_notes(cfg, ModelHooks(), unread_setting("augment.hflip", f.trained_by))
