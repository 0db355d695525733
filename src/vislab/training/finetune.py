"""Building on an earlier run (``train.init_from``): its weights as the new model's start, the tensors it
cannot give (other shapes, as a head for other classes; names it lacks) left new and named, as are its own
this model has no place for; a head for other classes re-initialised (``train.init_head``), a first conv
of other colours adapted; notes where the new run prepares its inputs otherwise (:func:`transfer_notes`);
summary.json's record of the start and the head's lr (``optim.head_lr``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn as nn

from vislab.config import Config, DataConfig
from vislab.config.build import setting
from vislab.errors import UserError, show_note
from vislab.models.hooks import hooks_of, last_linear_to
from vislab.models.registry import weight_options
from vislab.models.weights import adapted_channels, first_conv, grouped_names, shown_names
from vislab.training.checkpoint import CHECKPOINT_FIX, damaged_fix, load_checkpoint, pick_checkpoint
from vislab.training.freezing import Frozen
from vislab.words import first_few

if TYPE_CHECKING:  # an annotation only
    from vislab.training.record import Checkpoint

#: what to give train.init_from instead of a file that is no vislab checkpoint (another library's weights)
INIT_FROM_FIX = (
    "train.init_from takes a vislab run folder or one of its checkpoints (checkpoints/best.pt, last.pt). "
    "A weights file of another library (a torchvision or timm state dict) is a model's weights: give it "
    "as --set model.weights=FILE / model__weights='FILE' (resnet18, timm:<name>) instead."
)


@dataclass
class Start:
    """What ``init_from_run`` did: where from, how many of the model's tensors came over, the head left
    new for other classes (``head``, ``head_why``: why, or why no head could be), which were re-initialised
    (shapes differ), which the source lacks (they stay new), which of the source's this model has no place
    for (not used) and which were adapted to other colours (``adapted``, as ``adapted_how`` says).
    ``ours``/``theirs``: the model's and the source's tensor names (a module whose tensors are all in a
    list is shown as one: :func:`shown_names`)."""

    source: str
    loaded: int
    reinitialised: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    ours: tuple[str, ...] = field(default=(), repr=False)
    theirs: tuple[str, ...] = field(default=(), repr=False)
    head: list[str] = field(default_factory=list)
    head_why: str = ""
    adapted: list[str] = field(default_factory=list)
    adapted_how: str = ""

    def _said(self) -> list[tuple[str, str]]:
        """Each list's field and its words, in the order the line and the record give them."""
        return [
            ("head", f"head re-initialised ({self.head_why})"),
            ("adapted", self.adapted_how),
            ("reinitialised", "re-initialised (shapes differ)"),
            ("new", f"new ({self.source} has no such tensor)"),
            ("unused", f"not used ({self.source}'s, no such tensor here)"),
        ]

    def line(self) -> str:
        """'initialised from runs/vit: 32 of 44 tensors; new (runs/vit has no such tensor): blocks.2.*
        (12 tensors)'."""
        of = f" of {len(self.ours)}" if self.ours else ""
        text = f"initialised from {self.source}: {self.loaded}{of} tensors"
        for key, words in self._said():
            if names := getattr(self, key):
                among = self.theirs if key == "unused" else self.ours
                text += f"; {words}: {shown_names(names, among or names)}"
        if self.head_why and not self.head:  # other classes, but no head to re-initialise
            text += f"; {self.head_why}"
        return text

    def record(self) -> dict[str, Any]:
        """For summary.json: the source, the model's tensors and how many were loaded, and each list that
        holds any as module patterns (``blocks.2.*``, :func:`grouped_names`) with its count of tensors."""
        out: dict[str, Any] = {
            "source": self.source,
            "tensors": len(self.ours),
            "loaded": self.loaded,
        }
        for key, _ in self._said():
            if names := getattr(self, key):
                among = self.theirs if key == "unused" else self.ours
                out[key] = {
                    "tensors": len(names),
                    "names": list(grouped_names(names, among or names)),
                }
        return out


