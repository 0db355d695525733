"""`vit`: a Vision Transformer written from scratch (DLVC assignment 1, RDFIA 1-e).

    image ─patchify─▶ N tokens ─(+ class token)─(+ positional embedding)─▶ depth × Block ─▶ LayerNorm
          ─▶ class token (pool: cls) or mean of the tokens (pool: mean) ─▶ head MLP ─▶ logits

A pre-norm Block (RDFIA 1-e Q4):   X ← X + MHSA(LN(X));   X ← X + MLP(LN(X)),   MLP = Linear→GELU→Linear.
``residual: false`` drops both "X +" (DLVC assignment 1's deep ViT without skip connections).

Multi-head self-attention, per head with d = head_dim:   Attention(Q, K, V) = softmax(Q Kᵀ / √d) V,
Q = X W_q, K = X W_k, V = X W_v; the heads are concatenated and projected back to embed_dim.

Small-data options from "Vision Transformer for Small-Size Datasets" (Lee et al. 2021; RDFIA 1-e Q10):
- ``spt`` Shifted Patch Tokenization: the image and its four diagonal shifts by half a patch are
  concatenated along channels, cut into patches, flattened, layer-normed and linearly projected;
- ``lsa`` Locality Self-Attention: the diagonal of Q Kᵀ is masked (no token attends to itself) and the
  softmax temperature (√d at the start) is learned.

Initialisation (``init``; the patch-embedding conv keeps PyTorch's default, LayerNorms start at 1 and 0,
the class token at 0, a learned positional embedding ~ N(0, 0.02²) truncated at ±2):
- ``xavier`` (default): every Linear W ~ U(−a, a), a = √(6 / (fan_in + fan_out)) (Glorot), biases 0 — as the
  original ViT's dense layers and ``nn.MultiheadAttention``'s Q/K/V projection. For embed 64 the fused
  Q/K/V projection (64 → 192) gets std √(2 / 256) ≈ 0.088, the MLP's 64 → 256 and 256 → 64 std ≈ 0.079.
- ``timm``: every Linear W ~ N(0, 0.02²) truncated at ±2, biases 0 — timm's default, whose 0.02 matches
  Glorot only near ViT-Base's width 768 (√(2 / (768 + 2304)) ≈ 0.026). At width 64 it is ~4× too small:
  q·k / √d starts at std ≈ 0.03, every token attends uniformly, and the gradients of W_q and W_k, each
  proportional to the other, are tiny, so attention learns to select only after a few hundred steps
  (``benchmarks/vit_init.py``).

What it offers figures (its ``ModelHooks``): ``token_grid()``, ``attention_maps(x)``,
``position_embedding()``, and no Grad-CAM layer (its one convolution is the patch embedding); with
:func:`sinusoidal_table` (attention rollout, from any transformer's attention: ``vislab.explain_maps``).
The figures are drawn by
``vislab.plotting.vit``. The layers (patch embeddings, attention, block, head) are in
:mod:`vislab.models.vit_layers`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
import torch.nn as nn
from pydantic import Field

from vislab.errors import ConfigError, UserError, show_note
from vislab.models.hooks import ModelHooks, TokenGrid
from vislab.models.options import (
    Probability,
    Size,
    described,
    input_words,
    merge_options,
    patch_sizes,
    require_image_input,
    resize_hint,
)
from vislab.models.registry import register_model
from vislab.models.vit_layers import Block, PatchEmbed, ShiftedPatchEmbed, classifier_head

# DLVC assignment 1's ViTs (their code was provided by the course, so these follow the dlvc-compare suite):
# one block, two blocks, two blocks with residual connections; fixed sinusoidal positions, dropout 0.5.
PRESETS: dict[str, dict] = {
    "shallow": dict(embed_dim=128, depth=1, residual=False, pos_embed="sinusoidal", dropout=0.5),
    "deep": dict(embed_dim=128, depth=2, residual=False, pos_embed="sinusoidal", dropout=0.5),
    "deep-residual": dict(
        embed_dim=128, depth=2, residual=True, pos_embed="sinusoidal", dropout=0.5
    ),
}
DEFAULTS = dict(embed_dim=64, depth=4, residual=True, pos_embed="learned", dropout=0.0)

# What each option does (`vislab model info vit` prints it beside the value and the allowed values)
OPTIONS: dict[str, str] = {
    "preset": "DLVC assignment 1's ViTs: fills embed_dim, depth, residual, pos_embed, dropout left unset",
    "embed_dim": "width of each token (the embedding) through every block",
    "patch_size": "side of the square patches the image is cut into, one token each",
    "depth": "number of transformer blocks",
    "num_heads": "attention heads per block",
    "head_dim": "width of each head's Q, K, V (unset: embed_dim // num_heads)",
    "mlp_ratio": "width of each block's MLP as a multiple of embed_dim",
    "mlp_hidden": "width of each block's MLP (unset: mlp_ratio × embed_dim); overrides mlp_ratio",
    "dropout": "dropout after the position embedding, in the blocks and in the head",
    "attn_dropout": "dropout on the attention weights",
    "drop_path": "stochastic depth: the largest rate at which a block's residual branch is skipped",
    "residual": "each block adds its input back (X + MHSA(LN(X)), X + MLP(LN(X))); false: no skips",
    "pool": "what the head reads: the class token (cls) or the mean of the tokens (mean, no class token)",
    "pos_embed": "positional embedding: learned parameters or a fixed sinusoidal table",
    "spt": "Shifted Patch Tokenization: patches of the image and its 4 diagonal half-patch shifts",
    "lsa": "Locality Self-Attention: no token attends to itself, and the softmax temperature is learned",
    "head_hidden": "widths of hidden layers of the classifier head (empty: one Linear to the logits)",
    "init": "initialisation of every Linear: xavier (Glorot uniform) or timm (normal, std 0.02)",
}


def _preset_values(preset: str | None) -> dict:
    """The values ``preset`` (None: none given) fills the options left unset with."""
    return {**DEFAULTS, **(PRESETS[preset] if preset else {})}


def sinusoidal_table(n_positions: int, dim: int) -> torch.Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)); n_positions × dim."""
    pos = torch.arange(n_positions, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, dim, 2, dtype=torch.float64)
    angle = pos / 10000 ** (two_i / dim)  # n × ⌈d/2⌉
    table = torch.zeros(n_positions, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle[:, : dim // 2])
    return table.float()


class ViT(ModelHooks, nn.Module):
    def __init__(
        self,
        shape: tuple[int, int, int],
        num_classes: int,
        embed_dim: int,
        patch_size: int,
        depth: int,
        num_heads: int,
        head_dim: int,
        mlp_hidden: int,
        dropout: float,
        attn_dropout: float,
        drop_path: float,
        residual: bool,
        pool: str,
        pos_embed: str,
        spt: bool,
        lsa: bool,
        head_hidden: list[int],
        init: str = "xavier",
    ):
        super().__init__()
        c, h, w = shape
        self.grid = (h // patch_size, w // patch_size)
        self.pool, self.residual = pool, residual
        self.patch_embed = (ShiftedPatchEmbed if spt else PatchEmbed)(c, embed_dim, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if pool == "cls" else None
        n_tokens = self.grid[0] * self.grid[1] + (pool == "cls")
        if pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, n_tokens, embed_dim))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        else:  # fixed: a buffer, rebuilt from the shape (not stored in checkpoints)
            self.register_buffer(
                "pos_embed", sinusoidal_table(n_tokens, embed_dim)[None], persistent=False
            )
        self.pos_drop = nn.Dropout(dropout)
        rates = torch.linspace(0, drop_path, depth).tolist()  # stochastic depth grows with depth
        self.blocks = nn.ModuleList(
            Block(
                embed_dim, num_heads, head_dim, mlp_hidden, dropout, attn_dropout, r, residual, lsa
            )
            for r in rates
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.head = classifier_head(embed_dim, head_hidden, num_classes, dropout)
        init_linear_layers(self, init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)  # B × N × D
        if self.cls_token is not None:
            # x.shape[0], not len(x): tracing (vislab export) keeps the batch size symbolic
            x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1)
        x = self.pos_drop(x + self.pos_embed)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return self.head(x[:, 0] if self.cls_token is not None else x.mean(1))

    def head_modules(self) -> list[str]:
        """The head's last Linear, to the logits (a ModelHooks hook, for ``optim.head_lr``); the hidden
        layers of a ``head_hidden`` MLP before it train at ``optim.lr``, as timm's pre-logits do."""
        return [f"head.{len(self.head) - 1}"]

    def gradcam_layer(self) -> None:
        """None: the one convolution is the patch embedding, no feature map worth a CAM (a ModelHooks hook)."""
        return None

    def token_grid(self) -> TokenGrid:
        """The patch grid, the class token (pool: cls) and the residual blocks (a ModelHooks hook)."""
        return TokenGrid(self.grid, self.cls_token is not None, self.residual)

    def no_weight_decay(self) -> set[str]:
        """The learned position embedding and the class token (a ModelHooks hook; a sinusoidal table is
        a buffer, which no optimizer sees)."""
        return {"pos_embed", "cls_token"}

    def position_embedding(self) -> torch.Tensor:
        """``pos_embed``: T × D, learned (a parameter) or sinusoidal (a buffer) (a ModelHooks hook)."""
        return self.pos_embed[0]

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Attention weights of every block for a batch (eval mode): a list of B × heads × T × T."""
        was_training = self.training
        self.eval()
        attns = [b.attn for b in self.blocks]
        try:
            for a in attns:
                a.keep_attn = True
            self(x)
            return [a.attn for a in attns]
        finally:
            for a in attns:
                a.keep_attn, a.attn = False, None
            self.train(was_training)


def init_linear_layers(model: nn.Module, scheme: str) -> None:
    """Re-initialise every Linear of ``model`` by ``scheme`` (xavier or timm; see the module docstring)."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            if scheme == "xavier":
                nn.init.xavier_uniform_(m.weight)
            else:
                nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)


@register_model("vit", presets=_preset_values)
@described(OPTIONS)
def vit(
    input_shape: tuple[int, ...],
    num_classes: int,
    preset: Literal["shallow", "deep", "deep-residual"] | None = None,
    embed_dim: Size | None = None,  # 64 (presets: 128)
    patch_size: Size = 4,
    depth: Size | None = None,  # 4
    num_heads: Size = 4,
    head_dim: Size | None = None,  # embed_dim // num_heads
    mlp_ratio: Annotated[float, Field(gt=0)] = 4.0,
    mlp_hidden: Size | None = None,  # overrides mlp_ratio (a note says so where both are given)
    dropout: Probability | None = None,  # 0.0
    attn_dropout: Probability = 0.0,
    drop_path: Probability = 0.0,
    residual: bool | None = None,  # True
    pool: Literal["cls", "mean"] = "cls",
    pos_embed: Literal["learned", "sinusoidal"] | None = None,  # learned
    spt: bool = False,
    lsa: bool = False,
    head_hidden: list[Size] = [],  # noqa: B006 (validated and copied by the registry)
    init: Literal["xavier", "timm"] = "xavier",
) -> nn.Module:
    """A from-scratch ViT; options left unset come from ``preset`` (DLVC assignment 1's ViTs) or the defaults."""
    given = dict(
        embed_dim=embed_dim, depth=depth, residual=residual, pos_embed=pos_embed, dropout=dropout
    )
    o = merge_options(_preset_values(preset), given)
    c, h, w = require_image_input("vit", input_shape)
    _check_patch_size(patch_size, h, w)
    if drop_path > 0 and not o["residual"]:
        raise ConfigError(
            "model.drop_path drops residual branches, but model.residual is false. "
            "Set model.drop_path=0 or model.residual=true."
        )
    return ViT(
        (c, h, w),
        num_classes,
        **o,
        patch_size=patch_size,
        num_heads=num_heads,
        head_dim=head_dim or _head_dim(o["embed_dim"], num_heads),
        mlp_hidden=_mlp_width(mlp_ratio, mlp_hidden, o["embed_dim"]),
        attn_dropout=attn_dropout,
        drop_path=drop_path,
        pool=pool,
        spt=spt,
        lsa=lsa,
        head_hidden=list(head_hidden),
        init=init,
    )


def _mlp_width(mlp_ratio: float, mlp_hidden: int | None, embed_dim: int) -> int:
    """The width of each block's MLP: model.mlp_hidden where given, else mlp_ratio × embed_dim; a note
    where both are given (mlp_ratio other than its default, 4.0), saying mlp_hidden wins."""
    if mlp_hidden is None:
        return max(1, round(mlp_ratio * embed_dim))
    if mlp_ratio != 4.0:
        show_note(
            f"model.mlp_hidden={mlp_hidden} sets the width of each block's MLP, so model.mlp_ratio="
            f"{mlp_ratio} (the width as a multiple of embed_dim) is not used: give one of the two."
        )
    return mlp_hidden


def _check_patch_size(patch_size: int, h: int, w: int) -> None:
    """UserError unless p×p patches tile the h×w images exactly (no pixel silently dropped)."""
    if h % patch_size or w % patch_size:
        raise UserError(
            f"model.patch_size={patch_size} does not divide the {input_words(h, w)} into whole "
            f"patches. Valid patch sizes for {h}×{w}: {', '.join(map(str, patch_sizes(h, w)))}; or "
            f"{resize_hint(patch_size, min(h, w))}."
        )


def _head_dim(embed_dim: int, num_heads: int) -> int:
    """embed_dim // num_heads; ConfigError unless the heads split the embedding evenly."""
    if embed_dim % num_heads:
        raise ConfigError(
            f"model.embed_dim={embed_dim} is not divisible by model.num_heads={num_heads}. "
            f"Choose a multiple of {num_heads}, or set model.head_dim explicitly."
        )
    return embed_dim // num_heads
