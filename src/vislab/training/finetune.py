"""Building on an earlier run (``train.init_from``): its weights as the new model's start, the tensors it
cannot give (shapes that differ, as a head for other classes; names it lacks) left freshly initialised and
named, as are its tensors this model has no place for; ``train.freeze`` patterns, and the head's own
learning rate (``optim.head_lr``)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import MethodType

import torch
import torch.nn as nn

from vislab.errors import UserError
from vislab.models.hooks import hooks_of, last_linear_to
from vislab.training.checkpoint import load_checkpoint, pick_checkpoint
from vislab.words import first_few

#: how many names (or whole modules, ``blocks.2.*``) a list in :meth:`Start.line` shows before "and N more"
MOST_SHOWN = 6


@dataclass
class Start:
    """What ``init_from_run`` did: where from, how many of the model's tensors came over, which were
    re-initialised (shapes differ), which the source lacks (they stay new) and which of the source's
    this model has no place for (not used). ``ours``/``theirs``: the model's and the source's tensor names
    (a module whose tensors are all in a list is shown as one: :func:`_shown`)."""

    source: str
    loaded: int
    reinitialised: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)
    ours: tuple[str, ...] = field(default=(), repr=False)
    theirs: tuple[str, ...] = field(default=(), repr=False)

    def line(self) -> str:
        """'initialised from runs/vit: 32 of 44 tensors; new (runs/vit has no such tensor): blocks.2.*
        (12 tensors)'."""
        of = f" of {len(self.ours)}" if self.ours else ""
        text = f"initialised from {self.source}: {self.loaded}{of} tensors"
        said = (
            ("reinitialised", "re-initialised (shapes differ)"),
            ("new", f"new ({self.source} has no such tensor)"),
            ("unused", f"not used ({self.source}'s, no such tensor here)"),
        )
        for key, words in said:
            if names := getattr(self, key):
                among = self.theirs if key == "unused" else self.ours
                text += f"; {words}: {_shown(names, among or names)}"
        return text


def init_from_run(model: nn.Module, source: str) -> Start:
    """Load ``source``'s (a run folder or checkpoint) best weights into ``model`` wherever name and shape
    match; UserError when fewer than half of the model's tensors find a match (another architecture).
    A run folder without best.pt gives what best.pt would hold (a ``train.ema`` run: last.pt's average, as
    its note says); a checkpoint file named gives its own weights."""
    picked = pick_checkpoint(source)
    picked.show_note()
    path = picked.path
    theirs = picked.weights(load_checkpoint(path))
    ours = model.state_dict()
    fits = {k: v for k, v in theirs.items() if k in ours and ours[k].shape == v.shape}
    if len(fits) * 2 < len(ours):
        raise UserError(
            f"train.init_from={source}: only {len(fits)} of this model's {len(ours)} weight tensors have "
            f"a namesake of the same shape in {path}, so it is not the same architecture. Initialise "
            f"from a run of the same model (model.* as there, other classes are fine)."
        )
    model.load_state_dict(fits, strict=False)
    reinit = sorted(k for k in ours if k not in fits and k in theirs)
    new = sorted(k for k in ours if k not in theirs)
    unused = sorted(k for k in theirs if k not in ours)
    return Start(str(source), len(fits), reinit, new, unused, tuple(ours), tuple(theirs))


def _shown(names: list[str], among: Iterable[str]) -> str:
    """``names`` for a message: a module whose tensors in ``among`` are all named, 3 or more, as one
    ``blocks.2.* (12 tensors)``; the first :data:`MOST_SHOWN` of those and the other names, then how many
    more."""
    named = set(names)
    under: dict[str, list[str]] = {}  # module → its tensors in among
    for key in among:
        parts = key.split(".")
        for i in range(1, len(parts)):
            under.setdefault(".".join(parts[:i]), []).append(key)
    shown: dict[str, int] = {}  # what is shown → how many tensors it stands for
    for name in names:
        parts = name.split(".")
        prefixes = (".".join(parts[:i]) for i in range(1, len(parts)))
        whole = [p for p in prefixes if len(under[p]) >= 3 and named.issuperset(under[p])]
        item = f"{whole[0]}.*" if whole else name  # the outermost module named whole
        shown[item] = shown.get(item, 0) + 1
    items = [f"{k} ({n} tensors)" if k.endswith(".*") else k for k, n in shown.items()]
    return first_few(items, MOST_SHOWN)


def freeze(model: nn.Module, patterns: list[str], name: str) -> list[str]:
    """Stop the gradients of parameters whose names match any pattern (fnmatch: ``features.*``), and keep
    the running statistics of the normalisation layers left with nothing to train (:func:`hold_norms`); the
    names frozen. UserError for a pattern that matches nothing, with the first names of model ``name``."""
    names = [n for n, _ in model.named_parameters()]
    for pattern in patterns:
        if not fnmatch.filter(names, pattern):
            shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
            raise UserError(
                f"train.freeze pattern '{pattern}' matches no parameter of this model. Its parameters "
                f"are named like: {shown} (`vislab model info {name}` / vislab.model_info({name!r}) "
                f"lists its layers)."
            )
    frozen = [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]
    for n, p in model.named_parameters():
        if n in frozen:
            p.requires_grad_(False)
    hold_norms(model, patterns)
    return frozen


def hold_norms(model: nn.Module, patterns: list[str]) -> list[str]:
    """Keep in eval mode, whatever ``model.train()`` says, each batch/instance norm layer with running
    statistics that ``patterns`` freeze whole: all its parameters (one without any: its running_mean)
    match one. As in the usual fine-tuning, it then normalises by the statistics it was trained with and
    never updates them, so a frozen backbone's outputs stay as they were. The names of those layers."""
    held = []
    for module_name, m in model.named_modules():
        if not isinstance(m, nn.modules.batchnorm._NormBase) or not m.track_running_stats:
            continue
        names = [f"{module_name}.{n}" for n, _ in m.named_parameters(recurse=False)]
        names = names or [f"{module_name}.running_mean"]  # affine=False: nothing else to match
        if all(any(fnmatch.fnmatch(n, pat) for pat in patterns) for n in names):
            m.train = MethodType(_eval_only, m)  # nn.Module.train calls each child's own train()
            m.eval()
            held.append(module_name)
    return held


def _eval_only(module: nn.Module, mode: bool = True) -> nn.Module:
    """A held norm layer's ``train(mode)``: eval mode, whatever the mode asked."""
    return nn.Module.train(module, False)


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
    ``lr_scale`` follows the schedule as the rest does)."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if head_lr is None:
        return [p for _, p in trainable]
    body = [p for n, p in trainable if n not in head]
    top = [p for n, p in trainable if n in head]
    groups = [{"params": body}, {"params": top, "lr": head_lr, "lr_scale": head_lr / lr}]
    return [g for g in groups if g["params"]]  # everything but the head may be frozen
