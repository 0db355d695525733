"""Evaluation of a split, and the end of a run: best weights → val/test metrics → summary + figures."""

from __future__ import annotations

import platform
import resource
import time

import kornia
import torch
import torch.nn.functional as F

from vislab.data.loader import DeviceLoader
from vislab.data.types import Splits
from vislab.plotting.boundary import plot_decision_boundary
from vislab.plotting.runs import plot_confusion, plot_curves
from vislab.plotting.steps import plot_grad_norms
from vislab.training.checkpoint import load_checkpoint
from vislab.training.metrics import Metrics, compute_metrics
from vislab.training.rundir import RunDir
from vislab.training.step_log import GRAD_FILE, STEPS_FILE
from vislab.version import __version__


@torch.inference_mode()
def predict_logits(
    model: torch.nn.Module, loader: DeviceLoader, amp_on: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits (float32, CPU) and labels of a whole split, in order."""
    was_training = model.training
    model.eval()
    logits, labels = [], []
    ctx = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if amp_on
        else torch.autocast("cpu", enabled=False)
    )
    with ctx:
        for x, y in loader.epoch(0):
            logits.append(model(x).float())
            labels.append(y)
    model.train(was_training)
    return torch.cat(logits).cpu(), torch.cat(labels).cpu()


def evaluate(
    model: torch.nn.Module,
    loader: DeviceLoader,
    num_classes: int,
    device=None,
    amp_on: bool = False,
    with_roc: bool = False,
    dist=None,
) -> Metrics:
    model = getattr(model, "module", model)
    # DDP: every rank evaluates the same model, and all act on rank 0's figures
    if dist is not None:
        dist.sync_buffers(model)
    logits, labels = predict_logits(model, loader, amp_on)
    loss = F.cross_entropy(logits, labels).item()
    metrics = compute_metrics(logits, labels, num_classes, loss=loss, with_roc=with_roc)
    return dist.from_main(metrics) if dist is not None else metrics


def library_versions() -> dict:
    """The versions a run was made with (summary.json's ``versions``)."""
    import torchvision  # heavy (its models package takes seconds): only when a run finishes

    return dict(
        vislab=__version__,
        torch=torch.__version__,
        torchvision=torchvision.__version__,
        kornia=kornia.__version__,
        python=platform.python_version(),
    )


def peak_memory(device: torch.device) -> dict:
    out = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if device.type == "cuda":
        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return out


def finish_run(
    run: RunDir,
    model,
    meta: dict,
    history: list[dict],
    state: dict,
    val_loader: DeviceLoader,
    test_loader: DeviceLoader,
    splits: Splits,
    device,
    n_params: int,
    dist,
    log,
) -> dict:
    """Reload the best weights, score val and test, write summary.json, predictions and figures."""
    if not dist.is_main:
        return {}
    best = run.ckpt_dir / "best.pt"
    if best.is_file():
        model.load_state_dict(load_checkpoint(best)["state_dict"])
    amp_on = device.type == "cuda" and meta["config"]["train"]["amp"]
    val = evaluate(model, val_loader, splits.num_classes, amp_on=amp_on)
    t0 = time.perf_counter()
    logits, labels = predict_logits(model, test_loader, amp_on)
    test_time = time.perf_counter() - t0
    test = compute_metrics(
        logits,
        labels,
        splits.num_classes,
        loss=F.cross_entropy(logits, labels).item(),
        with_roc=True,
    )
    summary = _summary(
        run, meta, history, state, (val, test, test_time), splits, device, n_params, dist
    )
    run.write_predictions("test", torch.softmax(logits, 1).numpy(), labels.numpy())
    run.write_summary(summary)
    try:
        _write_figures(run, history, test, splits, model, test_loader, labels)
    except OSError as e:
        log.line(f"could not write figures in {run.fig_dir}: {e.strerror}")
    log.line(
        f"done: val acc {val.acc:.4f} pacc {val.pacc:.4f} | test acc {test.acc:.4f} pacc {test.pacc:.4f} "
        f"| train {state['train_time_s']:.1f}s test {test_time:.2f}s | {run.path}"
    )
    return summary


def _summary(
    run: RunDir,
    meta: dict,
    history: list[dict],
    state: dict,
    scores: tuple[Metrics, Metrics, float],
    splits: Splits,
    device,
    n_params: int,
    dist,
) -> dict:
    """summary.json of a complete run; ``scores``: (val metrics, test metrics, test time in s)."""
    val, test, test_time = scores
    names = splits.class_names
    best_row = next((r for r in history if r["epoch"] == state["best_epoch"]), {})
    return dict(
        status="complete",
        run=run.path.name,
        model=meta["model_name"],
        # a user's own model (file.py:Net): its reference, file and sha256
        **({"model_code": meta["model_code"]} if meta.get("model_code") else {}),
        data=meta["config"]["data"]["name"],
        train_acc=best_row.get("train_acc"),
        train_loss=best_row.get("train_loss"),
        val_acc=val.acc,
        val_pacc=val.pacc,
        val_loss=val.loss,
        test_acc=test.acc,
        test_pacc=test.pacc,
        test_loss=test.loss,
        test_auc=test.auc,
        train_time_s=round(state["train_time_s"], 3),
        test_time_s=round(test_time, 4),
        best_epoch=state["best_epoch"],
        epochs_run=state["epoch"],
        params=n_params,
        val_per_class=dict(zip(names, val.per_class)),
        test_per_class=dict(zip(names, test.per_class)),
        n_train=len(splits.train),
        n_val=len(splits.val),
        n_test=len(splits.test),
        seed=meta["config"]["train"]["seed"],
        device=str(device),
        world_size=dist.world,
        versions=library_versions(),
        **peak_memory(device),
    )


def _write_figures(
    run: RunDir,
    history: list[dict],
    test: Metrics,
    splits: Splits,
    model,
    test_loader: DeviceLoader,
    labels: torch.Tensor,
) -> None:
    """The run's figures/: learning curves (with the step losses), the gradient norms per layer, the test
    confusion matrix, and (2-D features) the decision boundary."""
    names = splits.class_names
    if history and "train_loss" in history[0]:
        steps = run.read_rows(STEPS_FILE)
        plot_curves(history, run.fig_dir / "curves.png", title=run.path.name, steps=steps)
    if grad_rows := run.read_rows(GRAD_FILE):
        title = f"{run.path.name}: gradient norms"
        plot_grad_norms(grad_rows, run.fig_dir / "grad_norms.png", title=title)
    plot_confusion(
        test.confusion,
        names,
        run.fig_dir / "confusion_test.png",
        title=f"{run.path.name}: test",
    )
    if splits.test.x.ndim == 2 and splits.test.x.shape[1] == 2:  # 2-D features (circles)
        x_test = torch.cat([x for x, _ in test_loader.epoch(0)]).cpu()
        plot_decision_boundary(
            model, x_test, labels, run.fig_dir / "boundary_test.png", names, title=run.path.name
        )
