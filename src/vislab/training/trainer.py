"""The trainer: config → data → model → epochs → run directory.

Read it top to bottom: ``train`` opens the run directory, ``set_up`` (training/setup.py) builds data,
model and loaders, then either ``fit_once`` (models fitted on arrays) or ``fit_epochs``, whose loop
is ``train_one_epoch`` → ``evaluate_and_checkpoint`` → ``record``; ``finish_run`` scores the best
weights. What a model may ask of the loop is declared in ``vislab.models.hooks``.

Determinism: the seed fixes the split, the init, and — re-seeded at every epoch start — shuffling,
augmentation and dropout, so a CPU run is exactly repeatable and ``--resume`` (from an epoch
boundary or, after a signal, from the middle of an epoch with the saved RNG state) ends with the
same numbers as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from vislab.config import Config, build_config
from vislab.data.loader import DeviceLoader
from vislab.errors import DataError, TrainingDiverged, TrainingInterrupted, UserError
from vislab.models.user import recorded_code
from vislab.training.checkpoint import load_checkpoint, save_checkpoint
from vislab.training.evaluate import evaluate, finish_run
from vislab.training.optim import build_optimizer, lr_factor
from vislab.training.progress import Progress
from vislab.training.rundir import RunDir
from vislab.training.runtime import Distributed
from vislab.training.setup import Setup, set_up, start_tracking
from vislab.training.state import Callback, StopFlag, epoch_seed
from vislab.training.tracking import build_trackers


# ------------------------------------------------------------------------------------- entry
def train(
    cfg: Config,
    out: str | Path,
    resume: bool = False,
    quiet: bool = False,
    dist: Distributed | None = None,
    callbacks: list[Callback] | tuple[Callback, ...] = (),
    trust_code: bool = False,
) -> dict:
    """Train ``cfg`` into run directory ``out`` and return its summary.

    ``callbacks``: ``Callback`` objects (``vislab.training.state``), e.g. a tracker or an Optuna pruner:
    ``on_epoch_end(row)`` after each metrics row, ``close()`` when the run ends.
    ``trust_code``: on resume, import the run's own model code (``model.name=file.py:Net``) even when
    the file is not the one the run recorded (without it, such a file is refused: UntrustedCode).
    """
    dist = dist or Distributed()
    run = RunDir(out)
    with contextlib.ExitStack() as code:
        ckpt = open_resume(run) if resume else None
        build_as = None
        if ckpt is not None:
            cfg = build_config(ckpt["config"], source=str(run.ckpt_dir / "last.pt"))
            # the run's own model code (file.py:Net) is imported only if trusted or unchanged
            build_as = code.enter_context(
                recorded_code(cfg.model.name, ckpt.get("model_code"), trust_code, str(run.path))
            )
        elif (run.ckpt_dir / "last.pt").exists():
            run.check_free()  # another process writing it: say so (with its pid), not "already holds a run"
            raise UserError(
                f"'{run.path}' already holds a run. Continue it with --resume {run.path}, "
                f"or choose a new --out."
            )
        return _run(cfg, run, ckpt, quiet, dist, callbacks, build_as)


def _run(
    cfg: Config,
    run: RunDir,
    ckpt: dict | None,
    quiet: bool,
    dist: Distributed,
    callbacks: list[Callback] | tuple[Callback, ...],
    build_as: str | None,
) -> dict:
    """Open the run directory, set up, train (epochs or one fit); close trackers and the directory."""
    if dist.is_main:
        run.open()
    try:
        with StopFlag() as stop:
            callbacks = [*callbacks, *(build_trackers(cfg, run) if dist.is_main else [])]
            s = set_up(cfg, run, ckpt, quiet, dist, build_as)
            if s.hooks.trained_by == "fit_arrays":
                return fit_once(s)
            try:
                return fit_epochs(s, ckpt, stop, callbacks)
            except RuntimeError:
                # Ctrl-C reaches every rank; one that stopped first breaks the others' collective
                # (torch.distributed raises): that is the same interruption, not a crash
                if not (dist.world > 1 and stop.received()):
                    raise
                _mark(s, "interrupted")
                raise TrainingInterrupted(
                    f"training stopped by {stop.received()} while the workers were exchanging results; "
                    f"resume from the last saved checkpoint with: vislab train --resume {run.path}"
                ) from None
    finally:
        for cb in callbacks:
            cb.close()
        run.close()


def open_resume(run: RunDir) -> dict:
    """The run's ``last.pt``, checked to be a resumable vislab checkpoint."""
    last = run.ckpt_dir / "last.pt"
    if not run.path.is_dir():
        raise UserError(
            f"nothing to resume: '{run.path}' does not exist (a typo, or the run never started?). "
            f"Start the run with its command and --out {run.path}, without --resume."
        )
    if not last.is_file():  # e.g. killed before its first checkpoint: nothing to continue
        raise UserError(
            f"nothing to resume in '{run.path}': no checkpoints/last.pt (the run never finished a "
            f"checkpoint). Start it again with its command and --out {run.path}, without --resume."
        )
    ckpt = load_checkpoint(last)
    expected = (("config", dict), ("state", dict), ("history", list))
    if not all(isinstance(ckpt.get(k), t) for k, t in expected):
        raise DataError(
            f"'{last}' is not a resumable vislab checkpoint (no config/state/history). "
            f"Start a new run."
        )
    return ckpt


