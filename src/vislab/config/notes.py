"""What a config's settings do not do, told from the config alone (pure functions: a config in, text out).

- ``config_notes``: settings accepted that do nothing, or that another setting defeats — one sentence each,
  which a run prints as a ``note:`` line at its start (never an error: suites and sweeps combine settings,
  and a quick ``--epochs 1`` check of a warm-up config must still run);
- ``beyond_plain_sgd``: the settings that plain SGD at ``optim.lr`` — the hand-written step of a model that
  updates its own weights (``trained_by="manual_step"``, e.g. ``mlp-scratch``) — does not apply;
- ``augmentations_on``: the augment keys that turn an augmentation on (images only: the trainer decides).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from vislab.config.schema import AugmentConfig, Config

# schedule key → the schedule.name values that read it (training/optim.py ``lr_factor``)
SCHEDULE_READERS = {"gamma": ("exponential", "step"), "step_size": ("step",), "min_lr": ("cosine",)}

# what plain SGD at the scheduled optim.lr amounts to, for each setting that would change a step
PLAIN_SGD: dict[str, Any] = {
    "optim.momentum": 0.0,
    "optim.weight_decay": 0.0,
    "optim.head_lr": None,
    "train.label_smoothing": 0.0,
    "train.grad_clip": None,
    "train.accumulate": 1,
    "train.freeze": [],
    "augment.mixup.p": 0.0,
    "augment.cutmix.p": 0.0,
}


def given(section: BaseModel, key: str) -> bool:
    """Whether ``section.key`` is away from its default: a value the user chose. (A key set to its default
    value cannot be told from one left alone once a config is rebuilt from a whole dump — a run's
    config.yaml, a suite's run handed to its worker — so it never counts as given.)"""
    field = type(section).model_fields[key]
    return getattr(section, key) != field.get_default(call_default_factory=True)


def config_notes(cfg: Config) -> list[str]:
    """One sentence per setting of ``cfg`` that does nothing (a schedule key its schedule does not read)
    or that another defeats (a warm-up as long as the run)."""
    s = cfg.schedule
    notes = [
        f"schedule.{key}={getattr(s, key):g} does nothing with schedule.name={s.name}: only the "
        f"{' and '.join(readers)} schedule{'s read' if len(readers) > 1 else ' reads'} it."
        for key, readers in SCHEDULE_READERS.items()
        if given(s, key) and s.name not in readers
    ]
    if s.warmup_epochs >= cfg.train.epochs:
        then = "" if s.name == "none" else f" and schedule.name={s.name} never starts"
        notes.append(
            f"schedule.warmup_epochs={s.warmup_epochs:g} ≥ train.epochs={cfg.train.epochs}: the whole run "
            f"is warm-up — the lr rises towards optim.lr={cfg.optim.lr:g} until the last step{then}. "
            f"Give fewer warm-up epochs or more epochs."
        )
    return notes


def beyond_plain_sgd(cfg: Config) -> list[tuple[str, str, str]]:
    """(key, its value, what plain SGD amounts to), as ``--set`` writes values, for each setting of ``cfg``
    that plain SGD at optim.lr does not apply: an optim.name other than sgd and the default adam (which the
    run notes instead: a plain ``--set model.name=mlp-scratch`` trains), and each of ``PLAIN_SGD`` away
    from its plain value."""
    name = cfg.optim.name
    out = [("optim.name", name, "sgd")] if given(cfg.optim, "name") and name != "sgd" else []
    for key, plain in PLAIN_SGD.items():
        value = _at(cfg, key)
        if value != plain:
            out.append((key, _as_set(value), _as_set(plain)))
    return out


def augmentations_on(augment: AugmentConfig) -> list[str]:
    """The keys of ``augment`` that turn an augmentation on: each op's ``p`` > 0, RandAugment's ``num_ops``."""
    on = [
        f"augment.{name}.p"
        for name, op in augment
        if isinstance(op, BaseModel) and getattr(op, "p", 0) > 0
    ]
    return on + (["augment.randaugment.num_ops"] if augment.randaugment.num_ops else [])


def _as_set(value: Any) -> str:
    """``value`` as ``--set`` takes it (YAML): null, 0.9, [net.*]."""
    if value is None:
        return "null"
    if isinstance(value, list):
        return f"[{', '.join(map(str, value))}]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _at(cfg: Config, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node
