"""What :meth:`~vislab.run.Run.evaluate` returns: a checkpoint's scores on a split as plain values, and the
class names a run records (:attr:`~vislab.run.Run.classes`)."""

from __future__ import annotations

from pathlib import Path

from vislab.training.checkpoint import load_checkpoint, pick_checkpoint
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary


def split_scores(run: Path, split: str, sets: list[str], trust_code: bool, checkpoint: str) -> dict:
    """:meth:`Run.evaluate`'s dict of ``run``'s ``checkpoint`` on ``split`` (``sets``: data.* assignments,
    as ``--set`` takes them). Its loss is the mean cross-entropy of the model's outputs, as training's
    test_loss; top5_acc is there only for 10 classes or more, as in summary.json."""
    # on use: predict loads the model code and the data sources
    from vislab.predict import score_split
    from vislab.training.metrics import per_class_table

    path = pick_checkpoint(run, checkpoint).loader_target()
    scored = score_split(path, split, sets, trust_code, "Run.evaluate arguments")
    m, names = scored.metrics, scored.class_names
    _, rows = per_class_table(m.confusion, names)
    out = {
        "acc": m.acc,
        "pacc": m.pacc,
        "auc": m.auc,
        "loss": m.loss,
        "n": m.n,
        "per_class": dict(zip(names, m.per_class)),
        "table": rows,
        "classes": names,
        "confusion": m.confusion.astype(int).tolist(),
    }
    if m.top5_acc is not None:
        out["top5_acc"] = m.top5_acc
    return out


def run_classes(run: Path) -> list[str]:
    """The class names of ``run``, in the model's order: its summary.json's per-class scores name them;
    a run without those (not finished) reads them from its checkpoint's record, as eval and predict do."""
    summary = RunDir(run).load_summary() or RunSummary()
    named = summary.test_per_class or summary.val_per_class
    if named:
        return list(named)
    return list(load_checkpoint(pick_checkpoint(run).path).record.model.class_names)
