"""The layers of ``vit`` (:mod:`vislab.models.vit`): patch embeddings (plain, and SPT's shifted patches),
multi-head self-attention (optionally LSA), stochastic depth, the pre-norm transformer block and the
classifier head. The formulas they compute are in :mod:`vislab.models.vit`'s docstring.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class PatchEmbed(nn.Module):
    """Cut into p×p patches, flatten, project: exactly a p×p convolution with stride p."""

    def __init__(self, channels: int, dim: int, patch: int):
        super().__init__()
        self.proj = nn.Conv2d(channels, dim, patch, stride=patch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # B × N × D


class ShiftedPatchEmbed(nn.Module):
    """SPT: [x, 4 diagonal shifts of x] → p×p patches → flatten → LayerNorm → Linear."""

    def __init__(self, channels: int, dim: int, patch: int):
        super().__init__()
        self.patch = patch
        self.norm = nn.LayerNorm(5 * channels * patch * patch)
        self.proj = nn.Linear(5 * channels * patch * patch, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        p, s = self.patch, max(self.patch // 2, 1)
        padded = F.pad(x, (s, s, s, s))  # shifted copies are filled with zeros
        shifts = [
            padded[..., s + dy : s + dy + h, s + dx : s + dx + w]
            for dy, dx in ((-s, -s), (-s, s), (s, -s), (s, s))
        ]
        x = torch.cat([x, *shifts], 1)  # B × 5C × H × W
        x = (
            x.reshape(b, 5 * c, h // p, p, w // p, p)
            .permute(0, 2, 4, 1, 3, 5)
            .reshape(b, (h // p) * (w // p), 5 * c * p * p)  # sizes, not -1: a batch may be empty
        )
        return self.proj(self.norm(x))


class Attention(nn.Module):
    """Multi-head self-attention (optionally LSA). Set ``keep_attn`` to record the weights in ``self.attn``."""

    def __init__(
        self, dim: int, heads: int, head_dim: int, attn_dropout: float, dropout: float, lsa: bool
    ):
        super().__init__()
        self.heads, self.head_dim, self.lsa, self.attn_dropout = heads, head_dim, lsa, attn_dropout
        self.qkv = nn.Linear(dim, 3 * heads * head_dim)
        self.proj = nn.Linear(heads * head_dim, dim)
        self.proj_drop = nn.Dropout(dropout)
        # 1/temperature: 1/√d, learned under LSA
        self.scale = nn.Parameter(torch.tensor(head_dim**-0.5)) if lsa else head_dim**-0.5
        self.keep_attn = False
        self.attn: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        # 3 × B×h×T×d
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        allowed = ~torch.eye(t, dtype=torch.bool, device=x.device) if self.lsa and t > 1 else None
        p_drop = self.attn_dropout if self.training else 0.0
        if self.keep_attn:  # the formula, step by step (and the weights kept for figures)
            scores = (q * self.scale) @ k.transpose(-2, -1)  # B×h×T×T: q·k / temperature
            if allowed is not None:
                scores = scores.masked_fill(~allowed, float("-inf"))  # LSA: no attention to oneself
            attn = scores.softmax(dim=-1)  # each row sums to 1
            self.attn = attn.detach()
            out = F.dropout(attn, p_drop, self.training) @ v
        else:  # the same computation, fused
            out = F.scaled_dot_product_attention(
                q * self.scale, k, v, attn_mask=allowed, dropout_p=p_drop, scale=1.0
            )
        # B × T × h·d: sizes, not -1, which an empty batch (B = 0) leaves undefined
        out = out.transpose(1, 2).reshape(b, t, self.heads * self.head_dim)
        return self.proj_drop(self.proj(out))


class DropPath(nn.Module):
    """Stochastic depth: in training, drop a residual branch for a whole sample with probability p."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = x.new_empty(x.shape[0], *([1] * (x.ndim - 1))).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


class Block(nn.Module):
    """Pre-norm transformer block: X + MHSA(LN(X)), then X + MLP(LN(X)) (no "X +" without residual)."""

    def __init__(
        self,
        dim: int,
        heads: int,
        head_dim: int,
        mlp_hidden: int,
        dropout: float,
        attn_dropout: float,
        drop_path: float,
        residual: bool,
        lsa: bool,
    ):
        super().__init__()
        self.residual = residual
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, head_dim, attn_dropout, dropout, lsa)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_hidden, dim),
            nn.Dropout(dropout),
        )
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.residual:
            return self.mlp(self.norm2(self.attn(self.norm1(x))))
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


def classifier_head(
    width: int, hidden: list[int], num_classes: int, dropout: float
) -> nn.Sequential:
    """The MLP on the pooled token: Linear-GELU-Dropout per hidden width, then a Linear to the logits."""
    layers: list[nn.Module] = []
    for units in hidden:
        layers += [nn.Linear(width, units), nn.GELU(), nn.Dropout(dropout)]
        width = units
    return nn.Sequential(*layers, nn.Linear(width, num_classes))
