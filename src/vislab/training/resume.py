"""Where a run goes on from: its ``last.pt`` opened for ``--resume`` (by as many processes as trained it;
never a sweep's pruned trial; with more epochs: ``extend``). The checkpoints the loop writes are
``training/saving.py``'s."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

from vislab.config import Config, build_config, config_differences
from vislab.config.build import setting
from vislab.config.differences import with_neutral_settings
from vislab.errors import DataError, Note, UserError, show_note
from vislab.not_a_run import run_of_file, runs_folder_note
from vislab.training.checkpoint import load_checkpoint
from vislab.training.record import Checkpoint, Resume
from vislab.training.rundir import RunDir
from vislab.training.runtime import threads_change, world_size
from vislab.training.setup import Training
from vislab.training.state import LoopState, by_min_delta
from vislab.training.summary import RunSummary


def open_resume(run: RunDir, world: int | None = None) -> Checkpoint:
    """The run's ``last.pt`` (:func:`resumable`), to be trained on by ``world`` processes (None: this
    process's job, :func:`~vislab.training.runtime.world_size`): UserError unless as many as trained it
    (where last.pt records them: not before vislab did)."""
    ckpt = resumable(run)
    _check_world(run.path, ckpt.resume.world, world_size() if world is None else world)
    return ckpt


def resumable(run: RunDir) -> Checkpoint:
    """The run's ``last.pt``, checked to be a resumable vislab checkpoint of a run that is not a sweep's
    pruned trial. The errors name the fix for both callers: the command's options /
    :func:`vislab.train`'s arguments."""
    last = run.ckpt_dir / "last.pt"
    if why := _no_run_folder(run.path):
        raise UserError(why)
    if not run.path.is_dir():
        raise UserError(
            f"nothing to resume: '{run.path}' does not exist (a typo, or the run never started?). "
            f"Start the run as a new one: {_anew(run.path)}."
        )
    if not last.is_file():  # e.g. killed before its first checkpoint: nothing to continue
        raise UserError(
            f"nothing to resume in '{run.path}': no checkpoints/last.pt (the run never finished a "
            f"checkpoint). Start it again: {_anew(run.path)}."
        )
    try:
        ckpt = load_checkpoint(last, fix="")
    except DataError as e:
        raise DataError(f"cannot resume '{run.path}': {e} {_ways_on(run)}") from None
    if ckpt.resume is None:
        raise DataError(
            f"cannot resume '{run.path}': '{last}' is not a resumable vislab checkpoint (no "
            f"config/state/history). {_ways_on(run)}"
        )
    if (run.read_summary() or RunSummary()).status == "pruned":
        raise UserError(_pruned(run.path, ckpt.resume.loop.epoch))
    _check_own(run, ckpt)
    return ckpt


def _no_run_folder(path: Path) -> str | None:
    """Why ``path``, which exists, holds no run to resume: a file (a run's file: that run named), a folder
    of runs (:func:`runs_folder_note`) or another folder without a run's config.yaml or last.pt; None otherwise (an
    empty folder too: a run stopped before it wrote anything)."""
    if path.is_file():
        run = run_of_file(path)
        if run is not None:
            return (
                f"nothing to resume: '{path}' is a file of run '{run}'. Resume the run's folder: "
                f"--resume {run} / vislab.train(out='{run}', resume=True)."
            )
        return (
            f"nothing to resume: '{path}' is a file, not a run's folder. Give the folder a run was "
            f"trained into: --resume DIR / vislab.train(out=DIR, resume=True)."
        )
    if not path.is_dir() or any(
        (path / f).is_file() for f in ("config.yaml", "checkpoints/last.pt")
    ):
        return None  # a run's folder: last.pt holds its config too
    if why := runs_folder_note(path):
        return why
    held = sorted(p.name for p in path.iterdir())
    if not held:  # a run that stopped before it wrote anything: started again there
        return None
    shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
    return (
        f"nothing to resume in '{path}': it is no vislab run's folder (no config.yaml; it holds "
        f"{shown}). Give the folder a run was trained into: --resume DIR / "
        f"vislab.train(out=DIR, resume=True)."
    )


