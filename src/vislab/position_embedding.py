"""A transformer's position embedding, as ``vislab figure pos-embed --run`` and ``Run.plot("pos-embed")``
draw it: the model's own table, as its hooks offer it (vislab's ``vit``, timm ViTs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from vislab.errors import UserError
from vislab.figure_hooks import (
    figure_position_table,
    figure_tokens,
    hook_output,
    hooks_advice,
    ignored_hooks,
)
from vislab.models.hooks import TokenGrid
from vislab.plotting import vit as vit_plots
from vislab.predict import load_model


@dataclass
class PositionTable:
    """What :func:`vislab.plotting.vit.plot_pos_embedding` draws: a T × D ``table`` of positions, the
    ``grid`` (rows, columns) its patches form (None: a 1-D sequence), row 0 the class token's when
    ``class_token``, and the figure's ``title``."""

    table: torch.Tensor
    grid: tuple[int, int] | None
    class_token: bool
    title: str

    def draw(self, path: str | Path) -> Path:
        """The PNG (or SVG, PDF) of the table and the cosine similarity of its positions."""
        return vit_plots.plot_pos_embedding(
            self.table, self.grid, path, class_token=self.class_token, title=self.title
        )


def position_table(target: str | Path, trust_code: bool = False) -> PositionTable:
    """The position embedding of a run's (or checkpoint's) model, as its hooks offer it (vislab's
    ``vit``, timm ViTs); UserError naming the model for one without."""
    model, record = load_model(target, trust_code=trust_code)
    name, code = record.model.name, record.model.code
    tokens = figure_tokens(model, name, code)
    if tokens is None:  # the table asked too, for the message to name the hooks that give None
        if ignored_hooks(model):
            raise UserError(
                f"'{target}': its model is {name}, which has no position embedding that vislab reads: "
                f"{hooks_advice(model)}"
            )
        given = hook_output(model, "position_embedding", name=name, code=code)
        raise UserError(_no_position_embedding(target, name, given, tokens))
    table = figure_position_table(model, tokens, name, code)
    if table is None:
        raise UserError(_no_position_embedding(target, name, table, tokens))
    kind = "learned" if learned(table, model) else "fixed"
    class_token = len(table) == tokens.grid[0] * tokens.grid[1] + 1  # row 0: the class token's
    title = f"{kind} position embedding of {run_label(target)}"
    return PositionTable(table, tokens.grid, class_token, title)


def learned(table: torch.Tensor, model: torch.nn.Module) -> bool:
    """Whether a position-embedding ``table`` is learned: a parameter of ``model``, or a view of one
    (detached too: a figure's hook may return ``self.pos_embed[0].detach()``), or computed from them
    (it requires grad); else fixed (a buffer, e.g. a sinusoidal table)."""
    if table.requires_grad:
        return True
    where = table.untyped_storage().data_ptr()
    return any(p.untyped_storage().data_ptr() == where for p in model.parameters())


def _no_position_embedding(
    target: str | Path, name: str, table: object, tokens: TokenGrid | None
) -> str:
    """Why model ``name`` has no position embedding to draw (its hooks gave ``table`` or ``tokens``
    None), and the models that have one: a ViT's, or a model of the user's that its hooks name."""
    missing = [
        h for h, v in (("position_embedding()", table), ("token_grid()", tokens)) if v is None
    ]
    hooks = f"its {' and '.join(missing)} hook{'s give' if len(missing) > 1 else ' gives'} None"
    return (
        f"'{target}': its model is {name}, which has no position embedding to draw ({hooks}). Give a "
        f"run of a vision transformer: model.name=vit, a timm ViT, or a model of your own that "
        f"subclasses vislab.models.hooks.ModelHooks and returns its T×D table from "
        f"position_embedding() and its patch grid, a vislab.models.hooks.TokenGrid, from token_grid(). "
        f"`vislab figure pos-embed` without --run draws a sinusoidal table of any size."
    )


def run_label(target: str | Path) -> str:
    """A run's name for titles and file names: its folder's name; a checkpoint file inside a run adds
    the file's stem (``RUN/checkpoints/last.pt``: ``RUN_last``) but for best.pt, the run's own weights
    (``RUN``, as :func:`vislab.predict.checkpoint_tag` tells them); a checkpoint elsewhere is its stem."""
    path = Path(target).resolve()
    if not path.is_file():
        return path.name
    if path.parent.name == "checkpoints" and path.name == "best.pt":
        return path.parent.parent.name
    if path.parent.name == "checkpoints":
        return f"{path.parent.parent.name}_{path.stem}"
    return path.stem
