"""A run's history: one :class:`EpochRow` per evaluated epoch (row 0, before training, with
``train.eval_at_start``). The loop reads and writes its attributes; what leaves the loop — a line of
metrics.jsonl, the history ``last.pt`` stores, the row a :class:`~vislab.training.state.Callback` gets —
is :meth:`EpochRow.to_json`, a plain dict with the keys vislab has always written, read back with
:meth:`EpochRow.from_json` (an older ``last.pt``'s rows too)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from vislab.config.schema import SELECT_METRICS
from vislab.training.metrics import split_scores

if TYPE_CHECKING:
    from vislab.training.metrics import Metrics


@dataclass
class EpochRow:
    """An epoch's metrics: its training (mean loss and accuracy over the epoch's steps, the lr of its last
    step — None in row 0, before any step —, with ``optim.head_lr`` the head's lr at that step, its
    seconds), then the val split's when it was evaluated
    (None when not), the test split's with ``train.track_test``, ``stopped_early`` on the row after
    which ``train.early_stop`` ended the run before its last epoch, and ``fitted`` on the one row of a model
    fitted once (``trained_by="fit_arrays"``: majority, svm), which no epoch follows."""

    epoch: int
    train_loss: float | None  # None: a fitted model's row from an early vislab
    train_acc: float | None
    lr: float | None
    seconds: float
    val_acc: float | None = None
    val_pacc: float | None = None
    val_top5_acc: float | None = None  # under 10 classes: None
    val_loss: float | None = None
    val_per_class: list[float] | None = None
    test_acc: float | None = None
    test_pacc: float | None = None
    test_top5_acc: float | None = None
    test_loss: float | None = None
    stopped_early: bool = False
    fitted: bool = False
    head_lr: float | None = None  # optim.head_lr's groups at the last step, scheduled as they train
    # keys of a stored row that this vislab does not know: kept, written back after the others
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def add_val(self, val: Metrics) -> None:
        """The val split's evaluation of this epoch."""
        self.val_acc, self.val_pacc, self.val_top5_acc = val.acc, val.pacc, val.top5_acc
        self.val_loss, self.val_per_class = val.loss, val.per_class

    def add_test(self, test: Metrics | None) -> None:
        """The test split's evaluation (``train.track_test``; None: off)."""
        if test is not None:
            self.test_acc, self.test_pacc = test.acc, test.pacc
            self.test_top5_acc, self.test_loss = test.top5_acc, test.loss

    @property
    def evaluated(self) -> bool:
        """Whether val was scored after this epoch (``train.eval_every``)."""
        return self.val_acc is not None

    def metric(self, name: str) -> float | None:
        """The value of ``name``, one of :data:`SELECT_METRICS`; None where val was not scored."""
        if name not in SELECT_METRICS:
            raise ValueError(f"not a metric of an epoch's val evaluation: {name!r}")
        return getattr(self, name)

    def ends_run(self, epochs: int) -> bool:
        """Whether this is the last row of a run of ``epochs`` epochs (``train.epochs``): epoch ``epochs``'s,
        the one after which ``train.early_stop`` ended it, or a fitted model's one row."""
        return self.epoch >= epochs or self.stopped_early or self.fitted

    def to_json(self) -> dict[str, Any]:
        """The row as metrics.jsonl writes it: epoch, train_loss, train_acc, lr, head_lr (with
        ``optim.head_lr``), seconds, then — where
        scored — val's acc, pacc, top5_acc (10 classes or more), loss and per-class accuracies, test's
        acc, pacc, top5_acc and loss, and ``stopped_early: true`` and ``fitted: true`` where they are so."""
        out: dict[str, Any] = {"epoch": self.epoch}
        if self.train_loss is not None:
            out.update(train_loss=self.train_loss, train_acc=self.train_acc)
        out["lr"] = self.lr
        if self.head_lr is not None:
            out["head_lr"] = self.head_lr
        out["seconds"] = self.seconds
        if self.evaluated:
            out.update(
                split_scores("val", self.val_acc, self.val_pacc, self.val_top5_acc, self.val_loss)
            )
            out["val_per_class"] = self.val_per_class
        if self.test_acc is not None:
            out.update(
                split_scores(
                    "test", self.test_acc, self.test_pacc, self.test_top5_acc, self.test_loss
                )
            )
        if self.stopped_early:
            out["stopped_early"] = True
        if self.fitted:
            out["fitted"] = True
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> EpochRow:
        """A row as :meth:`to_json` wrote it (metrics.jsonl, a ``last.pt``'s history, old ones included);
        keys it does not know are kept in ``extra``."""
        known = {f.name for f in fields(cls)} - {"extra"}
        kw = {k: v for k, v in row.items() if k in known}
        for key, value in (
            ("train_loss", None),
            ("train_acc", None),
            ("lr", None),
            ("seconds", 0.0),
        ):
            kw.setdefault(key, value)
        for flag in ("stopped_early", "fitted"):
            kw[flag] = bool(kw.get(flag, False))
        return cls(**kw, extra={k: v for k, v in row.items() if k not in known})


def to_rows(history: list[EpochRow]) -> list[dict[str, Any]]:
    """The rows of ``history`` as metrics.jsonl writes them (:meth:`EpochRow.to_json`)."""
    return [row.to_json() for row in history]


def from_rows(rows: list[dict[str, Any]]) -> list[EpochRow]:
    """Stored rows (a ``last.pt``'s history, metrics.jsonl) as :class:`EpochRow` objects."""
    return [EpochRow.from_json(row) for row in rows]
