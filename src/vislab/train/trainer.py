"""The trainer: config → data → model → epochs → run directory.

One readable path. Determinism: the seed fixes the split, the init, and — re-seeded at every epoch
start — shuffling, augmentation and dropout, so a CPU run is exactly repeatable and ``--resume``
(from an epoch boundary or, after a signal, from the middle of an epoch with the saved RNG state)
ends with the same numbers as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from vislab import __version__
from vislab.config import Config, build_config
from vislab.data import prepare_data
from vislab.data.augment import build_augment
from vislab.data.loader import DeviceLoader
from vislab.errors import DataError, TrainingDiverged, TrainingInterrupted, UserError
from vislab.models import build_model, skip_pretrained
from vislab.train.checkpoint import load_checkpoint, save_checkpoint
from vislab.train.evaluate import evaluate, finish_run
from vislab.train.optim import build_optimizer, lr_factor
from vislab.train.progress import Progress
from vislab.train.rundir import RunDir
from vislab.train.runtime import Distributed, resolve_data_device, resolve_device
from vislab.train.tracking import build_trackers


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 1_000_003 + 7919 * (epoch + 1)


class _StopFlag:
    """Set by SIGINT/SIGTERM; the loop finishes the current step, saves and exits."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self._old: dict = {}

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.signal = signal.Signals(signum).name

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def train(
    cfg: Config,
    out: str | Path,
    resume: bool = False,
    quiet: bool = False,
    dist: Distributed | None = None,
    callbacks: list | tuple = (),
) -> dict:
    """Train ``cfg`` into run directory ``out`` and return its summary.

    ``callbacks``: objects with ``on_epoch_end(row: dict) -> None`` (called after each epoch's metrics
    row, e.g. a tracker or an Optuna pruner, which may raise to stop the run) and optional ``close()``.
    """
    dist = dist or Distributed()
    run = RunDir(out)
    ckpt = None
    if resume:
        last = run.ckpt_dir / "last.pt"
        if not run.path.is_dir():
            raise UserError(
                f"nothing to resume: '{run.path}' does not exist (a typo, or the run never started?). "
                f"Start the run with its command and --out {run.path}, without --resume."
            )
        if (
            not last.is_file()
        ):  # e.g. killed before its first checkpoint: nothing to continue, start again
            raise UserError(
                f"nothing to resume in '{run.path}': no checkpoints/last.pt (the run never finished a "
                f"checkpoint). Start it again with its command and --out {run.path}, without --resume."
            )
        ckpt = load_checkpoint(last)
        if not all(
            isinstance(ckpt.get(k), t)
            for k, t in (("config", dict), ("state", dict), ("history", list))
        ):
            raise DataError(
                f"'{last}' is not a resumable vislab checkpoint (no config/state/history). Start a new run."
            )
        cfg = build_config(ckpt["config"], source=str(last))
    elif (run.ckpt_dir / "last.pt").exists():
        run.check_free()  # another process writing it: say so (with its pid) rather than "already holds a run"
        raise UserError(
            f"'{run.path}' already holds a run. Continue it with --resume {run.path}, or choose a new --out."
        )
    if dist.is_main:
        run.open()
    try:
        with _StopFlag() as stop:
            callbacks = [*callbacks, *(build_trackers(cfg, run) if dist.is_main else [])]
            return _train(cfg, run, ckpt, quiet, dist, stop, callbacks)
    finally:
        for cb in callbacks:
            getattr(cb, "close", lambda: None)()
        run.close()


