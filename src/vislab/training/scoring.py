"""The end of a run: the best weights reloaded → val/test metrics → summary.json, test predictions and
the run's figures. Evaluating a split is ``training/evaluate.py``'s."""

from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import platform
import re
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from vislab.config.build import setting
from vislab.data.types import Splits
from vislab.training import evaluate as evaluation
from vislab.training.boundary_epochs import BOUNDARY_FILE, BoundaryEpochs
from vislab.training.checkpoint import load_checkpoint
from vislab.training.compiling import compiled_record, note_compiled
from vislab.training.ema import WeightEMA
from vislab.training.history import EpochRow, to_rows
from vislab.training.metrics import Metrics, compute_metrics
from vislab.training.optim import lr_per_step
from vislab.training.parts import Network, Optimisation, RunData
from vislab.training.precision import Precision
from vislab.training.progress import Progress
from vislab.training.record import RunRecord
from vislab.training.rundir import RunDir
from vislab.training.runtime import Distributed
from vislab.training.state import LoopState
from vislab.training.step_log import GRAD_FILE, STEPS_FILE
from vislab.training.summary import (
    SCORED_BEST,
    SCORED_EMA_LAST,
    SCORED_FITTED,
    SCORED_LAST,
    RunSummary,
    threads_record,
)
from vislab.version import __version__


def library_versions() -> dict:
    """The versions a run was made with (summary.json's ``versions``)."""
    return dict(
        vislab=__version__,
        torch=torch.__version__,
        torchvision=_installed_version("torchvision"),
        kornia=_installed_version("kornia"),  # kornia itself takes ~0.2 s to import
        python=platform.python_version(),
    )


def _installed_version(package: str) -> str:
    """``package.__version__`` as its ``version.py`` writes it (``0.29.1+cu130``), else its installed
    metadata, without importing the package: importing torchvision pulls in torch's compiler stack, ~2 s of
    every run's end."""
    spec = importlib.util.find_spec(package)
    version_py = Path(spec.origin).with_name("version.py") if spec and spec.origin else None
    with contextlib.suppress(OSError, AttributeError):  # no file: the installed metadata
        found = re.search(r"__version__\s*=\s*['\"]([^'\"]+)", version_py.read_text())
        if found:
            return found.group(1)
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def peak_memory(device: torch.device) -> dict[str, float]:
    """The process's peak memory in MB (summary.json's ``peak_rss_mb``; ``peak_cuda_mb`` on a GPU)."""
    out = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if device.type == "cuda":
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return out


def finish_run(
    run: RunDir,
    record: RunRecord,
    network: Network,
    data: RunData,
    optim: Optimisation,
    loop: LoopState,
    history: list[EpochRow],
    dist: Distributed,
    log: Progress,
    figures: bool = True,
    stopped: Callable[[], str | None] = lambda: None,
) -> RunSummary | None:
    """Reload the best weights, score val (or reuse their epoch's: ``kept_val``; ``eval_s`` is then the test
    pass only) and test, write summary.json, predictions and (``figures``) the run's figures (main rank; the
    others return None). ``stopped``: the signal that asked the run to stop (None: none), before each figure."""
    if not dist.is_main:
        return None
    model, precision, device = network.model, optim.precision, data.test.device
    written = evaluation.file_identity(run.ckpt_dir / "best.pt")  # before loading: the file loaded
    weights = load_scored(run, model, network.hooks.trained_by == "fit_arrays", loop, optim.ema)
    k, scored = data.splits.num_classes, data.spec.wrap(model)  # with the run's TTA
    started = time.perf_counter()
    # the best epoch's own: the same numbers
    val = evaluation.kept_val(loop, weights.epoch, written, model, dist)
    val = val or evaluation.evaluate(scored, data.val, k, precision=precision)
    logits, labels, test, test_time = _score_test(scored, data, k, precision)
    scores = Scores(weights, val, test, test_time)
    summary = _summary(run, record, history, loop, scores, data.splits, device, network.n_params)
    summary = summary.replace(
        trained_by=network.hooks.trained_by, world_size=dist.world, precision=precision.name,
        versions=library_versions(), **peak_memory(device), setup_s=round(loop.setup_s, 3),
        eval_s=round(time.perf_counter() - started, 3), epochs_eval_s=round(loop.epochs_eval_s, 3),
        **_how_it_ran(record, network, loop), class_weights=data.class_weights,
    )  # fmt: skip
    run.write_predictions(
        "test", logits.softmax(1).numpy(), labels.numpy(), data.splits.test.origin
    )
    run.write_summary(summary)  # before the figures: a figure that fails loses no result
    if figures:
        rows, steps = to_rows(history), optim.steps_per_epoch  # steps 0: fitted, or split < batch
        lr_steps = lr_per_step(optim.lr_at, steps, rows) if steps > 0 else []
        figs = Figures(rows, test, data, model, lr_steps, best_pt_epoch(summary), weights.said)
        summary = add_figures(run, summary, figs, log, stopped)
    log.line(
        f"done ({weights.said}): val acc {val.acc:.4f} pacc {val.pacc:.4f} | test acc {test.acc:.4f} "
        f"pacc {test.pacc:.4f} "
        f"| train {loop.train_time_s:.1f}s test {test_time:.2f}s | {run.path}"
    )
    return summary