def init_from_run(
    model: nn.Module,
    source: str,
    class_names: list[str] | None = None,
    head: str = "auto",
    data: DataConfig | None = None,
) -> Start:
    """Load ``source``'s (a run folder or checkpoint) best weights into ``model`` wherever name and shape
    match (a first conv of other colours adapted: :func:`adapted_channels`); UserError when fewer than
    half of the model's tensors find a match (another architecture). ``class_names``: this run's; the
    model's head is left new (:func:`_new_head`, ``head``: train.init_head) where the source's differ.
    A run folder without best.pt gives what best.pt would hold (a ``train.ema`` run: last.pt's average, as
    its note says); a checkpoint file named gives its own weights (a ``train.ema`` run's last.pt: its
    average). ``data``: this run's data settings, a
    note where the source's inputs were prepared otherwise (:func:`_other_inputs`)."""
    path, ckpt, theirs = _source(source)
    if data is not None and (other := _other_inputs(ckpt, data, source)):
        show_note(other)
    ours = model.state_dict()
    fits = {k: v for k, v in theirs.items() if k in ours and ours[k].shape == v.shape}
    first = first_conv(ours)  # only the conv that sees the colours is adapted to others
    adapted = {
        k: a
        for k, v in theirs.items()
        if k == first and k not in fits and (a := _adapt(v, ours[k]))
    }
    if (len(fits) + len(adapted)) * 2 < len(ours):
        raise UserError(
            f"train.init_from={source}: only {len(fits)} of this model's {len(ours)} weight tensors have "
            f"a namesake of the same shape in {path}, so it is not the same architecture. Initialise "
            f"from a run of the same model (model.* as there, other classes are fine)."
        )
    theirs_names = list(ckpt.record.model.class_names) if class_names is not None else None
    left, why = _new_head(model, fits, theirs_names, class_names, head, source)
    taken = {k: v for k, v in fits.items() if k not in left} | {
        k: a for k, (a, _) in adapted.items()
    }
    model.load_state_dict(taken, strict=False)
    reinit = sorted(k for k in ours if k not in fits and k not in adapted and k in theirs)
    new = sorted(k for k in ours if k not in theirs)
    unused = sorted(k for k in theirs if k not in ours)
    how = next((h for _, h in adapted.values()), "")
    return Start(
        str(source), len(taken), reinit, new, unused, tuple(ours), tuple(theirs), left, why,
        sorted(adapted), how,
    )  # fmt: skip


#: the data settings that decide what values a model's inputs hold, as a run records them
INPUT_SETTINGS = ("normalize", "resize")


def _other_inputs(ckpt: Checkpoint, data: DataConfig, source: str) -> str:
    """A note where ``source`` (its checkpoint ``ckpt``) trained on inputs prepared otherwise than ``data``
    prepares them (:data:`INPUT_SETTINGS`): its weights see other values than they learnt on. Empty
    where they agree or the source recorded no data settings."""
    recorded = setting(ckpt.record.config, "data", None)
    if not isinstance(recorded, dict):
        return ""
    differ = [
        (k, recorded[k], getattr(data, k))
        for k in INPUT_SETTINGS
        if k in recorded and recorded[k] != getattr(data, k)
    ]
    if not differ:
        return ""
    theirs = ", ".join(f"data.{k}={_text(v)}" for k, v, _ in differ)
    ours = ", ".join(f"data.{k}={_text(v)}" for k, _, v in differ)
    sets = " ".join(f"--set data.{k}={_text(v)}" for k, v, _ in differ)
    kwargs = ", ".join(f"data__{k}={v!r}" for k, v, _ in differ)
    return (
        f"train.init_from={source}: its weights were trained on inputs prepared with {theirs}, this run "
        f"gives them {ours}: they see other values than they learnt on. {sets} / {kwargs} prepares "
        f"them as there."
    )


def _text(value: Any) -> str:
    """A setting's value as --set takes it: None as null."""
    return "null" if value is None else str(value)