def _check_own(run: RunDir, ckpt: Checkpoint) -> None:
    """UserError when ``run``'s last.pt (``ckpt``) is another run's (:func:`_not_its_own`): a resume would
    train that run on in this folder and write its records over this run's."""
    why = _not_its_own(run, ckpt)
    if why is None:
        return
    last, config = run.ckpt_dir / "last.pt", run.path / "config.yaml"
    m, loop = ckpt.record.model, ckpt.resume.loop
    data = setting(ckpt.record.config, "data.name", "?")
    plural = "" if loop.epoch == 1 else "s"
    raise UserError(
        f"cannot resume '{run.path}': its checkpoints/last.pt is not this run's own ({why}). It holds "
        f"another run — model {m.name} on {data}, {loop.epoch} epoch{plural} trained — which a resume "
        f"would train on here, writing its config, metrics and best.pt over this run's config.yaml, "
        f"metrics.jsonl, summary.json and checkpoints/best.pt; nothing was changed. Put this run's own "
        f"last.pt back and resume again; or train this run again from the start, which deletes it: "
        f"vislab train --config {config} --out {run.path} --overwrite / vislab.train({str(config)!r}, "
        f"out={str(run.path)!r}, overwrite=True); or start a new run from that checkpoint's weights "
        f"(a config of model {m.name}): --init-from {last} / train__init_from={str(last)!r}."
    )


def _not_its_own(run: RunDir, ckpt: Checkpoint) -> str | None:
    """Why ``run``'s last.pt (``ckpt``) is not the checkpoint of the run the folder records, or None.

    The records the run wrote and a user does not edit decide: an epoch whose training loss in
    metrics.jsonl is not the one in last.pt's history (the rows are written from that history, so a
    run's own agree on every epoch both hold), or a summary.json naming another model. config.yaml
    alone does not: it may have been edited (:func:`config_edits`); where it names another model too,
    that is said. None where they agree or there is nothing to compare."""
    with warnings.catch_warnings():  # a row cut short: the resume's own reading notes it
        warnings.simplefilter("ignore", Note)
        try:
            rows = {r.get("epoch"): r for r in run.read_metrics()}
        except UserError:  # unreadable: the resume writes it anew from last.pt
            rows = {}
    why = []
    for mine in ckpt.resume.history:
        row = rows.get(mine.epoch)
        if row is not None and not _same(mine.train_loss, row.get("train_loss")):
            why.append(
                f"metrics.jsonl records epoch {mine.epoch}'s train loss as "
                f"{_shown(row.get('train_loss'))}, last.pt's history as {_shown(mine.train_loss)}"
            )
            break
    name, named = ckpt.record.model.name, (run.read_summary() or RunSummary()).model
    if named is not None and named != name:
        why.append(f"summary.json names model {named}, last.pt holds model {name}")
    if why:
        try:
            saved = run.load_config()
        except UserError:
            saved = None
        if saved is not None and saved.model.name != name:
            why.append(f"config.yaml names model {saved.model.name}")
    return "; ".join(why) or None


def _same(a: object, b: object) -> bool:
    """Whether two recorded losses are the same number (one not finite: written as null), or not numbers."""
    if not all(isinstance(v, (int, float)) or v is None for v in (a, b)):
        return True
    a, b = (None if v is None or not math.isfinite(v) else v for v in (a, b))
    return a == b if a is None or b is None else math.isclose(a, b, rel_tol=1e-6)


def _shown(loss: object) -> str:
    return f"{loss:.6g}" if isinstance(loss, (int, float)) else "null"


def resumed_config(ckpt: Checkpoint, given: Config | None, path: Path) -> Config:
    """The config a resume of run ``path`` trains by (and config.yaml records): its last.pt's (``ckpt``),
    with the result-neutral settings (``RESULT_NEUTRAL_KEYS``: data.root, train.device, track.*, ...) of
    ``given``, the config it is resumed with — a command's options or a call's arguments over the saved
    config, a suite's or sweep's current config; None: last.pt's as it is."""
    saved = ckpt.record.config
    tree = saved if given is None else with_neutral_settings(saved, given.to_dict())
    return build_config(tree, source=str(path / "checkpoints" / "last.pt"))


def _ways_on(run: RunDir) -> str:
    """What can be done with a run whose last.pt cannot be resumed: use its best.pt where that loads
    (evaluate and predict with it, or start a new run from it), or train the run again."""
    config = run.path / "config.yaml"
    again = (
        f"train the run again from the start, which deletes it: vislab train --config {config} --out "
        f"{run.path} --overwrite / vislab.train({str(config)!r}, out={str(run.path)!r}, overwrite=True)"
    )
    best = run.ckpt_dir / "best.pt"
    try:
        epoch = load_checkpoint(best).epoch if best.is_file() else None
    except DataError:
        return f"Its checkpoints/best.pt cannot be read either: {again}."
    if not best.is_file():
        return f"It has no checkpoints/best.pt either: {again}."
    return (
        f"Its checkpoints/best.pt{f' (epoch {epoch})' if epoch else ''} is intact: evaluating and "
        f"predicting use it (vislab eval {run.path} / vislab.load_run({str(run.path)!r})); to train "
        f"on from its weights, start a new run from it: --init-from {best} / "
        f"train__init_from={str(best)!r}; or {again}."
    )


