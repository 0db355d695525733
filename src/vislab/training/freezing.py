"""``train.freeze``: the parameters it stops, the norm layers it holds in eval mode, and what it froze
(:class:`Frozen`), said and recorded."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from types import MethodType
from typing import Any

import torch.nn as nn

from vislab.errors import UserError
from vislab.words import first_few


@dataclass
class Frozen:
    """What ``train.freeze`` (``patterns``) froze: the parameters' names and their count of values, the
    norm layers it holds in eval mode (:func:`hold_norms`), and the parameter values left to train."""

    patterns: list[str]
    names: list[str]
    params: int
    trainable: int
    held: list[str] = field(default_factory=list)

    def line(self) -> str:
        """'train.freeze=[conv1.*, layer*]: froze 60 tensors (11,167,680 parameters); training 5,130
        parameters; 20 batch norm layers keep their running statistics'."""
        text = (
            f"train.freeze=[{', '.join(self.patterns)}]: froze {_counted(len(self.names), 'tensor')} "
            f"({_counted(self.params, 'parameter')}); training {_counted(self.trainable, 'parameter')}"
        )
        if self.held:
            keep = "keeps its" if len(self.held) == 1 else "keep their"
            text += (
                f"; {_counted(len(self.held), 'norm layer')} {keep} running statistics (eval mode)"
            )
        return text

    def record(self) -> dict[str, Any]:
        """For summary.json: the patterns, the tensors and parameters they froze, the norm layers held."""
        return {
            "patterns": list(self.patterns), "tensors": len(self.names), "params": self.params,
            "held_norms": len(self.held),
        }  # fmt: skip


def _counted(n: int, noun: str) -> str:
    """'1 tensor', '11,167,680 parameters'."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def freeze(model: nn.Module, patterns: list[str], name: str) -> Frozen:
    """Stop the gradients of parameters whose names match any pattern (fnmatch: ``features.*``), and keep
    the running statistics of the normalisation layers left with nothing to train (:func:`hold_norms`);
    what was frozen. UserError for a pattern that matches nothing, with the first names of model ``name``."""
    names = [n for n, _ in model.named_parameters()]
    modules = [n for n, _ in model.named_modules() if n]
    for pattern in patterns:
        if fnmatch.filter(names, pattern):
            continue
        if fnmatch.filter(modules, pattern) and fnmatch.filter(names, f"{pattern}.*"):
            raise UserError(
                f"train.freeze pattern '{pattern}' names a module, but the patterns match parameter "
                f"names ({first_few(fnmatch.filter(names, f'{pattern}.*'), 2)}): freeze all of "
                f"'{pattern}' with '{pattern}.*' (--set 'train.freeze=[{pattern}.*]' / "
                f"train__freeze=['{pattern}.*'])."
            )
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
    held = hold_norms(model, patterns)
    params = dict(model.named_parameters())
    n_frozen = sum(params[n].numel() for n in frozen)
    trainable = sum(p.numel() for p in params.values() if p.requires_grad)
    return Frozen(list(patterns), frozen, n_frozen, trainable, held)


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
