"""What a checkpoint says, as typed objects: the run's record (model, inputs, config, version), the
weights, and — in ``last.pt`` — what resuming needs. The one module that knows a checkpoint file's keys
(a run's summary.json has its own: :mod:`vislab.training.summary`).

On disk a checkpoint stays a flat dict of plain types and tensors (loaded with ``weights_only=True``);
the keys are the ones vislab has written since checkpoints began, so older files load unchanged:
``model_name, model_code, model_kwargs, input_shape, sample_shape, num_classes, class_names,
preprocess, tta, config, vislab_version, data_fingerprint, state_dict`` and ``epoch`` (best.pt) or
``optimizer, history, state, rng, cuda_rng, step_tracking, ema, scaler, split_sizes, world_size``
(last.pt); keys added later have defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from vislab.config import as_stored
from vislab.data.fingerprint import is_fingerprint
from vislab.data.input_spec import InputSpec
from vislab.data.preprocess import NormStats
from vislab.data.tta import TTA_MODES
from vislab.errors import DataError
from vislab.training.history import EpochRow, from_rows, to_rows
from vislab.training.state import LoopState

_REQUIRED = {
    "model_name": str,
    "model_kwargs": dict,
    "input_shape": (list, tuple),
    "num_classes": int,
    "class_names": (list, tuple),
    "preprocess": dict,
    "state_dict": dict,
}


@dataclass(frozen=True)
class ModelRecord:
    """The model a run trained: registry name (or ``file.py:Net``), options and classes. ``code``: a
    user's own model — its reference, file and sha256 (``vislab.models.user``)."""

    name: str
    kwargs: dict
    class_names: list[str]
    code: dict | None = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


@dataclass(frozen=True)
class RunRecord:
    """What every checkpoint of a run carries beside the weights."""

    model: ModelRecord
    inputs: InputSpec
    config: dict | None  # the validated config as plain values (None only in hand-made files)
    vislab_version: str = "unknown"
    # what its splits came from (vislab.data.fingerprint); None: not recorded (older files)
    data: dict | None = None
    # where its weights started: train.init_from's record (finetune.Start.record), kept by every
    # checkpoint, a resume's too (it loads the run's own weights); None: no train.init_from, or older files
    init_from: dict | None = None


@dataclass
class Resume:
    """What ``last.pt`` holds beyond the weights to continue exactly where the loop stopped."""

    loop: LoopState
    history: list[EpochRow]  # on disk: the rows as metrics.jsonl has them (EpochRow.to_json)
    optimizer: dict | None = None
    rng: torch.Tensor | None = None  # CPU RNG of an epoch interrupted mid-way
    cuda_rng: torch.Tensor | None = None
    step_tracking: dict | None = None  # train.log_every / track_grad_norm sums
    ema: dict | None = None  # train.ema: the averaged weights (state_dict holds the live ones)
    scaler: dict | None = None  # fp16 training: the loss scaler's scale and growth tracker
    split_sizes: dict[str, int] | None = None  # train/val/test samples the run started on
    world: int | None = None  # the processes that trained it (None: not recorded, an older last.pt)


@dataclass
class Checkpoint:
    """A checkpoint file: the record, the weights, and either the epoch it was taken at (best.pt) or the
    state to resume from (last.pt)."""

    record: RunRecord
    state_dict: dict[str, torch.Tensor]
    epoch: int | None = None
    resume: Resume | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        r, m, spec = self.record, self.record.model, self.record.inputs
        out: dict[str, Any] = dict(
            model_name=m.name,
            model_code=m.code,
            model_kwargs=m.kwargs,
            input_shape=list(spec.input_shape),
            sample_shape=list(spec.sample_shape),
            num_classes=m.num_classes,
            class_names=list(m.class_names),
            preprocess=spec.stats.to_dict(),
            tta=spec.tta,
            config=r.config,
            vislab_version=r.vislab_version,
            state_dict=self.state_dict,
        )
        if r.data is not None:
            out["data_fingerprint"] = r.data
        if r.init_from is not None:
            out["init_from"] = r.init_from
        if self.epoch is not None:
            out["epoch"] = self.epoch
        if self.resume is not None:
            out.update(_resume_dict(self.resume))
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str, fix: str = "") -> Checkpoint:
        """The typed checkpoint; DataError naming ``source`` when a field is missing or malformed, ending
        with ``fix`` (what to do about it)."""
        _check(d, source, fix)
        model = ModelRecord(
            d["model_name"], dict(d["model_kwargs"]), [str(n) for n in d["class_names"]],
            d.get("model_code"),
        )  # fmt: skip
        shape = tuple(d["input_shape"])
        sample = tuple(d.get("sample_shape") or shape)
        stats = NormStats.from_dict(d["preprocess"])
        spec = InputSpec(sample, shape, stats, str(d.get("tta", "none")))
        config = as_stored(d["config"]) if isinstance(d.get("config"), dict) else None
        data = d.get("data_fingerprint")
        version = str(d.get("vislab_version", "unknown"))
        fingerprint = data if is_fingerprint(data) else None
        init = d.get("init_from") if isinstance(d.get("init_from"), dict) else None
        record = RunRecord(model, spec, config, version, fingerprint, init)
        return cls(record, d["state_dict"], d.get("epoch"), _resume_of(d))