def _pruned(path: Path, epoch: int) -> str:
    """Why a sweep's pruned trial is not resumed, and how to train its config on."""
    config = path / "config.yaml"
    return (
        f"'{path}' is a sweep trial that the sweep's pruner stopped after epoch {epoch} (its "
        f"summary.json says pruned): resumed, it would train on outside the sweep, whose results "
        f"still count it as pruned. Train a new run with its config instead: vislab train --config "
        f"{config} --out NEW / vislab.train({str(config)!r}, out='NEW')."
    )


def _check_world(path: Path, trained: int | None, world: int) -> None:
    """UserError when ``world`` processes would go on with a run ``trained`` by another number."""
    if trained is None or trained == world:
        return
    raise UserError(
        f"cannot resume '{path}' with {_processes(world)}: it trained with {_processes(trained)}. "
        f"Each step's batch is train.batch_size per process and each process trains its share of "
        f"an epoch, so the steps, the learning-rate schedule and the result would change. Resume it "
        f"with {_processes(trained)}: {_resume_with(path, trained)}; or start a new run from its "
        f"weights: {_init_from(path)}."
    )


def _processes(n: int) -> str:
    return "one process" if n == 1 else f"{n} processes"


def _resume_with(path: Path, world: int) -> str:
    """How to resume ``path`` with ``world`` processes, in the command's and the API's words."""
    if world == 1:
        return f"vislab train --resume {path} (no --nproc) / vislab.train(out={str(path)!r}, resume=True)"
    return (
        f"vislab train --resume {path} --nproc {world} (or torchrun --nproc-per-node {world} -m vislab "
        f"train --resume {path}; a script calling vislab.train(out={str(path)!r}, resume=True): run "
        f"it under torchrun --nproc-per-node {world})"
    )


def _anew(path: Path) -> str:
    """How to start a run into ``path`` rather than resume it, in the command's and the API's words."""
    return (
        f"its command with --out {path}, without --resume / vislab.train(..., out={str(path)!r}) "
        f"without resume=True"
    )


def _init_from(path: Path) -> str:
    """``train.init_from`` from ``path``, in the command's and the API's words."""
    return f"--init-from {path} / train__init_from={str(path)!r}"


def before_resume(
    run: RunDir, cfg: Config, ckpt: Checkpoint
) -> tuple[list[str], tuple[str, RunSummary] | None]:
    """What a resume of ``run`` (its ``ckpt``, for ``cfg``'s epochs) notes first, and, when there is
    nothing left to train, why and the run's summary (None: train on), each of its records read once.
    Notes: settings edited by hand in config.yaml (:func:`config_edits`), and another CPU thread count
    than the run's so far (:func:`~vislab.training.runtime.threads_change`; not when nothing is left to
    train: :func:`nothing_to_train`)."""
    try:
        saved = run.load_config()
    except UserError:  # ConfigError: unreadable or invalid; the resume writes it anew
        saved = None
    edits = config_edits(run.path, ckpt.record.config, saved)
    done = nothing_to_train(run, cfg, ckpt.resume) if saved is not None else None
    tc, used = cfg.train, ckpt.resume.loop.threads
    threads = None if done else threads_change(run.path, tc.threads, tc.device, used)
    return [note for note in (edits, threads) if note], done


def config_edits(path: Path, recorded: dict, saved: Config | None) -> str | None:
    """A note when run ``path``'s config.yaml (``saved``; None: unreadable) was edited since the run wrote
    it — the settings whose values differ from those last.pt records (``recorded``), as ``--set`` on a
    resume would be refused for: the resume trains by last.pt's and writes config.yaml from it again."""
    edited = config_differences(recorded, saved.to_dict()) if saved is not None else []
    if not edited:
        return None
    shown = "; ".join(edited[:4]) + (" …" if len(edited) > 4 else "")
    return (
        f"'{path / 'config.yaml'}' was edited since the run wrote it ({shown}): a resume trains by "
        f"the config its last.pt holds and writes config.yaml from it again, dropping the edits. To train "
        f"with other settings, start a new run from its weights: --init-from {path} (Python: "
        f"train__init_from={str(path)!r})."
    )