def _train(
    cfg: Config,
    run: RunDir,
    ckpt: dict | None,
    quiet: bool,
    dist: Distributed,
    stop: _StopFlag,
    callbacks: list,
) -> dict:
    tc = cfg.train
    device = dist.device or resolve_device(tc.device)
    if tc.threads:
        torch.set_num_threads(tc.threads)
    splits, stats = prepare_data(cfg.data, tc.seed, stats=ckpt["preprocess"] if ckpt else None)
    torch.manual_seed(tc.seed)  # model init
    with (
        skip_pretrained() if ckpt else contextlib.nullcontext()
    ):  # resuming: last.pt holds the weights
        model = build_model(
            cfg.model.name, splits.sample_shape, splits.num_classes, **cfg.model.kwargs()
        ).to(device)
    if ckpt:
        model.load_state_dict(ckpt["state_dict"])
    n_params = sum(p.numel() for p in model.parameters())
    n_params += sum(b.numel() for b in model.buffers()) if n_params == 0 else 0  # fitted baselines
    on_cuda = device.type == "cuda"
    # NHWC suits oneDNN (CPU) and tensor cores (CUDA) alike: ~25 % off a CNN step on 2 CPU cores (benchmarks/)
    use_cl = (
        tc.channels_last
        and len(splits.sample_shape) == 3
        and any(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    )
    if use_cl:
        model = model.to(memory_format=torch.channels_last)
    meta = dict(
        model_name=cfg.model.name,
        model_kwargs=cfg.model.kwargs(),
        input_shape=list(splits.sample_shape),
        num_classes=splits.num_classes,
        class_names=splits.class_names,
        preprocess=stats,
        config=cfg.to_dict(),
        vislab_version=__version__,
    )
    if dist.is_main:
        run.write_config(cfg.to_yaml())

    data_device = resolve_data_device(
        cfg.data.device, device, sum(s.x.nbytes for _, s in splits.items())
    )
    train_loader = DeviceLoader(
        splits.train,
        stats,
        tc.batch_size,
        device,
        shuffle=True,
        drop_last=True,
        augment=build_augment(cfg.augment, splits.sample_shape),
        seed=tc.seed,
        rank=dist.rank,
        world=dist.world,
        storage=data_device,
    )
    val_loader = DeviceLoader(splits.val, stats, tc.eval_batch_size, device, storage=data_device)
    test_loader = DeviceLoader(splits.test, stats, tc.eval_batch_size, device, storage=data_device)
    for ld in (train_loader, val_loader, test_loader):
        ld.channels_last = use_cl
    train_loader.alternate_flip = bool(
        getattr(model, "alternate_flip", False)
    )  # e.g. `fast`: derandomised flips
    if len(train_loader) == 0:
        raise UserError(
            f"train.batch_size={tc.batch_size} is larger than the train split ({len(splits.train)} "
            f"samples per process) and drop_last leaves no batch. Use a smaller batch size."
        )
    log = Progress(quiet=quiet or not dist.is_main)
    log.line(
        f"{cfg.model.name} on {cfg.data.name}: {len(splits.train)}/{len(splits.val)}/{len(splits.test)} "
        f"train/val/test, {n_params:,} parameters, device {device}"
    )

    history: list[dict] = list(ckpt["history"]) if ckpt else []
    state = (
        dict(ckpt["state"])
        if ckpt
        else dict(
            epoch=0,
            step=0,
            global_step=0,
            best=None,
            best_epoch=None,
            bad_evals=0,
            train_time_s=0.0,
            partial=None,
        )
    )

    fit = getattr(model, "fit_arrays", None)
    if callable(fit):  # majority / svm: fitted once, no epochs
        t0 = time.perf_counter()
        fit(*_whole_split(train_loader))
        state.update(epoch=1, best_epoch=1, train_time_s=time.perf_counter() - t0)
        fitted = evaluate(
            model, train_loader.unaugmented(tc.eval_batch_size), splits.num_classes, device
        )
        val = evaluate(model, val_loader, splits.num_classes, device)
        history.append(
            dict(
                epoch=1,
                train_loss=fitted.loss,
                train_acc=fitted.acc,
                **val.as_dict("val"),
                val_per_class=val.per_class,
                lr=0.0,
                seconds=state["train_time_s"],
            )
        )
        if dist.is_main:
            run.write_metrics(history)  # its one row, as every run has (the run directory contract)
            save_checkpoint(
                run.ckpt_dir / "best.pt", {**meta, "state_dict": model.state_dict(), "epoch": 1}
            )
            save_checkpoint(
                run.ckpt_dir / "last.pt",
                {**meta, "state_dict": model.state_dict(), "history": history, "state": state},
            )
        return finish_run(
            run,
            model,
            meta,
            history,
            state,
            val_loader,
            test_loader,
            splits,
            device,
            n_params,
            dist,
            log,
        )

    init = getattr(model, "init_from_data", None)
    if (
        callable(init) and ckpt is None
    ):  # data-dependent init (e.g. `fast`'s whitening filters), train split only
        init(train_loader.batch(torch.arange(min(len(train_loader.y), 10_000)), augment=False)[0])
    manual_step = getattr(model, "manual_step", None)
    net = dist.wrap(model)
    if tc.compile:
        net = _try_compile(net, log)
    opt = (
        None
        if callable(manual_step)
        else build_optimizer([p for p in model.parameters() if p.requires_grad], cfg.optim)
    )
    if ckpt and opt is not None and ckpt.get("optimizer"):
        opt.load_state_dict(ckpt["optimizer"])
    steps_per_epoch = len(train_loader)
    total_steps = tc.epochs * steps_per_epoch
    amp = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if on_cuda and tc.amp
        else contextlib.nullcontext()
    )
    higher_better = not tc.select_metric.endswith("loss")

    def checkpoint(name: str, extra: dict) -> None:
        if dist.is_main:
            save_checkpoint(
                run.ckpt_dir / name, {**meta, "state_dict": model.state_dict(), **extra}
            )

    def resumable() -> dict:
        return dict(
            optimizer=opt.state_dict() if opt else None,
            history=history,
            state=state,
            rng=torch.get_rng_state(),
            cuda_rng=torch.cuda.get_rng_state() if on_cuda else None,
        )

    if dist.is_main and ckpt:
        run.write_metrics(history)
    log.start(tc.epochs, steps_per_epoch, first_epoch=state["epoch"])
    if (
        tc.eval_at_start and not history
    ):  # epoch 0: the error of the untrained model, on train and val
        start = evaluate(
            net,
            train_loader.unaugmented(tc.eval_batch_size),
            splits.num_classes,
            device,
            amp_on=on_cuda and tc.amp,
            dist=dist,
        )
        val = evaluate(
            net, val_loader, splits.num_classes, device, amp_on=on_cuda and tc.amp, dist=dist
        )
        history.append(
            dict(
                epoch=0,
                train_loss=start.loss,
                train_acc=start.acc,
                lr=0.0,
                seconds=0.0,
                **val.as_dict("val"),
                val_per_class=val.per_class,
            )
        )
        if dist.is_main:
            run.write_metrics(history)
        log.epoch_done(history[-1])
        for cb in callbacks:
            cb.on_epoch_end(history[-1])
    while state["epoch"] < tc.epochs:
        epoch = state["epoch"]
        if state["step"] == 0 or state["partial"] is None:
            torch.manual_seed(
                _epoch_seed(tc.seed, epoch) + dist.rank
            )  # ranks draw independent augmentations
            sums = torch.zeros(3, device=device, dtype=torch.float64)  # loss·n, correct, n
        else:  # resuming mid-epoch: same RNG stream, same partial sums
            torch.set_rng_state(ckpt["rng"])
            if on_cuda and ckpt.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(ckpt["cuda_rng"])
            sums = state["partial"].to(device)
        model.train()
        t0 = time.perf_counter()
        # the last step's lr: the row's value when a run resumes after the epoch's final step (empty loop)
        lr = cfg.optim.lr * lr_factor(
            cfg.schedule,
            max(state["global_step"] - 1, 0),
            steps_per_epoch,
            total_steps,
            cfg.optim.lr,
        )
        for x, y in train_loader.epoch(epoch, state["step"]):
            lr = cfg.optim.lr * lr_factor(
                cfg.schedule, state["global_step"], steps_per_epoch, total_steps, cfg.optim.lr
            )
            if opt is None:
                loss, logits = manual_step(x, y, lr)
            else:
                for group in opt.param_groups:
                    group["lr"] = lr
                with amp:
                    logits = net(x)
                    loss = F.cross_entropy(logits.float(), y, label_smoothing=tc.label_smoothing)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if tc.grad_clip:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
                opt.step()
            sums += torch.stack(
                [
                    loss.detach().double() * len(y),
                    (logits.detach().argmax(1) == y).sum().double(),
                    torch.full((), len(y), device=device, dtype=torch.float64),
                ]
            )
            state["step"] += 1
            state["global_step"] += 1
            if log.wants_update(state["step"]) or state["step"] == steps_per_epoch:
                s = sums  # this rank's running figures (ranks log at different steps: no collective here)
                mean_loss = (s[0] / s[2]).item()  # host sync only where a metric is logged
                if not math.isfinite(mean_loss):
                    _diverged(run, history, state, epoch, lr, dist)
                log.update(state["step"], loss=mean_loss, acc=(s[1] / s[2]).item(), lr=lr)
            if stop.signal:
                if not math.isfinite(
                    (sums[0] / sums[2]).item()
                ):  # never save NaN weights over the last good ones
                    _diverged(run, history, state, epoch, lr, dist)
                state["train_time_s"] += time.perf_counter() - t0
                state["partial"] = sums.cpu()
                checkpoint("last.pt", resumable())
                _mark(run, dist, "interrupted", history, state)
                log.stop()
                raise TrainingInterrupted(
                    f"training stopped by {stop.signal} at epoch {epoch + 1}, step {state['step']}; state saved in "
                    f"{run.ckpt_dir / 'last.pt'}. Resume with: vislab train --resume {run.path}"
                )
        sums = dist.all_reduce(sums) if dist.world > 1 else sums
        train_loss, train_acc = (sums[0] / sums[2]).item(), (sums[1] / sums[2]).item()
        if not math.isfinite(train_loss):
            _diverged(run, history, state, epoch, lr, dist)
        state["train_time_s"] += time.perf_counter() - t0
        state.update(epoch=epoch + 1, step=0, partial=None)
        row = dict(
            epoch=epoch + 1,
            train_loss=train_loss,
            train_acc=train_acc,
            lr=lr,
            seconds=round(time.perf_counter() - t0, 4),
        )
        stop_early = False
        if (epoch + 1) % tc.eval_every == 0 or epoch + 1 == tc.epochs:
            val = evaluate(
                net, val_loader, splits.num_classes, device, amp_on=on_cuda and tc.amp, dist=dist
            )
            row.update(val.as_dict("val"), val_per_class=val.per_class)
            value = {"val_pacc": val.pacc, "val_acc": val.acc, "val_loss": val.loss}[
                tc.select_metric
            ]
            best = state["best"]
            improved = best is None or (
                value > best + tc.min_delta if higher_better else value < best - tc.min_delta
            )
            if improved:
                state.update(best=value, best_epoch=epoch + 1, bad_evals=0)
                checkpoint("best.pt", {"epoch": epoch + 1})
            else:
                state["bad_evals"] += 1
                stop_early = tc.early_stop is not None and state["bad_evals"] >= tc.early_stop
        history.append(row)
        checkpoint("last.pt", resumable())
        if dist.is_main:
            run.write_metrics(history)
        log.epoch_done(row)
        for cb in callbacks:
            cb.on_epoch_end(row)
        if stop_early:
            log.line(
                f"early stop: {tc.select_metric} did not improve for {tc.early_stop} evaluations"
            )
            break
    log.stop()
    return finish_run(
        run,
        model,
        meta,
        history,
        state,
        val_loader,
        test_loader,
        splits,
        device,
        n_params,
        dist,
        log,
    )