def transfer_notes(cfg: Config, start: Start | None) -> None:
    """Notes for a new run's model.pretrained=true (a family's published weights, as it declares them:
    :func:`~vislab.models.registry.weight_options`): beside data.normalize left at its default, where
    they are the run's start (no model.weights file, no train.init_from), the ImageNet statistics they
    expect; where train.init_from (``start``) replaced every tensor, that it does nothing."""
    declared, options = weight_options(cfg.model.name), cfg.model.kwargs()
    if declared is None or options.get(declared.published) is not True:
        return
    if start is None and options.get(declared.file) is None:
        if "normalize" not in cfg.data.model_fields_set:
            show_note(
                "model.pretrained=true: pretrained weights expect inputs normalised with the ImageNet "
                "statistics they were trained on, and data.normalize is left at its default (standard: "
                "fitted on this train split). --set data.normalize=imagenet / data__normalize='imagenet' "
                "gives them those."
            )
    elif start is not None and start.loaded == len(start.ours):
        show_note(
            f"model.pretrained=true does nothing here: train.init_from={start.source} replaced every "
            f"tensor of the model. Remove model.pretrained."
        )


def _source(source: str) -> tuple[Path, Checkpoint, dict[str, torch.Tensor]]:
    """The checkpoint file of ``source`` (a run folder or checkpoint: :func:`pick_checkpoint`, its note
    warned), the checkpoint and its weights used; UserError naming train.init_from where there is no such
    path, DataError for a file that is no vislab checkpoint (the fix: :data:`INIT_FROM_FIX`)."""
    if not Path(source).exists():
        raise UserError(
            f"train.init_from: '{source}' does not exist. Give a vislab run folder (its best weights are "
            f"used) or a checkpoint file of one: --init-from runs/NAME / train__init_from='runs/NAME', "
            f"in a config or suite file train.init_from: runs/NAME."
        )
    picked = pick_checkpoint(source)
    picked.show_note()
    # a run's best.pt or last.pt: the other one, as train.init_from
    fix = damaged_fix(picked.path, lambda f: f"train with --init-from {f} / train__init_from='{f}'")
    ckpt = load_checkpoint(picked.path, INIT_FROM_FIX if fix == CHECKPOINT_FIX else fix)
    return picked.path, ckpt, picked.weights(ckpt)


def _adapt(theirs: torch.Tensor, ours: torch.Tensor) -> tuple[torch.Tensor, str] | None:
    """``theirs`` adapted to ``ours``' colours (:func:`adapted_channels`), in ``ours``' dtype; None else."""
    adapted = adapted_channels(theirs, ours.shape)
    return (adapted[0].to(ours.dtype), adapted[1]) if adapted else None


def _new_head(
    model: nn.Module,
    fits: dict[str, torch.Tensor],
    theirs: list[str] | None,
    ours: list[str] | None,
    rule: str,
    source: str,
) -> tuple[list[str], str]:
    """The head's tensors among ``fits`` (same shape) to leave new, and why in words: ``rule`` "new", always;
    "keep", never; "auto" (train.init_head's default), where the source's classes ``theirs`` are not this
    run's ``ours`` (names or order: its outputs would be read as other classes); none, unsaid, where no
    head tensor fits in shape (another number of classes: re-initialised, shapes differ). A model whose
    head is unknown (no head_modules() hook, no last Linear to the classes): none, and why."""
    if rule == "keep" or ours is None or (rule == "auto" and theirs == ours):
        return [], ""
    order = sorted(theirs or []) == sorted(ours)  # the same classes, in another order
    other = f"{source}'s classes were {first_few(theirs or [], 4)}" + (
        ", in another order" if order else ", not this run's"
    )
    head = _head_tensors(model, len(ours))
    if head is None:
        return [], (
            f"{'train.init_head=new' if rule == 'new' else other}, but this model names no head to "
            f"re-initialise (a head_modules() hook of vislab.models.hooks.ModelHooks; default its last "
            f"nn.Linear to the classes): all loaded"
        )
    left = sorted(k for k in fits if k in head)
    if not left:  # no head tensor fits in shape (another number of classes): re-initialised as such
        return [], ""
    why = "train.init_head=new" if rule == "new" else f"{other}; train.init_head=keep loads it"
    return left, why