def nothing_to_train(run: RunDir, cfg: Config, resume: Resume) -> tuple[str, RunSummary] | None:
    """Why resuming ``run`` (its last.pt's ``resume``, for ``cfg``'s epochs) has nothing to do, and its
    summary — every epoch trained (or stopped early), a complete summary.json, metrics.jsonl with every
    row of its history and nothing else: it would only score the run again and rewrite them. None when
    there is something to do (a damaged record: the resume writes it anew, as
    :meth:`RunDir.rewrite_fix` says)."""
    loop, tc = resume.loop, cfg.train
    if loop.epoch < tc.epochs and not loop.stopped_early:
        return None
    try:
        summary, rows = run.load_summary(), run.read_metrics()
    except UserError:
        return None
    if (
        summary is None
        or not summary.complete
        or not _lines(run.path / "metrics.jsonl") == len(rows) == len(resume.history)
    ):
        return None
    if loop.epoch < tc.epochs:  # train.early_stop's patience ran out: extending it would stop again
        how = f"it stopped early {loop.early_stop(tc.stop_metric, tc.early_stop, tc.min_delta)}"
        then = "Score it again"
    elif cfg.schedule.name in SPREAD_SCHEDULES:  # extend refuses it
        how = f"{loop.epoch} of {tc.epochs} epochs trained, schedule.name={cfg.schedule.name}"
        then = "Score it again"
    else:
        how = f"{loop.epoch} of {tc.epochs} epochs trained"
        then = "Train it on with --epochs N (Python: epochs=N), or score it again"
    return (
        f"nothing left to train: '{run.path}' is complete ({how}); its records are kept as they are. "
        f"{then} with `vislab eval {run.path}` / vislab.load_run(...).evaluate().",
        summary,
    )


def _lines(path: Path) -> int:
    """The lines of text of ``path`` (a cut last line counts): 0 when it is absent."""
    return sum(1 for line in path.read_text().splitlines() if line.strip()) if path.is_file() else 0


# schedules whose learning rates depend on train.epochs: a run of one cannot be trained on (extend)
SPREAD_SCHEDULES = ("cosine", "onecycle")


def extend(cfg: Config, epochs: int, loop: LoopState, path: Path) -> Config:
    """``cfg`` with ``train.epochs = epochs``, for a run whose loop is at ``loop``; UserError where the run
    stopped early (training on would keep its patience count: it would stop again at the next evaluation
    that does not improve; a callback's StopTraining ended it for good), where the schedule's learning
    rates depend on the total (the epochs already trained would have had other rates) or nothing is left
    to train."""
    if epochs == cfg.train.epochs:
        return cfg
    if loop.stop_reason is not None:  # a callback's StopTraining: the run ended there for good
        raise UserError(
            f"cannot extend '{path}' to {epochs} epochs: it stopped early {loop.early_stop('', None)}, "
            f"by raising vislab.StopTraining; a resume trains nothing more. Start a new run from its "
            f"weights instead: {_init_from(path)}, with train.epochs={epochs}."
        )
    if loop.stopped_early:
        tc = cfg.train
        raise UserError(
            f"cannot extend '{path}' to {epochs} epochs: its train.early_stop patience ran out "
            f"{loop.early_stop(tc.stop_metric, tc.early_stop, tc.min_delta)}. Training on would keep "
            f"that count and stop again at the first evaluation that does not improve"
            f"{by_min_delta(tc.min_delta)}. Start a new run from its weights instead: "
            f"{_init_from(path)}, with train.epochs={epochs} (and a larger train.early_stop, or none)."
        )
    if cfg.schedule.name in SPREAD_SCHEDULES:
        raise UserError(
            f"cannot extend '{path}' to {epochs} epochs: its schedule.name={cfg.schedule.name} spreads "
            f"the learning rate over all {cfg.train.epochs} epochs, so the epochs already trained would "
            f"have had other rates with {epochs}. Start a new run with train.epochs={epochs} (or "
            f"{_init_from(path)} to start from its weights)."
        )
    if epochs <= loop.epoch:
        raise UserError(
            f"cannot extend '{path}' to {epochs} epochs: it has trained {loop.epoch} already. Give more "
            f"epochs than that."
        )
    return build_config(cfg.to_dict(), [f"train.epochs={epochs}"], source=f"--epochs {epochs}")


def forget_lost_best(t: Training) -> None:
    """A resumed run whose best.pt is gone (deleted or moved): say so up front, and forget the value it
    held, so that the next evaluation writes best.pt again — the best epoch from there on, which the
    run's scores are then of (summary.json's ``scored`` says which weights they are)."""
    loop, best = t.loop, t.run.ckpt_dir / "best.pt"
    if loop.best is None or best.is_file():
        return
    loop.best = None  # nothing to beat: the next evaluation is best.pt's (epoch_end)
    if loop.epoch < t.cfg.epochs and not loop.stopped_early:
        then = f"the best epoch from epoch {loop.epoch + 1} on is written there and scored"
    else:
        last = f"the run's last weights (epoch {loop.epoch}) are"
        if t.optim.ema:  # what scoring.load_scored scores: the average, as best.pt would hold
            last = f"the train.ema average of the run's last weights (epoch {loop.epoch}) is"
        then = f"nothing is left to train: {last} scored"
    if not t.dist.is_main:
        return
    show_note(
        f"'{best}' is missing (deleted or moved?): it held epoch {loop.best_epoch}, the best "
        f"{t.cfg.select_metric} so far, whose weights can no longer be scored; {then} "
        f"(summary.json's scored says which)."
    )
