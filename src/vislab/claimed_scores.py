"""The score a run's summary.json claims for the weights and split eval scores (:func:`claimed_score`):
eval checks its own figure against it, and notes where they disagree (:class:`Claimed`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vislab.data.fingerprint import data_change
from vislab.data.types import Splits
from vislab.training.checkpoint import PickedCheckpoint
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary

#: the settings that leave the samples a split holds as the run drew them (a data.root: where a copy of
#: the data is, whose checksums :func:`claimed_score` compares)
_SAME_SAMPLES = ("data.root", "data.download", "train.eval_batch_size")


@dataclass(frozen=True)
class Claimed:
    """The accuracy the run's summary.json (``file``) records for the weights and split scored: its
    ``key`` (val_acc or test_acc) and ``value``, scored in ``precision`` (fp32, or a GPU's bf16 or
    fp16: summary.json's)."""

    file: Path
    key: str
    value: float
    precision: str | None = None

    def note(self, acc: float, n: int) -> str | None:
        """The note where ``acc``, scored now on ``n`` samples (in float32), is not the recorded value:
        by more than one sample and more than 0.001 — 0.005 where the run scored in bf16 or fp16, whose
        rounding flips more predictions; None where they agree."""
        slack = 0.005 if self.precision in ("bf16", "fp16") else 0.001
        if abs(acc - self.value) <= max(slack, 1.5 / max(n, 1)):
            return None
        return (
            f"'{self.file}' records {self.key} {self.value:.4f} for these weights, which get "
            f"{acc:.4f} now, on the same {self.key.split('_')[0]} split of the same data (checksums "
            f"as the run recorded them): the recorded score is not theirs (the file edited, or the "
            f"checkpoint replaced, since the run trained)."
        )


def claimed_score(
    run: Path | None,
    picked: PickedCheckpoint,
    splits: Splits,
    split: str,
    overrides: Sequence[str],
) -> Claimed | None:
    """What the summary.json of ``run`` (None: a checkpoint outside a run folder) records for ``split``
    (val or test) where it is a score of the weights ``picked`` (loaded) gives: those summary.json
    scored (:meth:`PickedCheckpoint.scored_in`; eval scores them, so a file changed since shows as a
    score that disagrees), on the split drawn as the run drew it (no setting but :data:`_SAME_SAMPLES`;
    data whose fingerprint is the one the run recorded, as many samples as summary.json counts); None
    otherwise."""
    record = picked.load().record
    if split not in ("val", "test") or record.data is None or splits.fingerprint is None:
        return None
    if any(o.split("=", 1)[0].strip() not in _SAME_SAMPLES for o in overrides):
        return None
    if data_change(record.data, splits.fingerprint) is not None or run is None:
        return None
    summary = RunDir(run).read_summary() or RunSummary()
    if not picked.scored_in(summary):
        return None
    value, n = getattr(summary, f"{split}_acc"), getattr(summary, f"n_{split}")
    if value is None or n != len(dict(splits.items())[split]):
        return None
    return Claimed(run / "summary.json", f"{split}_acc", value, summary.precision)