def _how_it_ran(record: RunRecord, network: Network, loop: LoopState) -> dict[str, Any]:
    """summary.json's record of how the run started (``Network.start_summary``; a resume's from its
    checkpoints' record of train.init_from, ``RunRecord.init_from``), of the CPU threads it trained
    with (``threads_record``) and of what ran forward, compiled or not, in each of its processes
    (``compiling.compiled_record``)."""
    note_compiled(network.net, loop)
    return {
        **network.start_summary(record.init_from),
        **threads_record(loop),
        **compiled_record(loop),
    }


def _score_test(
    scored: torch.nn.Module, data: RunData, k: int, precision: Precision
) -> tuple[torch.Tensor, torch.Tensor, Metrics, float]:
    """The test split's logits and labels, its metrics (with ROC curves) and the seconds its pass took."""
    t0 = time.perf_counter()
    logits, labels = evaluation.predict_logits(scored, data.test, precision)
    test_time = time.perf_counter() - t0
    loss = evaluation.split_loss(logits, labels)
    return logits, labels, compute_metrics(logits, labels, k, loss=loss, with_roc=True), test_time


@dataclass
class ScoredWeights:
    """Which weights a run's scores are of (summary.json's ``scored``, the done: line's parenthesis)."""

    said: str  # "best.pt, epoch 6", ...: a summary.SCORED_TEXTS text, which names its file
    epoch: int | None  # their epoch (summary.json's best_epoch: train_acc and train_loss are its)


def load_scored(
    run: RunDir,
    model: torch.nn.Module,
    fitted: bool,
    loop: LoopState,
    ema: WeightEMA | None = None,
) -> ScoredWeights:
    """Load into ``model`` the weights the run is scored with: best.pt's, at the epoch the file
    records; without one (deleted since), the last weights — with ``train.ema`` (``ema``) their average,
    which best.pt would hold, else the model's own, as they are."""
    best = run.ckpt_dir / "best.pt"
    if not best.is_file() and ema is not None:
        model.load_state_dict(ema.state_dict())
        return ScoredWeights(SCORED_EMA_LAST.said(loop.epoch), loop.epoch)
    if not best.is_file():
        return ScoredWeights(SCORED_LAST.said(loop.epoch), loop.epoch)
    ckpt = load_checkpoint(best)
    model.load_state_dict(ckpt.state_dict)
    epoch = ckpt.epoch if ckpt.epoch is not None else loop.best_epoch
    return ScoredWeights((SCORED_FITTED if fitted else SCORED_BEST).said(epoch), epoch)


@dataclass
class Scores:
    """Which weights were scored, their val and test metrics, and the test split's scoring time in
    seconds."""

    weights: ScoredWeights
    val: Metrics
    test: Metrics
    test_time_s: float