def _resume_dict(r: Resume) -> dict[str, Any]:
    return dict(
        optimizer=r.optimizer,
        history=to_rows(r.history),
        state=r.loop.to_dict(),
        rng=r.rng,
        cuda_rng=r.cuda_rng,
        step_tracking=r.step_tracking,
        ema=r.ema,
        scaler=r.scaler,
        split_sizes=r.split_sizes,
        world_size=r.world,
    )


def _resume_of(d: dict[str, Any]) -> Resume | None:
    """last.pt's resume state; None for a file without one (best.pt, or a damaged last.pt)."""
    if not (isinstance(d.get("state"), dict) and isinstance(d.get("history"), list)):
        return None
    if not isinstance(d.get("config"), dict):
        return None
    return Resume(
        LoopState.from_dict(d["state"]), from_rows(d["history"]), d.get("optimizer"), d.get("rng"),
        d.get("cuda_rng"), d.get("step_tracking"), d.get("ema"), d.get("scaler"),
        _split_sizes(d.get("split_sizes")), _world(d.get("world_size")),
    )  # fmt: skip


def _split_sizes(value: object) -> dict[str, int] | None:
    """last.pt's ``split_sizes``; None where it has none (written before vislab recorded them)."""
    if isinstance(value, dict) and all(type(n) is int for n in value.values()):
        return {str(k): n for k, n in value.items()}
    return None


def _world(value: object) -> int | None:
    """last.pt's ``world_size``; None where it has none (written before vislab recorded it)."""
    return value if type(value) is int and value >= 1 else None


def _check(d: dict[str, Any], source: str, fix: str) -> None:
    bad = [k for k, t in _REQUIRED.items() if not isinstance(d.get(k), t)]
    if not bad and len(d["class_names"]) != d["num_classes"]:
        bad.append("class_names")
    if not _fits_crop(d.get("sample_shape"), d.get("input_shape")):
        bad.append("sample_shape")
    if "preprocess" not in bad and not _is_stats(d["preprocess"]):
        bad.append("preprocess")
    if d.get("tta", "none") not in TTA_MODES:
        bad.append("tta")
    if bad:
        raise DataError(
            f"checkpoint '{source}' lacks or has malformed {', '.join(bad)}: it is damaged or was not "
            f"written by vislab's trainer. {fix}".strip()
        )


def _fits_crop(sample: object, model_input: object) -> bool:
    """A checkpoint's ``sample_shape`` (absent before ``augment.crop.size``): the images, of which the
    model's ``input_shape`` is the centre crop — same length and channels, sides at least as large."""
    if sample is None:
        return True
    if not (_is_shape(sample) and _is_shape(model_input) and len(sample) == len(model_input)):
        return False
    return sample[0] == model_input[0] and all(a >= b for a, b in zip(sample, model_input))


def _is_stats(value: dict) -> bool:
    """Whether a checkpoint's ``preprocess`` dict holds what its mode needs (:class:`NormStats`)."""
    try:
        NormStats.from_dict(value)
    except ValueError:
        return False
    return True


def _is_shape(value: object) -> bool:
    return isinstance(value, (list, tuple)) and all(type(v) is int and v > 0 for v in value)
