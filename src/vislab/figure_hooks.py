"""The figures' hooks of a model (:class:`vislab.models.hooks.ModelHooks`: ``token_grid``,
``attention_maps``, ``position_embedding``, ``gradcam_layer``), called and checked for ``vislab explain``,
``vislab figure pos-embed --run`` and the report as a run's own hooks are: the user's own model raising in
one is a UserCodeError naming the hook, with its own frames only (exit 2), and a hook that returns what its
docstring does not allow is refused, naming the hook and what it must return.
"""

from __future__ import annotations

import inspect

import torch
from torch import nn

from vislab.errors import UserCodeError
from vislab.models.hooks import BoundHooks, ModelHooks, TokenGrid, hooks_of
from vislab.training.model_checks import user_code
from vislab.words import and_list

HOOKS_DOC = "vislab.models.hooks.ModelHooks"
AGAIN = (
    "After fixing it, run the command again with --trust-code / trust_code=True (the file now differs "
    "from the one the run trained with; the hooks only read the model, so its weights still fit)."
)

#: how a transformer of the user's own offers its attention maps, for messages
HOOKS_NEEDED = (
    f"a model of your own offers them by subclassing {HOOKS_DOC} beside nn.Module and returning its "
    "patch grid, a vislab.models.hooks.TokenGrid, from token_grid() and each block's attention "
    "weights, B × heads × T × T, from attention_maps(x) (their docstrings, and the README's 'Your own "
    "model', say how)."
)


#: the figures' hooks, which a model offers by subclassing ModelHooks (never found by their names alone)
FIGURE_HOOKS = ("token_grid", "attention_maps", "position_embedding", "gradcam_layer")


def ignored_hooks(model: nn.Module) -> list[str]:
    """The figures' hooks that ``model``'s class defines as methods although vislab never calls them: it
    neither subclasses ``ModelHooks`` nor belongs to a library whose hooks vislab binds."""
    if type(hooks_of(model)) is not BoundHooks:
        return []
    return [h for h in FIGURE_HOOKS if inspect.isfunction(getattr(type(model), h, None))]


def hooks_advice(model: nn.Module) -> str:
    """How a transformer of the user's own offers its attention maps (:data:`HOOKS_NEEDED`), or, for one
    that defines the figures' hooks without subclassing ``ModelHooks``, that vislab ignores them and the
    fix (:func:`ignored_hooks`)."""
    ignored = ignored_hooks(model)
    if not ignored:
        return HOOKS_NEEDED
    cls, named = type(model).__name__, and_list([f"{h}()" for h in ignored])
    them = "them" if len(ignored) > 1 else "it"
    return (
        f"{cls} defines {named} but does not subclass {HOOKS_DOC}, so vislab ignores {them}: declare "
        f"it as class {cls}(ModelHooks, nn.Module), with from vislab.models.hooks import ModelHooks "
        f"(the README's 'Your own model' shows a small ViT). {AGAIN}"
    )


def why_no_attention(model: nn.Module, hook: str) -> str:
    """Why vislab has no attention maps of ``model`` although it asked its hooks (``hook``, e.g.
    "token_grid()", gave None), and the fix (:func:`hooks_advice`)."""
    if ignored_hooks(model):
        return hooks_advice(model)
    return f"its {hook} hook gives None, so vislab has no attention maps to draw: {HOOKS_NEEDED}"


def model_words(model: nn.Module, name: str | None) -> str:
    """The model in a message: "model 'cnn'" as its run names it, else "this model (Sequential)"."""
    return f"model '{name}'" if name else f"this model ({type(model).__name__})"


def hook_output(
    model: nn.Module, hook: str, *args: object, name: str | None = None, code: dict | None = None
) -> object:
    """``hooks_of(model).<hook>(*args)``: an exception the user's own model ``name`` (a run's
    ``record.model.name``, its code ``record.model.code``) raises in it is a UserCodeError naming the
    hook, showing its frames only (exit 2; a model defined in Python: its own exception, with a note),
    as a run's own hooks are; name None: any exception passes unchanged."""
    call = getattr(hooks_of(model), hook)
    if name is None:
        return call(*args)
    with user_code(
        name, model, f"in its {hook}() hook", lambda: AGAIN, code=_code_now(model, code)
    ):
        return call(*args)


def _code_now(model: nn.Module, code: dict | None) -> dict | None:
    """The run's record of the user's ``code`` with its path where the model's class is defined now (the
    folder may have moved since the run trained), for blaming the frames of that file and its imports."""
    if not isinstance(code, dict) or not code.get("path"):
        return code
    try:
        path = inspect.getsourcefile(type(model))
    except TypeError:  # a class without a file
        return code
    return {**code, "path": path} if path else code


def _refused(who: str, hook: str, said: str, must: str) -> UserCodeError:
    """A hook's output refused: what it gave, what it must return, and how to go on."""
    return UserCodeError(
        f"{who}: its {hook}() hook {said}; it must return {must} (see {HOOKS_DOC}.{hook}). {AGAIN}"
    )


def _grid_words(tokens: TokenGrid) -> str:
    """``TokenGrid(grid=(4, 4), class_token=True)``, as the hook would write it."""
    registers = f", registers={tokens.registers}" if tokens.registers else ""
    return f"TokenGrid(grid={tuple(tokens.grid)}, class_token={tokens.class_token}{registers})"