def _summary(
    run: RunDir,
    record: RunRecord,
    history: list[EpochRow],
    loop: LoopState,
    scores: Scores,
    splits: Splits,
    device: torch.device,
    n_params: int,
) -> RunSummary:
    """summary.json of a complete run (``finish_run`` adds the world size, versions and memory)."""
    val, test, names = scores.val, scores.test, splits.class_names
    best_row = next((r for r in history if r.epoch == scores.weights.epoch), None)
    cfg = record.config or {}
    return RunSummary(
        status="complete",
        run=run.name,
        model=record.model.name,
        model_code=record.model.code
        or None,  # a user's own model (file.py:Net): reference, file, sha256
        data=setting(cfg, "data.name"),
        train_acc=best_row.train_acc if best_row else None,
        train_loss=best_row.train_loss if best_row else None,
        val_acc=val.acc,
        val_pacc=val.pacc,
        val_loss=val.loss,
        test_acc=test.acc,
        test_pacc=test.pacc,
        test_loss=test.loss,
        test_auc=test.auc,
        val_top5_acc=val.top5_acc,
        test_top5_acc=test.top5_acc,
        train_time_s=round(loop.train_time_s, 3),
        test_time_s=round(scores.test_time_s, 4),
        best_epoch=scores.weights.epoch,  # the epoch whose weights were scored
        scored=scores.weights.said,
        epochs_run=loop.epoch,
        stopped_early=bool(history and history[-1].stopped_early),  # before its last epoch
        message=loop.stop_reason,  # a callback's vislab.StopTraining ended it: which, and why
        params=n_params,
        val_per_class=dict(zip(names, val.per_class)),
        test_per_class=dict(zip(names, test.per_class)),
        n_train=len(splits.train),
        n_val=len(splits.val),
        n_test=len(splits.test),
        sample_shape=list(record.inputs.sample_shape),  # C×H×W images, or D features
        seed=setting(cfg, "train.seed"),
        device=str(device),
    )


def best_pt_epoch(summary: RunSummary) -> int | None:
    """The epoch of the best.pt a run's scores are of (summary.json's ``best_epoch`` where they are of
    best.pt: :meth:`RunSummary.scored_file`; a stopped run's, not scored yet, is best.pt's too): what its
    curves mark. None for the last weights, and for a model fitted once (no epochs to pick from)."""
    file = summary.scored_file()
    unscored = file is None and summary.scored is None  # a stopped run: its best_epoch is best.pt's
    of_best = file == "best.pt" or unscored
    return summary.best_epoch if of_best and summary.trained_by != "fit_arrays" else None


@dataclass
class Figures:
    """What a run's figures are drawn from: its metrics rows (as metrics.jsonl holds them), test metrics,
    data and scored model, the lr at each optimizer step (``optim.lr_per_step``), and best.pt's epoch."""

    history: list[dict]
    test: Metrics
    data: RunData
    model: torch.nn.Module
    lr_steps: list[tuple[float, float]]
    best_epoch: int | None = None  # best.pt's, where the scores are of it: curves.png marks it
    weights: str = (
        ""  # which weights were scored (summary.json's ``scored``): the boundary's title says
    )


def add_figures(
    run: RunDir,
    summary: RunSummary,
    figures: Figures,
    log: Progress,
    stopped: Callable[[], str | None] = lambda: None,
) -> RunSummary:
    """Draw the run's figures, then write ``summary`` again with the time they took (``figures_s``), and
    return it. A
    signal (``stopped()``) leaves the figures not yet drawn undrawn: the run is then ``interrupted``, its
    scores kept, ``figures_missing`` naming them — a resume scores it again and draws them all."""
    started, missing = time.perf_counter(), []
    try:
        missing = _write_figures(run, figures, stopped)
    except OSError as e:
        log.line(f"could not write figures in {run.fig_dir}: {e.strerror}")
    summary = summary.replace(figures_s=round(time.perf_counter() - started, 3))
    if missing:
        summary = summary.replace(status="interrupted", figures_missing=missing)
    run.write_summary(summary)
    return summary


