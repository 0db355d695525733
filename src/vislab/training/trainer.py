"""The trainer: config → data → model → epochs → run directory.

Read it top to bottom: ``train`` opens the run directory, ``set_up`` (training/setup.py) builds the
data, the network, the optimisation and the loop state once, then either ``fit_once`` (models fitted on
arrays: training/fitted.py) or ``fit_epochs``, whose loop is ``train_one_epoch`` →
``evaluate_and_checkpoint`` (training/epoch_end.py) → ``next_epoch`` → ``record``; ``finish_run`` scores
the best weights. What a model may ask of the loop is declared in ``vislab.models.hooks``. How a run ends
early (a signal, a NaN loss, the user's own model code raising: ``users_model``) is
``training/stopping.py``; the checkpoint it can resume from is kept.

Determinism: the seed fixes the split, the init, and — re-seeded at every epoch start — shuffling,
augmentation and dropout, so a CPU run is exactly repeatable and ``--resume`` (from an epoch
boundary or, after a signal, from the middle of an epoch with the saved RNG state) ends with the
same numbers as an uninterrupted run — on the same device, precision and CPU thread count: CPU ops
sum floats in an order that depends on the count (``train.threads``, else one per core; a suite's
``--jobs`` divides the cores), which ``set_up`` records in last.pt and summary.json (``threads``); a
resume under another count says its numbers then match only to float rounding (``runtime.threads_change``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from vislab.config import Config
from vislab.errors import RunExists, TrainingInterrupted, show_note
from vislab.models.trust import recorded_code
from vislab.training.accumulate import Window
from vislab.training.boundary_epochs import boundary_recorder
from vislab.training.checks import loop_notes
from vislab.training.divergence import check_finite, note_exploding_loss
from vislab.training.epoch_end import evaluate_and_checkpoint, evaluate_at_start
from vislab.training.fitted import fit_once
from vislab.training.history import EpochRow, to_rows
from vislab.training.model_checks import check_loss_has_grad
from vislab.training.optim import head_lr, set_lr
from vislab.training.parts import Network, Optimisation
from vislab.training.progress import Progress
from vislab.training.record import Checkpoint
from vislab.training.resume import (
    before_resume,
    extend,
    forget_lost_best,
    open_resume,
    resumed_config,
)
from vislab.training.rundir import RunDir, resume_command
from vislab.training.runtime import Distributed, lost_peer
from vislab.training.saving import checkpoint
from vislab.training.scoring import finish_run
from vislab.training.setup import Training, set_up
from vislab.training.state import Callback, StopFlag, epoch_seed
from vislab.training.stopped_record import mark
from vislab.training.stopping import (
    stop_after_scoring,
    stop_before_scoring,
    stop_by_callback,
    stop_resumably,
    tell_callbacks,
    users_model,
)
from vislab.training.summary import RunSummary, notes_into
from vislab.training.tracking import build_trackers


# ------------------------------------------------------------------------------------- entry
def train(
    cfg: Config | None,
    out: str | Path,
    resume: bool = False,
    quiet: bool = False,
    dist: Distributed | None = None,
    callbacks: list[Callback] | tuple[Callback, ...] = (),
    trust_code: bool = False,
    epochs: int | None = None,
) -> RunSummary | None:
    """Train ``cfg`` into run directory ``out`` and return its summary (None on a rank > 0).

    ``callbacks``: ``Callback`` objects (``vislab.training.state``), e.g. a tracker or an Optuna pruner:
    ``on_epoch_end(row)`` after each metrics row, ``close()`` when the run ends.
    ``trust_code``: on resume, import the run's own model code (``model.name=file.py:Net``) even when
    the file is not the one the run recorded (without it, such a file is refused: UntrustedCode).
    ``epochs``: on resume, train a finished or interrupted run on to this many epochs (``extend``).
    On resume, ``cfg`` is the config it is resumed with (None: none): the run trains by its last.pt's,
    with ``cfg``'s settings of where and how it runs (``resumed_config``). The notes it gives (each
    :class:`~vislab.errors.Note`, shown as before) go into its summary.json's ``notes_given``, after those
    of its earlier starts.
    """
    dist = dist or Distributed()
    run = RunDir(out)
    if resume:  # a resume keeps the notes the run gave before, and adds its own
        run.notes = list((run.read_summary() or RunSummary()).notes_given or ())
    with contextlib.ExitStack() as code, notes_into(run.notes):
        ckpt = open_resume(run, dist.world) if resume else None
        build_as = None
        if ckpt is not None:
            cfg = resumed_config(ckpt, cfg, run.path)
            if epochs is not None:
                cfg = extend(cfg, epochs, ckpt.resume.loop, run.path)
            # the run's own model code (file.py:Net) is imported only if trusted or unchanged
            m = ckpt.record.model
            build_as = code.enter_context(recorded_code(m.name, m.code, trust_code, str(run.path)))
            notes, done = before_resume(run, cfg, ckpt)
            for note in notes if dist.is_main else ():
                show_note(note)
            if done is not None:  # why nothing is trained, and the run's summary as it is
                Progress(quiet=quiet or not dist.is_main).line(done[0])
                return done[1]
        elif (run.ckpt_dir / "last.pt").exists():
            run.check_free()  # another process writing it: say so (with its pid), not "already holds a run"
            raise RunExists(run.path)
        return _run(cfg, run, ckpt, quiet, dist, callbacks, build_as)


def _run(
    cfg: Config,
    run: RunDir,
    ckpt: Checkpoint | None,
    quiet: bool,
    dist: Distributed,
    callbacks: list[Callback] | tuple[Callback, ...],
    build_as: str | None,
) -> RunSummary | None:
    """Open the run directory, set up, train (epochs or one fit); close trackers and the directory."""
    if dist.is_main:
        run.open()
    ending: BaseException | None = None
    try:
        with StopFlag() as stop:
            callbacks = [*callbacks, *(build_trackers(cfg, run) if dist.is_main else [])]
            t = set_up(cfg, run, ckpt, quiet, dist, build_as)
            if t.network.hooks.trained_by == "fit_arrays":
                fitting = "while fitting it on the train split"
                with users_model(t, fitting):
                    row = fit_once(t, stop)
                tell_callbacks(t, row, callbacks)  # as after an epoch: outside the model's code
                with users_model(t, fitting):
                    return _finish(t, stop)
            if dist.is_main:  # what the data makes of the settings (the rest: run_notes, at set-up)
                steps, data = t.optim.steps_per_epoch, t.data
                for note in loop_notes(cfg, steps, data.splits, data.train, ckpt is not None):
                    show_note(note)
            try:
                return fit_epochs(t, stop, callbacks, resumed=ckpt is not None)
            except RuntimeError as e:
                if dist.world > 1 and lost_peer(e) and not stop.received():
                    # a rank died: the launcher names it and the resume command
                    mark(t, "interrupted")
                    raise
                # Ctrl-C reaches every rank; one that stopped first breaks the others' collective
                # (torch.distributed raises): that is the same interruption, not a crash
                if not (dist.world > 1 and stop.received()):
                    raise
                mark(t, "interrupted")
                raise TrainingInterrupted(
                    f"training stopped by {stop.received()} while the workers were exchanging results; "
                    f"resume from the last saved checkpoint with: {resume_command(run.path, dist.world)}"
                ) from None
    except BaseException as e:
        ending = e
        raise
    finally:
        close_all(callbacks, run, ending)


def close_all(callbacks: Sequence[Callback], run: RunDir, ending: BaseException | None) -> None:
    """Close each callback, in order, then the run's files, whichever raises. A callback's failure to
    close does not hide ``ending``, the exception that ended the run (a note says it); after a run that
    ended well, the first such failure is raised once all are closed."""
    failed: Exception | None = None
    for cb in callbacks:
        try:
            cb.close()
        except Exception as e:
            if ending is not None:
                show_note(f"{type(cb).__name__}.close() raised {type(e).__name__}: {e}")
            failed = failed or e
    run.close()
    if failed is not None and ending is None:
        raise failed


# -------------------------------------------------------------------------------- the loop
def fit_epochs(
    t: Training, stop: StopFlag, callbacks: list[Callback], resumed: bool
) -> RunSummary | None:
    """Epochs of training steps, each followed by evaluation, checkpoints and a metrics row (a 2-D
    feature run's decision boundary recorded at each evaluation: ``boundary_recorder``)."""
    tc = t.cfg
    callbacks = [*boundary_recorder(t, resumed), *callbacks]
    if resumed:
        forget_lost_best(t)  # best.pt deleted since: the next evaluation writes it again
    if t.dist.is_main and resumed:
        t.run.write_metrics(to_rows(t.history))
    t.log.start(tc.epochs, len(t.data.train), first_epoch=t.loop.epoch)
    if tc.eval_at_start and not t.history:  # epoch 0: the untrained model's error on train and val
        with users_model(t, "in the evaluation before training (train.eval_at_start)"):
            row = evaluate_at_start(t)
        record(t, row, callbacks, save_last=False)
    if t.loop.stopped_early and t.loop.epoch < tc.epochs:  # resumed after its early stop
        t.log.line(f"nothing left to train: this run stopped early {_early_stop(t)}")
    while t.loop.epoch < tc.epochs and not t.loop.stopped_early:
        with users_model(t, f"in training epoch {t.loop.epoch + 1}"):
            row = train_one_epoch(t, stop)
        with users_model(t, f"in the evaluation after training epoch {row.epoch}", trained=True):
            plateau_cut = evaluate_and_checkpoint(t, row)
        next_epoch(t, row)
        record(t, row, callbacks)
        note_exploding_loss(t, row)
        if plateau_cut and t.loop.epoch < tc.epochs and not t.loop.stopped_early:
            _note_plateau_cut(t)
        if row.stopped_early:
            t.log.line(f"early stop {_early_stop(t)}")
    t.log.stop()
    # a signal in the last epoch's evaluation: its last.pt is saved, the scoring not begun
    if stop.received():
        stop_before_scoring(t, stop.received())
    with users_model(t, "in the final evaluation of the best weights"):
        return _finish(t, stop)


def _note_plateau_cut(t: Training) -> None:
    """The lr ``schedule.name=plateau`` cut to at the evaluation just done, and why."""
    lr, n = t.optim.lr_at(t.loop.epoch * t.optim.steps_per_epoch), t.optim.plateau.patience
    t.log.line(
        f"plateau: lr {lr:.3g} from epoch {t.loop.epoch + 1} ({t.cfg.select_metric}: {n} "
        f"evaluation{'' if n == 1 else 's'} without improvement)"
    )


def train_one_epoch(t: Training, stop: StopFlag) -> EpochRow:
    """One pass over this rank's share of the train split; returns the epoch's metrics row."""
    loop, steps, optim = t.loop, len(t.data.train), t.optim
    epoch, k = loop.epoch, optim.accumulate
    track = t.steps.add_grad_norms if t.steps.names else None  # train.track_grad_norm
    sums = _begin_epoch(t)  # loss·n, correct, n: summed on the device, read once per log line
    t.network.model.train()
    started = time.perf_counter()
    # the schedule counts optimizer steps: one per window of k batches (the epoch's last may be shorter)
    opt_step = lambda batch: epoch * optim.steps_per_epoch + batch // k  # noqa: E731
    # the row's lr if a resumed epoch has no step left
    lr = optim.lr_at(max(opt_step(loop.step - 1), 0))
    for x, y in t.data.train.epoch(epoch, loop.step):
        step = opt_step(loop.step)  # the optimizer step this batch belongs to
        lr, window = optim.lr_at(step), Window.of(loop.step, k, steps)
        if window.last:  # optim.head_lr's groups: their own schedule, to the same floor
            optim.scale_groups(step)
        loss, logits = train_step(t.network, optim, x, y, lr, window, track)
        if window.last and optim.ema is not None:
            optim.ema.update(step)
        _add_batch(sums, loss, logits, y)
        loop.step += 1
        t.steps.after_step(loss, step + 1, epoch + 1, lr, window.last)  # device sums: no sync
        if t.log.wants_update(loop.step) or loop.step == steps:
            mean_loss = (sums[0] / sums[2]).item()  # host sync only where a metric is logged
            check_finite(t, mean_loss, lr)
            t.log.update(loop.step, loss=mean_loss, acc=(sums[1] / sums[2]).item(), lr=lr)
        if stop.signal and window.last:  # mid-window the accumulated gradients would be lost
            stop_resumably(t, stop.signal, sums, lr, time.perf_counter() - started)
    return _end_epoch(t, sums, lr, time.perf_counter() - started)


def _add_batch(
    sums: torch.Tensor, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor
) -> None:
    """Add a batch's loss·n, correct predictions and n to the epoch's running ``sums``, on the device
    (mixup/cutmix targets, N×K, count by their argmax)."""
    n = torch.full((), len(y), device=sums.device, dtype=torch.float64)
    label = y if y.ndim == 1 else y.argmax(1)
    correct = (logits.detach().argmax(1) == label).sum().double()
    sums += torch.stack([loss.detach().double() * len(y), correct, n])


def _begin_epoch(t: Training) -> torch.Tensor:
    """Seed the epoch (or restore the RNG of one interrupted mid-way); its running sums."""
    loop = t.loop
    if loop.step == 0 or loop.partial is None:
        torch.manual_seed(epoch_seed(t.cfg.seed, loop.epoch) + t.dist.rank)  # ranks differ
        return torch.zeros(3, device=t.device, dtype=torch.float64)
    cpu_rng, cuda_rng = t.resume_rng  # same RNG stream, same partial sums
    torch.set_rng_state(cpu_rng)
    if t.device.type == "cuda" and cuda_rng is not None:
        torch.cuda.set_rng_state(cuda_rng)
    return loop.partial.to(t.device)


def _end_epoch(t: Training, sums: torch.Tensor, lr: float, took: float) -> EpochRow:
    """The epoch's row: its train loss and accuracy (summed over ranks), its lr (and optim.head_lr's). The
    loop stays after the epoch's last step, its running sums kept (as a signal there saves them), until
    ``next_epoch``: an evaluation that fails can still save the epoch's training."""
    loop = t.loop
    reduced = t.dist.all_reduce(sums.clone()) if t.dist.world > 1 else sums
    train_loss, train_acc = (reduced[0] / reduced[2]).item(), (reduced[1] / reduced[2]).item()
    check_finite(t, train_loss, lr)
    loop.train_time_s += took
    loop.partial = sums
    row = EpochRow(loop.epoch + 1, train_loss, train_acc, lr, seconds=round(took, 4))
    row.head_lr = head_lr(t.optim.opt)  # optim.head_lr's groups: their own lr, as scheduled
    return row


def next_epoch(t: Training, row: EpochRow) -> None:
    """The epoch ``row`` is over (trained and evaluated): its step rows written, the loop at the next."""
    loop = t.loop
    if t.steps.active:
        if note := t.steps.gradless_note():  # a model's own step that leaves no gradients
            show_note(note)
        t.steps.write_epoch(t.run, (loop.epoch + 1) * t.optim.steps_per_epoch, row.epoch, row.lr)
    loop.epoch, loop.step, loop.partial = loop.epoch + 1, 0, None


def train_step(
    network: Network,
    optim: Optimisation,
    x: torch.Tensor,
    y: torch.Tensor,
    lr: float,
    window: Window = Window(),
    track: Callable[[], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch (the model's own ``manual_step``, or forward and backward) in its accumulation
    ``window``; (loss, logits). ``track`` sees the window's gradients at the optimizer step."""
    hooks = network.hooks
    if hooks.trained_by == "manual_step":
        loss, logits = hooks.manual_step(x, y, lr)
        if track is not None:  # the gradients its step left in .grad, if any
            track()
    else:
        if network.graphs:  # a new training step: the graphs' previous outputs may be overwritten
            torch.compiler.cudagraph_mark_step_begin()
        with optim.autocast():
            logits = network.forward(x)
            loss = optim.loss(logits, y)
        check_loss_has_grad(loss, network.model)
        if window.first:
            optim.opt.zero_grad(set_to_none=True)
        scaled = loss / window.size if window.size > 1 else loss
        (optim.scaler.scale(scaled) if optim.scaler else scaled).backward()  # fp16: scaled up
        if window.last:
            _optimizer_step(network, optim, lr, track)
    if window.last:  # once per optimizer step (a manual step is one): e.g. `fast`'s weight average
        hooks.after_step()
    return loss, logits


def _optimizer_step(
    network: Network, optim: Optimisation, lr: float, track: Callable[[], None] | None
) -> None:
    """``track`` the gradients as the model produced them, clip (``train.grad_clip``) and apply them at
    ``lr`` (times a parameter group's ``lr_scale``, e.g. a fine-tuned model's new head)."""
    set_lr(optim.opt, lr)
    # fp16: the gradients scaled down before they are measured or clipped; an overflowed step skipped
    scaler = optim.scaler
    if scaler and (optim.grad_clip or track):
        scaler.unscale_(optim.opt)
    if track:
        track()
    if optim.grad_clip:
        torch.nn.utils.clip_grad_norm_(network.model.parameters(), optim.grad_clip)
    if scaler:
        scaler.step(optim.opt)
        scaler.update()
    else:
        optim.opt.step()


# ------------------------------------------------------------------------- the epoch's record
def _early_stop(t: Training) -> str:
    return t.loop.early_stop(t.cfg.stop_metric, t.cfg.early_stop, t.cfg.min_delta)


def record(t: Training, row: EpochRow, callbacks: list[Callback], save_last: bool = True) -> None:
    """Append ``row`` to the history, save ``last.pt``, write metrics.jsonl, tell the callbacks (each a
    dict of the row: :meth:`EpochRow.to_json`; one that raises ends the run: ``tell_callbacks``; one that
    raises StopTraining ends the training after this row: ``stop_by_callback`` — on every rank as rank
    0's callbacks decide, so that the ranks stop after the same row)."""
    t.history.append(row)
    if save_last:
        checkpoint(t, "last.pt", resume=True)
    if t.dist.is_main:
        t.run.write_metrics(to_rows(t.history))
    t.log.epoch_done(row)
    if (reason := t.dist.from_main(tell_callbacks(t, row, callbacks))) is not None:
        stop_by_callback(t, row, reason)


def _finish(t: Training, stop: StopFlag) -> RunSummary | None:
    """Score the run (``finish_run``); a signal meanwhile: what it wrote is kept, then TrainingInterrupted."""
    summary = finish_run(
        run=t.run, record=t.record, network=t.network, data=t.data, optim=t.optim, loop=t.loop,
        history=t.history, dist=t.dist, log=t.log, figures=t.cfg.figures, stopped=stop.received,
    )  # fmt: skip
    if stop.received():
        stop_after_scoring(t, stop.received(), summary)
    return summary