def figure_tokens(
    model: nn.Module, name: str | None = None, code: dict | None = None
) -> TokenGrid | None:
    """The model's ``token_grid()`` (:func:`hook_output`): a TokenGrid of a grid of two positive whole
    numbers, or None; anything else refused, naming the hook."""
    tokens = hook_output(model, "token_grid", name=name, code=code)
    if tokens is None:
        return None
    if not TokenGrid.holds_one(tokens):
        must = "a TokenGrid, e.g. TokenGrid(grid=(rows, columns), class_token=True), or None"
        raise _refused(model_words(model, name), "token_grid", f"returned {tokens!r}", must)
    return tokens


def figure_gradcam_layer(
    model: nn.Module, name: str | None = None, code: dict | None = None
) -> nn.Module | None:
    """The model's ``gradcam_layer()`` (:func:`hook_output`): one of its modules, or None; anything else
    refused, naming the hook."""
    layer = hook_output(model, "gradcam_layer", name=name, code=code)
    if layer is None or isinstance(layer, nn.Module):
        return layer
    must = "a module of the model whose output is a feature map B × C × h × w, or None"
    raise _refused(model_words(model, name), "gradcam_layer", f"returned {_kind(layer)}", must)


def figure_attentions(
    model: nn.Module,
    x: torch.Tensor,
    tokens: TokenGrid,
    name: str | None = None,
    code: dict | None = None,
) -> list[torch.Tensor] | None:
    """The model's ``attention_maps(x)`` (:func:`hook_output`): None or a list of one tensor per block,
    each B × heads × T × T with the T tokens ``tokens`` lays out (a library's model, e.g. timm's, may
    have more extra tokens); anything else refused, naming the hook and what it must return."""
    attns = hook_output(model, "attention_maps", x, name=name, code=code)
    if attns is None:
        return None
    who, b, t = model_words(model, name), len(x), tokens.tokens
    must = f"a list of one tensor per block, each B × heads × T × T ({b} × heads × {t} × {t} here)"
    if not isinstance(attns, (list, tuple)) or not all(isinstance(a, torch.Tensor) for a in attns):
        raise _refused(who, "attention_maps", f"returned {_kind(attns)}", must)
    for i, a in enumerate(attns):
        if a.ndim != 4 or a.shape[0] != b or a.shape[2] != a.shape[3]:
            kept = ", the heads kept apart, not averaged" if a.ndim == 3 else ""
            said = f"gave block {i}'s maps of shape {list(a.shape)} for a batch of {b}"
            raise _refused(who, "attention_maps", said, must + kept)
        own = isinstance(model, ModelHooks)  # the model's own hooks, not a library's (timm's)
        if a.shape[-1] != t and (own or a.shape[-1] < t):
            raise UserCodeError(_token_mismatch(who, tokens, int(a.shape[-1])))
    return list(attns)


def _token_mismatch(who: str, tokens: TokenGrid, given: int) -> str:
    """Why attention maps over ``given`` tokens do not fit the token grid, and the fix."""
    n, grid = tokens.grid[0] * tokens.grid[1], tuple(tokens.grid)
    if given == n + 1 and not tokens.class_token and not tokens.registers:
        fix = (
            f"if token 0 is a class token, return TokenGrid(grid={grid}, class_token=True) from "
            f"token_grid()"
        )
    else:
        fix = (
            "make token_grid() give the patch grid (rows, columns), class token and registers that the "
            "attention maps list"
        )
    return (
        f"{who}: its attention_maps() hook gives maps over {given} tokens, but its token_grid() hook, "
        f"{_grid_words(tokens)}, lays out {tokens.tokens} (a class token if any, registers if any, then "
        f"{grid[0]} × {grid[1]} patches): {fix} (see {HOOKS_DOC}.token_grid). {AGAIN}"
    )


def figure_position_table(
    model: nn.Module, tokens: TokenGrid, name: str | None = None, code: dict | None = None
) -> torch.Tensor | None:
    """The model's ``position_embedding()`` (:func:`hook_output`) as a T × D tensor: the class token's row
    (if it has one) then the n patches' (a register's row left out), or the n patches' alone; a
    parameter stored 1 × T × D is taken as T × D. Anything else refused, naming the hook."""
    table = hook_output(model, "position_embedding", name=name, code=code)
    if table is None:
        return None
    n, cls = tokens.grid[0] * tokens.grid[1], int(tokens.class_token)
    rows = f"{n + cls} rows, the class token's then the {n} patches'" if cls else f"{n} rows"
    must = f"a torch.Tensor T × D ({rows}; e.g. self.pos_embed[0] for a parameter 1 × T × D)"
    who = model_words(model, name)
    if not isinstance(table, torch.Tensor):
        raise _refused(who, "position_embedding", f"returned {_kind(table)}", must)
    if table.ndim == 3 and table.shape[0] == 1:
        table = table[0]
    if table.ndim != 2 or len(table) not in {n, n + cls, tokens.tokens}:
        said = f"returned a table of shape {list(table.shape)} for {_grid_words(tokens)}"
        raise _refused(who, "position_embedding", said, must)
    if len(table) == tokens.tokens and tokens.registers:
        table = torch.cat([table[:cls], table[-n:]])
    return table


def _kind(value: object) -> str:
    """What a hook returned, in a message: ``a numpy.ndarray``, ``a list of ndarray``."""
    kind = type(value)
    what = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    if isinstance(value, (list, tuple)) and value:
        what += f" of {type(value[0]).__name__}"
    return f"a {what}"


def attention_layer(model: nn.Module) -> str | None:
    """The name of ``model``'s first layer that looks like attention (an ``nn.MultiheadAttention``, or a
    class named ...Attention / ...Attn), or None."""
    for layer_name, m in model.named_modules():
        kind = type(m).__name__.lower()
        if isinstance(m, nn.MultiheadAttention) or kind.endswith(("attention", "attn")):
            return f"'{layer_name}' ({type(m).__name__})"
    return None