# --------------------------------------------------------------------- checkpoints, schedule
def lr_at(s: Setup, global_step: int) -> float:
    """The learning rate the schedule sets at ``global_step``."""
    c, steps = s.cfg, len(s.train_loader)
    factor = lr_factor(c.schedule, global_step, steps, c.train.epochs * steps, c.optim.lr)
    return c.optim.lr * factor


def checkpoint(s: Setup, name: str, extra: dict) -> None:
    """Write ``checkpoints/<name>``: the model's weights, ``meta`` and ``extra`` (main rank only)."""
    if s.dist.is_main:
        state = {**s.meta, "state_dict": s.model.state_dict(), **extra}
        save_checkpoint(s.run.ckpt_dir / name, state)


def resumable(s: Setup) -> dict:
    """What ``last.pt`` needs beyond the weights to continue exactly where the loop is."""
    on_cuda = s.device.type == "cuda"
    return dict(
        optimizer=s.opt.state_dict() if s.opt else None,
        history=s.history,
        state=s.state.to_dict(),
        rng=torch.get_rng_state(),
        cuda_rng=torch.cuda.get_rng_state() if on_cuda else None,
        step_tracking=s.steps.state_dict() if s.steps else None,
    )


# ----------------------------------------------------------------------------- fitted models
def fit_once(s: Setup) -> dict:
    """``trained_by="fit_arrays"`` (majority, svm): fitted on the whole train split, one row, no epochs."""
    t0 = time.perf_counter()
    s.hooks.fit_arrays(*_whole_split(s.train_loader))
    s.state.epoch, s.state.best_epoch = 1, 1
    s.state.train_time_s = time.perf_counter() - t0
    eval_bs, k = s.cfg.train.eval_batch_size, s.splits.num_classes
    fitted = evaluate(s.model, s.train_loader.unaugmented(eval_bs), k, s.device)
    val = evaluate(s.model, s.val_loader, k, s.device)
    s.history.append(
        dict(epoch=1, train_loss=fitted.loss, train_acc=fitted.acc, **val.as_dict("val"),
             val_per_class=val.per_class, lr=0.0, seconds=s.state.train_time_s, **track_test(s))
    )  # fmt: skip
    if s.dist.is_main:
        s.run.write_metrics(s.history)  # its one row, as every run has (the run directory contract)
    checkpoint(s, "best.pt", {"epoch": 1})
    checkpoint(s, "last.pt", {"history": s.history, "state": s.state.to_dict()})
    return _finish(s)