def _whole_split(loader: DeviceLoader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys = zip(
        *(
            loader.batch(idx)
            for idx in torch.arange(len(loader.y), device=loader.device).split(4096)
        )
    )
    return torch.cat(xs), torch.cat(ys)


def _mark(run: RunDir, dist: Distributed, status: str, history: list, state: dict) -> None:
    if dist.is_main:
        run.write_metrics(history)
        run.write_summary(
            dict(
                status=status,
                epochs_run=state["epoch"],
                step=state["step"],
                best_epoch=state["best_epoch"],
                train_time_s=state["train_time_s"],
            )
        )


def _diverged(
    run: RunDir, history: list, state: dict, epoch: int, lr: float, dist: Distributed
) -> None:
    _mark(run, dist, "diverged", history, state)
    good = (
        f"{run.ckpt_dir / 'last.pt'} (after epoch {epoch})"
        if epoch > 0
        else "none (it diverged in the first epoch)"
    )
    raise TrainingDiverged(
        f"the training loss became NaN/inf in epoch {epoch + 1} (lr {lr:.3g}). Lower optim.lr, set "
        f"train.grad_clip, or check data.normalize. Training stopped; last good checkpoint: {good}."
    )


def _try_compile(net: torch.nn.Module, log: Progress) -> torch.nn.Module:
    try:
        torch._dynamo.config.suppress_errors = (
            True  # compiling happens at the first call: fall back to eager there too
        )
        return torch.compile(net)
    except Exception as e:  # no compiler toolchain, unsupported platform, ...
        log.line(
            f"train.compile: torch.compile is unavailable here ({type(e).__name__}: {e}); running eagerly."
        )
        return net
