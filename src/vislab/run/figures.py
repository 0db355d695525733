"""The figures :meth:`Run.plot <vislab.run.Run.plot>` draws of a run folder: its learning curves from
metrics.jsonl, best.pt's epoch marked; its confusion matrix, per-class accuracy and ROC from the saved
test predictions (other splits and checkpoints scored anew); a 2-D run's decision boundary; a ViT's
position embedding.

matplotlib and vislab.predict (~1 s on 2 cores) are imported by the function that draws ("on use"):
opening a run does not wait for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from vislab.errors import UserError
from vislab.training.checkpoint import pick_checkpoint
from vislab.training.metrics import Metrics, compute_metrics
from vislab.training.roc import micro_roc
from vislab.training.rundir import RunDir
from vislab.training.step_log import STEPS_FILE
from vislab.training.summary import RunSummary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PLOT_KINDS = ("curves", "confusion", "per-class", "roc", "boundary", "pos-embed")


def run_figure(path: Path, kind: str, split: str, trust_code: bool, checkpoint: str) -> Figure:
    """Figure ``kind`` (one of :data:`PLOT_KINDS`) of the run in ``path``, on ``split`` with the model of
    ``checkpoint`` where the kind needs one (all but curves); UserError for an unknown kind."""
    from vislab.plotting.roc import roc_figure
    from vislab.plotting.runs import (  # on use (module docstring)
        confusion_figure,
        curves_figure,
        per_class_figure,
    )

    if kind not in PLOT_KINDS:
        raise UserError(f"plot kind '{kind}' is unknown: use one of {', '.join(PLOT_KINDS)}.")
    if kind == "curves":
        run = RunDir(path)
        rows = run.read_metrics()
        if not rows:
            raise UserError(
                run.rows_lost() or f"run '{path}' has no metrics.jsonl rows yet: nothing to plot."
            )
        # the step losses too (train.log_every), faint under the curves: the run's own curves.png
        from vislab.training.scoring import best_pt_epoch  # on use (module docstring)

        summary = run.read_summary()
        best = {path.name: best_pt_epoch(summary) if summary is not None else None}
        return curves_figure({path.name: rows}, {path.name: run.read_rows(STEPS_FILE)}, best=best)
    if kind == "boundary":
        return _boundary(path, split, trust_code, checkpoint)
    if kind == "pos-embed":
        return _pos_embed(path, trust_code, checkpoint)
    m, names, scores, label = _scores(path, split, trust_code, checkpoint)
    title = f"{label}: {split}"  # as eval's PNGs: "ema2 (last): test"
    if kind == "confusion":
        return confusion_figure(m.confusion, names, title=title)
    if kind == "per-class":
        return per_class_figure(m.per_class, names, title=title)
    micro = micro_roc(scores[1], scores[0]) if len(names) > 1 else None
    return roc_figure(m.roc, names, title=title, micro=micro)


def _boundary(path: Path, split: str, trust_code: bool, checkpoint: str) -> Figure:
    from vislab.plotting.boundary import decision_boundary_figure  # on use (module docstring)
    from vislab.predict import split_inputs

    picked = pick_checkpoint(path, checkpoint)
    ckpt = picked.load()
    # its record's input shape, checked before the model is rebuilt: a model defined in another
    # process (a notebook's class) cannot be, and registering it again would change nothing
    if (shape := ckpt.record.inputs.sample_shape) != (2,):
        raise UserError(
            f"run '{path}' takes inputs of shape {shape}: a decision boundary needs 2-D features "
            f"(data.name=circles)."
        )
    model, record, data, _ = split_inputs(picked.loader_target(), split, (), trust_code)
    # the raw features, as predict takes them; each point normalised as in training on its way in
    title, names = f"{path.name}: {split} ({picked.said})", record.model.class_names
    return decision_boundary_figure(
        model, data.x, data.y, names, title=title, prepare=record.inputs.prepare
    )


def _pos_embed(path: Path, trust_code: bool, checkpoint: str) -> Figure:
    from vislab.plotting.canvas import drawn_figure  # on use (module docstring)
    from vislab.position_embedding import position_table

    target = pick_checkpoint(path, checkpoint).loader_target()
    return drawn_figure(position_table(target, trust_code).draw)


def _scores(
    path: Path, split: str, trust_code: bool, checkpoint: str
) -> tuple[Metrics, list[str], tuple[np.ndarray, np.ndarray], str]:
    """The metrics of ``split`` under ``checkpoint``, the class names, the raw scores (probabilities,
    class indices) and what the title calls the weights (``predict.run_label``: the run's name, with the
    checkpoint when not its best): best.pt's test predictions as saved at the end of the run, anything
    else scored anew."""
    from vislab.predict import run_label, score_split  # on use (module docstring)

    run = RunDir(path)
    saved = run.read_predictions() if (split, checkpoint) == ("test", "best") else None
    if saved is None:
        target = pick_checkpoint(path, checkpoint).loader_target()
        scored = score_split(target, split, (), trust_code)
        return scored.metrics, scored.class_names, (scored.probs, scored.data.y), run_label(target)
    probs, labels = saved.probs, saved.labels
    per_class = (run.load_summary() or RunSummary()).test_per_class
    names = list(per_class or {}) or [str(i) for i in range(probs.shape[1])]
    logits = torch.log(torch.from_numpy(probs).float().clamp_min(1e-12))
    metrics = compute_metrics(logits, torch.from_numpy(labels), probs.shape[1], with_roc=True)
    return metrics, names, (probs, labels), path.name