def _whole_split(loader: DeviceLoader) -> tuple[torch.Tensor, torch.Tensor]:
    chunks = torch.arange(len(loader.y), device=loader.device).split(4096)
    xs, ys = zip(*(loader.batch(idx) for idx in chunks))
    return torch.cat(xs), torch.cat(ys)


# -------------------------------------------------------------------------------- the loop
def fit_epochs(s: Setup, ckpt: dict | None, stop: StopFlag, callbacks: list[Callback]) -> dict:
    """Epochs of training steps, each followed by evaluation, checkpoints and a metrics row."""
    tc = s.cfg.train
    ready_steps(s, ckpt)
    if s.dist.is_main and ckpt:
        s.run.write_metrics(s.history)
    s.log.start(tc.epochs, len(s.train_loader), first_epoch=s.state.epoch)
    if tc.eval_at_start and not s.history:  # epoch 0: the untrained model's error on train and val
        record(s, evaluate_at_start(s), callbacks, save_last=False)
    while s.state.epoch < tc.epochs:
        row = train_one_epoch(s, stop)
        stop_early = evaluate_and_checkpoint(s, row)
        record(s, row, callbacks)
        if stop_early:
            s.log.line(
                f"early stop: {tc.select_metric} did not improve for {tc.early_stop} evaluations"
            )
            break
    s.log.stop()
    return _finish(s)


def ready_steps(s: Setup, ckpt: dict | None) -> None:
    """Data-dependent init (new runs only), the DDP/compiled network, the optimizer and AMP."""
    if ckpt is None:  # e.g. `fast`'s whitening filters, from the train split only
        first = torch.arange(min(len(s.train_loader.y), 10_000))
        s.hooks.init_from_data(s.train_loader.batch(first, augment=False)[0])
    s.net = s.dist.wrap(s.model)
    if s.cfg.train.compile:
        s.net = _try_compile(s.net, s.log)
    if s.hooks.trained_by == "optimizer":
        params = [p for p in s.model.parameters() if p.requires_grad]
        s.opt = build_optimizer(params, s.cfg.optim)
        if ckpt and ckpt.get("optimizer"):
            s.opt.load_state_dict(ckpt["optimizer"])
    if s.amp_on:
        s.amp = torch.autocast("cuda", dtype=torch.bfloat16)
    s.steps = start_tracking(s, ckpt)


def train_one_epoch(s: Setup, stop: StopFlag) -> dict:
    """One pass over this rank's share of the train split; returns the epoch's metrics row."""
    st, steps = s.state, len(s.train_loader)
    epoch = st.epoch
    sums = _begin_epoch(s)  # loss·n, correct, n: summed on the device, read once per log line
    s.model.train()
    t0 = time.perf_counter()
    lr = lr_at(s, max(st.global_step - 1, 0))  # the row's lr if a resumed epoch has no step left
    for x, y in s.train_loader.epoch(epoch, st.step):
        lr = lr_at(s, st.global_step)
        loss, logits = train_step(s, x, y, lr)
        n = torch.full((), len(y), device=s.device, dtype=torch.float64)
        correct = (logits.detach().argmax(1) == y).sum().double()
        sums += torch.stack([loss.detach().double() * len(y), correct, n])
        st.step += 1
        st.global_step += 1
        s.steps.after_step(loss, st.global_step, epoch + 1, lr)  # device sums: no host sync
        if s.log.wants_update(st.step) or st.step == steps:
            mean_loss = (sums[0] / sums[2]).item()  # host sync only where a metric is logged
            _check_finite(s, mean_loss, lr)
            s.log.update(st.step, loss=mean_loss, acc=(sums[1] / sums[2]).item(), lr=lr)
        if stop.signal:
            _stop_resumably(s, stop.signal, sums, lr, time.perf_counter() - t0)
    sums = s.dist.all_reduce(sums) if s.dist.world > 1 else sums
    train_loss, train_acc = (sums[0] / sums[2]).item(), (sums[1] / sums[2]).item()
    _check_finite(s, train_loss, lr)
    if s.steps.active:
        s.steps.write_epoch(s.run, st.global_step, epoch + 1, lr)
    st.train_time_s += time.perf_counter() - t0
    st.epoch, st.step, st.partial = epoch + 1, 0, None
    seconds = round(time.perf_counter() - t0, 4)
    return dict(epoch=epoch + 1, train_loss=train_loss, train_acc=train_acc, lr=lr, seconds=seconds)