def _write_figures(
    run: RunDir, figures: Figures, stopped: Callable[[], str | None] = lambda: None
) -> list[str]:
    """Draw the run's figures/ one after another until ``stopped()``; the files left undrawn."""
    drawers = _figure_drawers(run, figures)
    for i, (name, draw) in enumerate(drawers):
        if stopped():
            return [n for n, _ in drawers[i:]]
        draw(run.fig_dir / name)
    return []


# the run's figures the report takes as they are where it would draw the same picture (plotting.canvas.draw_once)
CURVES_PNG, LR_PNG, GRAD_NORMS_PNG, CONFUSION_PNG = (
    "curves.png", "lr.png", "grad_norms.png", "confusion_test.png"
)  # fmt: skip


def _figure_drawers(run: RunDir, f: Figures) -> list[tuple[str, Callable[[Path], None]]]:
    """The run's figures, each a file name and what draws it there: learning curves (with the step
    losses), the learning rate when it changed (a schedule, a warm-up), the gradient norms per layer, the
    test confusion matrix, and (2-D features) the decision boundary, and its evolution where it was
    recorded at each evaluation (``_boundary_drawers``). Each PNG carries the key of what it
    shows (``draw_once``): a report showing the same picture copies it rather than drawing it again."""
    # on use: matplotlib costs ~1 s of start-up that a run with train.figures=false, or a rank > 0, never needs
    from vislab.plotting.canvas import draw_once
    from vislab.plotting.runs import plot_confusion, plot_curves
    from vislab.plotting.steps import lr_changes, plot_grad_norms, plot_lr

    history, names, name = f.history, f.data.splits.class_names, run.name
    steps, grad_rows = run.read_rows(STEPS_FILE), run.read_rows(GRAD_FILE)
    drawers: list[tuple[str, Callable[[Path], None]]] = []
    if history and "train_loss" in history[0]:
        drawers.append((CURVES_PNG, lambda p: draw_once(
            plot_curves, history, path=p, title=name, steps=steps, best_epoch=f.best_epoch,
        )))  # fmt: skip
    if lr_changes(history, steps, f.lr_steps):
        title = f"{name}: learning rate"
        drawers.append((LR_PNG, lambda p: draw_once(
            plot_lr, history, path=p, title=title, steps=steps, schedule=f.lr_steps,
        )))  # fmt: skip
    if grad_rows:
        grads = f"{name}: gradient norms (before clipping)"
        drawers.append((GRAD_NORMS_PNG, lambda p: draw_once(
            plot_grad_norms, grad_rows, path=p, title=grads,
        )))  # fmt: skip
    test = f"{name}: test"
    drawers.append((CONFUSION_PNG, lambda p: draw_once(
        plot_confusion, f.test.confusion, names, path=p, title=test,
    )))  # fmt: skip
    return drawers + _boundary_drawers(run, f)


def _boundary_drawers(run: RunDir, f: Figures) -> list[tuple[str, Callable[[Path], None]]]:
    """A 2-D feature run's (circles) figures: the scored model's decision boundary on the test points,
    and the boundary at each evaluation as recorded beside last.pt (``training.boundary_epochs``)."""
    from vislab.plotting.boundary import plot_boundary_epochs, plot_decision_boundary  # on use

    splits, names, name = f.data.splits, f.data.splits.class_names, run.name
    if not (splits.test.x.ndim == 2 and splits.test.x.shape[1] == 2):
        return []
    # drawn on the raw features, as predict takes them; each point normalised on its way in
    drawers: list[tuple[str, Callable[[Path], None]]] = []
    drawers.append(("boundary_test.png", lambda p: plot_decision_boundary(
        f.model, splits.test.x, splits.test.y, p, names, title=f"{name}: test, {f.weights}",
        prepare=f.data.spec.prepare,
    )))  # fmt: skip
    kept = BoundaryEpochs.load(run.ckpt_dir / BOUNDARY_FILE)
    if kept is not None and kept.epochs:
        epochs = list(zip(kept.epochs, kept.val_acc, kept.preds))
        drawers.append(("boundary_epochs.png", lambda p: plot_boundary_epochs(
            kept.axes, epochs, splits.val.x, splits.val.y, p, names, title=name,
        )))  # fmt: skip
    return drawers
