"""What a model copies in is decided once, by what its family declares (registry.copies_weights): a user's
model with an option named `weights` or `pretrained` keeps vislab's batch-norm note and gets no note about
ImageNet weights; `vislab model info` reads a model's token grid through its hooks (hooks_of), as train and
explain do: a plain method named token_grid is ignored, a ModelHooks hook that returns a tuple is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import cli, one_line, tiny_config
from vislab.experiments.suites.foresee import StartChecks
from vislab.models.registry import copies_weights

# a user's model with batch norm whose options are named as resnet18's: they load nothing
BN_NET = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, num_classes, input_shape, weights: str = "default", pretrained: bool = False):
        super().__init__()
        if weights == "broken":
            raise RuntimeError("no such weights")
        self.body = nn.Sequential(nn.Conv2d(input_shape[0], 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4, num_classes)

    def forward(self, x):
        return self.head(self.body(x))
"""

# a transformer of the user's own on 8x8 images: one token per pixel (no patchify convolution)
TOKENS = """
import torch
from torch import nn
{imports}


class Net({bases}):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.embed = nn.Linear(input_shape[0], 8)
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, num_classes)

    def forward(self, x):
        t = self.embed(x.flatten(2).transpose(1, 2))
        return self.head(self.attn(t, t, t)[0].mean(1))

    def token_grid(self):
        return (8, 8)
"""


def _file(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def test_only_the_families_that_declare_it_copy_weights_in(tmp_path):
    assert copies_weights("resnet18", {"pretrained": True})
    assert copies_weights("resnet18", {"weights": "w.pth"})
    assert copies_weights("timm:resnet18", {"pretrained": True})
    assert not copies_weights("resnet18", {"pretrained": False, "weights": None})
    assert not copies_weights("cnn", {})
    bn = _file(tmp_path, "bn.py", BN_NET)
    assert not copies_weights(f"{bn}:Net", {"weights": "default", "pretrained": True})


@pytest.mark.parametrize("option", ["model.weights=default", "model.pretrained=true"])
def test_a_users_option_named_weights_keeps_the_batch_norm_note(tmp_path, capsys, option):
    bn = _file(tmp_path, "bn.py", BN_NET)
    sets = ["data.name=digits", "data.limit=200", "train.epochs=1", "train.batch_size=64",
            "train.device=cpu", "train.figures=false", f"model.name={bn}:Net", option]  # fmt: skip
    code, text = cli(
        capsys, "train", *[x for s in sets for x in ("--set", s)], "--out", tmp_path / "r"
    )
    text = one_line(text)
    assert code == 0, text
    assert "they are the train data's only after 29 batches, but this run trains 3 in all" in text
    assert "ImageNet" not in text and "model.pretrained=true" not in text, text


def test_a_suite_does_not_build_a_users_model_for_its_option_named_weights(tmp_path):
    """StartChecks builds a model before the suite runs only for weights it loads: this builder raises
    when built with weights=broken, which the old name test took for a weights file to check."""
    bn = _file(tmp_path, "bn.py", BN_NET)
    cfg = tiny_config(f"model.name={bn}:Net", "model.weights=broken")
    assert StartChecks().mistake(cfg) == ""


@pytest.mark.parametrize("hooks", [False, True])
def test_model_info_reads_the_token_grid_through_the_hooks(tmp_path, capsys, hooks):
    source = TOKENS.format(
        imports="from vislab.models.hooks import ModelHooks" if hooks else "",
        bases="ModelHooks, nn.Module" if hooks else "nn.Module",
    )
    tok = _file(tmp_path, "tok.py", source)
    code, text = cli(capsys, "model", "info", f"{tok}:Net", "--input", "1x8x8")
    text = one_line(text)
    if not hooks:  # a plain method: no hook, ignored as train ignores it
        assert code == 0, text
        assert "tokens: 64" in text and "patches of" not in text, text
    else:
        assert code != 0, text
        assert (
            f"model '{tok}:Net': its token_grid() hook returned (8, 8); it must return a TokenGrid, "
            "e.g. TokenGrid(grid=(rows, columns), class_token=True), or None" in text
        ), text