def _begin_epoch(s: Setup) -> torch.Tensor:
    """Seed the epoch (or restore the RNG of one interrupted mid-way); its running sums."""
    st = s.state
    if st.step == 0 or st.partial is None:
        torch.manual_seed(epoch_seed(s.cfg.train.seed, st.epoch) + s.dist.rank)  # ranks differ
        return torch.zeros(3, device=s.device, dtype=torch.float64)
    cpu_rng, cuda_rng = s.resume_rng  # same RNG stream, same partial sums
    torch.set_rng_state(cpu_rng)
    if s.device.type == "cuda" and cuda_rng is not None:
        torch.cuda.set_rng_state(cuda_rng)
    return st.partial.to(s.device)


def train_step(
    s: Setup, x: torch.Tensor, y: torch.Tensor, lr: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One update on a batch (the model's own ``manual_step`` or the optimizer's); (loss, logits)."""
    tc = s.cfg.train
    if s.hooks.trained_by == "manual_step":
        loss, logits = s.hooks.manual_step(x, y, lr)
    else:
        for group in s.opt.param_groups:
            group["lr"] = lr
        with s.amp:
            logits = s.net(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=tc.label_smoothing)
        s.opt.zero_grad(set_to_none=True)
        loss.backward()
        if tc.grad_clip:
            torch.nn.utils.clip_grad_norm_(s.model.parameters(), tc.grad_clip)
        s.opt.step()
    s.hooks.after_step()  # e.g. `fast`'s weight average
    return loss, logits


# ------------------------------------------------------------------- evaluate + checkpoint
def evaluate_at_start(s: Setup) -> dict:
    """Row 0 (``train.eval_at_start``): the untrained model on val and on the train images epoch 1 trains
    on (un-augmented; ``drop_last`` leaves the last partial batch out of every epoch, and of this row)."""
    k, bs = s.splits.num_classes, s.cfg.train.eval_batch_size
    kw = dict(amp_on=s.amp_on, dist=s.dist)
    first = s.train_loader.trained_indices(s.state.epoch)
    start = evaluate(s.net, s.train_loader.unaugmented(bs, first), k, s.device, **kw)
    val = evaluate(s.net, s.val_loader, k, s.device, **kw)
    return dict(epoch=0, train_loss=start.loss, train_acc=start.acc, lr=0.0, seconds=0.0,
                **val.as_dict("val"), val_per_class=val.per_class, **track_test(s))  # fmt: skip


def track_test(s: Setup) -> dict:
    """``train.track_test``: the test split's loss, accuracy and per-class accuracy now, for the curves
    only — nothing reads them to select, stop or prune (those read val). {} when off."""
    if not s.cfg.train.track_test:
        return {}
    k = s.splits.num_classes
    net = s.net if s.net is not None else s.model  # fitted models (fit_once) have no wrapped net
    test = evaluate(net, s.test_loader, k, s.device, amp_on=s.amp_on, dist=s.dist)
    return test.as_dict("test")


def evaluate_and_checkpoint(s: Setup, row: dict) -> bool:
    """Score val when due (into ``row``), keep ``best.pt``; True when early stopping says stop."""
    tc, st = s.cfg.train, s.state
    epoch = row["epoch"]
    if epoch % tc.eval_every and epoch != tc.epochs:
        return False
    val = evaluate(
        s.net, s.val_loader, s.splits.num_classes, s.device, amp_on=s.amp_on, dist=s.dist
    )
    row.update(val.as_dict("val"), val_per_class=val.per_class, **track_test(s))
    value = {"val_pacc": val.pacc, "val_acc": val.acc, "val_loss": val.loss}[tc.select_metric]
    if st.best is None or _better(value, st.best, tc.select_metric, tc.min_delta):
        st.best, st.best_epoch, st.bad_evals = value, epoch, 0
        checkpoint(s, "best.pt", {"epoch": epoch})
        return False
    st.bad_evals += 1
    return tc.early_stop is not None and st.bad_evals >= tc.early_stop


def _better(value: float, best: float, metric: str, min_delta: float) -> bool:
    if metric.endswith("loss"):
        return value < best - min_delta
    return value > best + min_delta


def record(s: Setup, row: dict, callbacks: list[Callback], save_last: bool = True) -> None:
    """Append ``row`` to the history, save ``last.pt``, write metrics.jsonl, tell the callbacks."""
    s.history.append(row)
    if save_last:
        checkpoint(s, "last.pt", resumable(s))
    if s.dist.is_main:
        s.run.write_metrics(s.history)
    s.log.epoch_done(row)
    for cb in callbacks:
        cb.on_epoch_end(row)


def _finish(s: Setup) -> dict:
    return finish_run(
        s.run, s.model, s.meta, s.history, s.state.to_dict(), s.val_loader, s.test_loader,
        s.splits, s.device, s.n_params, s.dist, s.log,
    )  # fmt: skip


# -------------------------------------------------------------- stopping: signals, divergence
def _stop_resumably(s: Setup, signal_name: str, sums: torch.Tensor, lr: float, took: float) -> None:
    """A signal arrived: save a mid-epoch ``last.pt`` and raise TrainingInterrupted (exit 130)."""
    _check_finite(s, (sums[0] / sums[2]).item(), lr)  # never save NaN weights over good ones
    st = s.state
    st.train_time_s += took
    st.partial = sums.cpu()
    checkpoint(s, "last.pt", resumable(s))
    _mark(s, "interrupted")
    s.log.stop()
    raise TrainingInterrupted(
        f"training stopped by {signal_name} at epoch {st.epoch + 1}, step {st.step}; state saved "
        f"in {s.run.ckpt_dir / 'last.pt'}. Resume with: vislab train --resume {s.run.path}"
    )


def _check_finite(s: Setup, loss: float, lr: float) -> None:
    """Stop a run whose training loss became NaN/inf, keeping the last good checkpoint."""
    if math.isfinite(loss):
        return
    _mark(s, "diverged")
    epoch = s.state.epoch
    good = (
        f"{s.run.ckpt_dir / 'last.pt'} (after epoch {epoch})"
        if epoch > 0
        else "none (it diverged in the first epoch)"
    )
    raise TrainingDiverged(
        f"the training loss became NaN/inf in epoch {epoch + 1} (lr {lr:.3g}). Lower optim.lr, set "
        f"train.grad_clip, or check data.normalize. Training stopped; last good checkpoint: {good}."
    )


def _mark(s: Setup, status: str) -> None:
    """metrics.jsonl and a summary.json with ``status`` for a run that ends before finishing."""
    if s.dist.is_main:
        st = s.state
        s.run.write_metrics(s.history)
        s.run.write_summary(
            dict(status=status, epochs_run=st.epoch, step=st.step, best_epoch=st.best_epoch,
                 train_time_s=st.train_time_s)
        )  # fmt: skip


def _try_compile(net: torch.nn.Module, log: Progress) -> torch.nn.Module:
    try:
        torch._dynamo.config.suppress_errors = (
            True  # compiling happens at the first call: eager there too
        )
        return torch.compile(net)
    except Exception as e:  # no compiler toolchain, unsupported platform, ...
        log.line(
            f"train.compile: torch.compile is unavailable here ({type(e).__name__}: {e}); running eagerly."
        )
        return net
