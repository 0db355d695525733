"""A small vision transformer of your own, with the hooks vislab's figures ask for:

    vislab train --set model.name=examples/own_vit.py:OwnViT --set data.name=digits --out runs/own_vit
    vislab explain runs/own_vit img.png          # attention rollout over the image
    vislab figure pos-embed --run runs/own_vit   # its learned position embedding

It subclasses ``ModelHooks`` beside ``nn.Module``: a class that only defines the methods is ignored (vislab
says so). Its blocks are torch's ``nn.TransformerEncoder``, whose attention weights
``encoder_attention_maps`` reads.
"""

import torch
from torch import nn

from vislab.models.hooks import ModelHooks, TokenGrid, encoder_attention_maps


class OwnViT(ModelHooks, nn.Module):
    """Patches of ``patch`` × ``patch`` pixels embedded in ``dim`` dimensions, a class token, a learned
    position embedding, ``depth`` encoder layers of ``heads`` heads, a linear classifier on the class
    token."""

    def __init__(
        self,
        num_classes: int,
        input_shape: tuple[int, ...],
        patch: int = 2,
        dim: int = 32,
        depth: int = 2,
        heads: int = 4,
    ) -> None:
        super().__init__()
        channels, height, width = input_shape
        self.grid = (height // patch, width // patch)
        self.patches = nn.Conv2d(channels, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(0.02 * torch.randn(1, 1 + self.grid[0] * self.grid[1], dim))
        layer = nn.TransformerEncoderLayer(
            dim, heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's input B × T × dim: the class token, then one token per patch (row by row), each
        plus its position."""
        patches = self.patches(x).flatten(2).transpose(1, 2)
        return torch.cat([self.cls_token.expand(len(x), -1, -1), patches], 1) + self.pos_embed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.encoder(self.tokens(x))[:, 0]))

    # the figures' hooks (vislab explain, vislab figure pos-embed --run, the report)

    def token_grid(self) -> TokenGrid:
        """Token 0 is the class token, then the patches of the grid (rows, columns)."""
        return TokenGrid(grid=self.grid, class_token=True)

    @torch.no_grad()
    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """One tensor B × heads × T × T per encoder layer."""
        return encoder_attention_maps(self.encoder, self.tokens(x))

    def position_embedding(self) -> torch.Tensor:
        """The learned table T × dim, the class token's row first."""
        return self.pos_embed[0]

    # a trainer's hook: the position embedding and class token kept out of weight decay
    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "cls_token"}