def _head_tensors(model: nn.Module, num_classes: int) -> set[str] | None:
    """The state-dict names of the modules the model's ``head_modules`` hook names (default: its last
    nn.Linear to ``num_classes`` values); None where it has none (a hook naming no module of it)."""
    modules = hooks_of(model).head_modules()
    if modules is None:
        last = last_linear_to(model, num_classes)
        modules = [] if last is None else [last]
    names = {n for n, _ in model.named_modules()}
    modules = [m for m in modules if m in names]
    if not modules:
        return None
    keys = model.state_dict()
    return {k for m in modules for k in keys if k.startswith(f"{m}.") or not m}


def start_summary(
    model: nn.Module,
    start: Start | None,
    frozen: Frozen | None,
    fitted: bool,
    earlier: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """summary.json's ``trainable_params`` (the parameter values the steps train, as ``vislab model info``
    counts them: not those train.freeze froze; none for a ``fitted`` model, which takes no steps) and
    ``init`` (where the weights came from and what was frozen: :meth:`Start.record`, or for a resumed
    run, which loads nothing from another, ``earlier``: what its first start recorded; :meth:`Frozen.record`;
    left out for a run with neither)."""
    out: dict[str, Any] = {}
    if not fitted:
        out["trainable_params"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    first = start.record() if start is not None else earlier
    init = {"init_from": first} if first else {}
    if frozen:
        init["freeze"] = frozen.record()
    return out | ({"init": init} if init else {})


def head_names(model: nn.Module, num_classes: int, reinitialised: list[str]) -> list[str]:
    """The classifier's parameters: those of the modules the model's ``head_modules`` hook names (default:
    its last nn.Linear to ``num_classes`` values); where it has none, the tensors re-initialised from
    another run (a head for other classes). Not those alone: a stem re-initialised for another number of
    channels is no head."""
    params = dict(model.named_parameters())
    modules = hooks_of(model).head_modules()
    if modules is None:
        last = last_linear_to(model, num_classes)
        if last is None and (reinit := [n for n in reinitialised if n in params]):
            return reinit
        if last is None:
            raise UserError(
                f"optim.head_lr: this model has no final nn.Linear to {num_classes} classes to call its "
                f"head. Name its head in a head_modules() hook (vislab.models.hooks.ModelHooks), or "
                f"remove optim.head_lr."
            )
        modules = [last]
    owned = {id(p) for name in modules for p in _declared_module(model, name).parameters()}
    head = [n for n, p in params.items() if id(p) in owned]
    if not head:
        raise UserError(
            f"optim.head_lr: this model's head ({', '.join(modules) or 'no module'}) has no parameters "
            f"to train at their own learning rate. Remove optim.head_lr."
        )
    return head


def _declared_module(model: nn.Module, name: str) -> nn.Module:
    """The module ``name`` of ``model``'s ``head_modules`` hook; UserError when it has none of that name."""
    try:
        return model.get_submodule(name)
    except AttributeError:
        names = [n for n, _ in model.named_modules() if n]
        shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
        raise UserError(
            f"optim.head_lr: the head_modules() hook of {type(model).__name__} names '{name}', which is "
            f"no module of it. Name its head as named_modules() lists it: {shown}."
        ) from None


def param_groups(
    model: nn.Module, head: list[str], head_lr: float | None, lr: float
) -> list[dict] | list[torch.nn.Parameter]:
    """The trainable parameters, the head in a group of its own at ``head_lr`` when given (its
    ``lr_scale`` follows the schedule as the rest does); UserError where train.freeze froze the head."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if head_lr is None:
        return [p for _, p in trainable]
    body = [p for n, p in trainable if n not in head]
    top = [p for n, p in trainable if n in head]
    if head and not top:
        raise UserError(
            f"optim.head_lr={head_lr:g} trains the head ({shown_names(head, dict(model.named_parameters()))}) "
            f"at its own learning rate, but train.freeze freezes all of it: nothing would train at "
            f"optim.head_lr. Remove optim.head_lr, or leave the head out of train.freeze."
        )
    groups = [{"params": body}, {"params": top, "lr": head_lr, "lr_scale": head_lr / lr}]
    return [g for g in groups if g["params"]]  # everything but the head may be frozen
