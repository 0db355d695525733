"""The figures' hooks of a vision transformer of the user's own (vislab.figure_hooks), as `vislab explain`,
`vislab figure pos-embed --run` and the report call them:

1. a hook that raises is the user's error naming the hook (their frames only, exit 2), a note in the report;
2. attention layers without token_grid()/attention_maps(): the message names the hooks and suggests saliency;
3. a ViT without the hooks, whose one conv is its patch embedding: saliency by default (a note says why),
   --method gradcam refused;
4. what a hook returns is checked: a TokenGrid, B × heads × T × T maps matching the grid, a T × D table;
5. the pos-embed figure says "learned" for a detached view of a parameter, "fixed" for a buffer;
6. a colour image explained by a model of grey images: a note says it was converted.

One run of a tiny ViT (a class token and 2 × 2 patches of the 8 × 8 digits) whose hooks the variable
VIT_MODE switches, trained once for the module.
"""

from pathlib import Path

import pytest
import torch

import vislab
from conftest import cli, one_line, tiny_config
from vislab.cli import main
from vislab.errors import Note, UserCodeError
from vislab.figure_hooks import figure_attentions, figure_position_table, figure_tokens
from vislab.models.code_errors import MARKER
from vislab.models.hooks import TokenGrid
from vislab.position_embedding import position_table
from vislab.predict import load_model
from vislab.report.figure_set import FigureSet
from vislab.report.model_figures import model_figures
from vislab.training.trainer import train

VIT = """
import os

import torch
import torch.nn as nn
from vislab.models.hooks import ModelHooks, TokenGrid


def mode():
    return os.environ.get("VIT_MODE", "ok")


class Attention(nn.Module):
    def __init__(self, d, heads=2):
        super().__init__()
        self.heads, self.qkv, self.proj, self.last = heads, nn.Linear(d, 3 * d), nn.Linear(d, d), None

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        self.last = (q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5).softmax(-1)
        return self.proj((self.last @ v).transpose(1, 2).reshape(b, t, d))


class TinyViT(ModelHooks, nn.Module):
    def __init__(self, num_classes, input_shape=None):
        super().__init__()
        c, h, w = input_shape
        n = (h // 4) * (w // 4)
        self.patch = nn.Conv2d(c, 16, 4, stride=4)
        self.cls = nn.Parameter(torch.zeros(1, 1, 16))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, 16) * 0.02)
        self.register_buffer("fixed", torch.randn(n + 1, 16))
        self.attn = Attention(16)
        self.head = nn.Linear(16, num_classes)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2)
        t = torch.cat([self.cls.expand(len(t), -1, -1), t], 1) + self.pos_embed
        t = t + self.attn(t)
        return self.head(t[:, 0])

    def token_grid(self):
        if mode() == "raise":
            raise RuntimeError("no grid today")
        if mode() == "none":
            return super().token_grid()
        if mode() == "tuple":
            return (2, 2)
        return TokenGrid(grid=(2, 2), class_token=mode() != "no-class")

    def attention_maps(self, x):
        if mode() == "none":
            return super().attention_maps(x)
        was = self.training
        self.eval()
        with torch.no_grad():
            self(x)
        self.train(was)
        if mode() == "raise-attn":
            raise KeyError("no maps today")
        return [self.attn.last.mean(1)] if mode() == "averaged" else [self.attn.last]

    def gradcam_layer(self):
        if mode() == "raise-cam":
            raise TypeError("no layer today")
        return super().gradcam_layer()

    def position_embedding(self):
        if mode() == "raise-pos":
            raise ValueError("no table today")
        if mode() == "buffer":
            return self.fixed
        if mode() == "numpy":
            return self.pos_embed[0].detach().numpy()
        return self.pos_embed[0].detach()
"""


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fc-vit")
    (folder / "tiny_vit.py").write_text(VIT)
    cfg = tiny_config(f"model.name={folder / 'tiny_vit.py'}:TinyViT", "train.epochs=1")
    train(cfg, folder / "run", quiet=True)
    return folder / "run"


@pytest.fixture
def mode(monkeypatch):
    return lambda m: monkeypatch.setenv("VIT_MODE", m)


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("fc-image") / "eight.png"
    Image.new("L", (8, 8), 128).save(path)
    return path


def _users_error(capsys, *args) -> tuple[int, str, str]:
    """``vislab ARGS`` in-process: (exit code, the message, the user's traceback after MARKER)."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    message, marker, users = (out.out + out.err).partition(MARKER)
    assert marker and "Traceback" not in message, message
    return code, one_line(message), users


# ------------------------------------------------------------------------- 1. a hook that raises
@pytest.mark.parametrize(
    ("m", "command", "hook", "said"),
    [
        ("raise", "pos-embed", "token_grid", "RuntimeError: no grid today"),
        ("raise", "rollout", "token_grid", "RuntimeError: no grid today"),
        ("raise-pos", "pos-embed", "position_embedding", "ValueError: no table today"),
        ("raise-attn", "attention", "attention_maps", "KeyError: 'no maps today'"),
        ("raise-cam", "gradcam", "gradcam_layer", "TypeError: no layer today"),
    ],
)
def test_a_raising_hook_is_the_users_error_naming_it(
    vit_run, image, mode, capsys, tmp_path, m, command, hook, said
):
    mode(m)
    args = ["figure", "pos-embed", "--run", vit_run, "-o", tmp_path / "p.png"]
    if command != "pos-embed":
        args = ["explain", vit_run, image, "-o", tmp_path, "--method", command]
    code, message, users = _users_error(capsys, *args)
    assert code == 2, message
    assert f"your code raised {said.split(':')[0]} in its {hook}() hook" in message, message
    assert "--trust-code" in message
    files = {ln.split('"')[1] for ln in users.splitlines() if ln.strip().startswith('File "')}
    assert files == {str(vit_run.parent / "tiny_vit.py")}, users  # the user's frames only
    assert said in users


def test_the_report_notes_a_raising_hook_and_draws_the_rest(vit_run, mode):
    mode("raise-pos")
    cfg = vislab.Run(vit_run).config
    notes: list[str] = []
    made = model_figures(FigureSet(vit_run / "figs", notes), "mine", vit_run, cfg)
    names = {f["name"] for f in made}
    assert "vit_attention_mine.png" in names and "vit_pos_mine.png" not in names, made
    assert any(
        "raised ValueError in its position_embedding() hook" in one_line(n) for n in notes
    ), notes
    mode("raise")
    notes.clear()
    assert model_figures(FigureSet(vit_run / "figs", notes), "mine", vit_run, cfg) == []
    assert any("in its token_grid() hook" in one_line(n) for n in notes), notes
    mode("none")  # saliency only: no figure, a note naming the hooks
    notes.clear()
    assert model_figures(FigureSet(vit_run / "figs", notes), "mine", vit_run, cfg) == []
    flat = one_line(" ".join(notes))
    assert "mine: no attention figures nor Grad-CAM (its one convolution only cuts" in flat, notes
    assert "its token_grid() hook gives None" in flat


# ------------------------------------------------------------------- 2. attention layers, no hooks
def test_attention_without_the_hooks_names_them_and_suggests_saliency(
    vit_run, image, mode, capsys, tmp_path
):
    mode("none")
    code, text = cli(capsys, "explain", vit_run, image, "--method", "rollout", "-o", tmp_path)
    assert code == 2, text
    flat = one_line(text)
    assert (
        "has attention layers ('attn' (Attention)), but its token_grid() hook gives None" in flat
    ), flat
    assert (
        "from token_grid() and each block's attention weights, B × heads × T × T, from attention_maps(x)"
        in flat
    )
    assert "use method saliency (--method saliency / method='saliency')." in flat


# ---------------------------------------------------------------- 3. a patch embedding, no Grad-CAM
def test_a_vit_without_hooks_is_explained_by_saliency_and_refuses_gradcam(
    vit_run, image, mode, capsys, tmp_path
):
    mode("none")
    code, text = cli(capsys, "explain", vit_run, image, "-o", tmp_path)
    assert code == 0, text
    flat = one_line(text)
    assert (
        "is explained by saliency: its one convolution only cuts the image into patches" in flat
    ), flat
    assert "token_grid()" in flat
    code, text = cli(capsys, "explain", vit_run, image, "--method", "gradcam", "-o", tmp_path)
    assert code == 2, text
    flat = one_line(text)
    assert "the one convolution of model" in flat and "only cuts the image into patches" in flat, (
        flat
    )
    assert "use method saliency (--method saliency / method='saliency')" in flat


# ------------------------------------------------------------------------- 4. outputs checked
@pytest.mark.parametrize(
    ("m", "words"),
    [
        ("tuple", "its token_grid() hook returned (2, 2); it must return a TokenGrid"),
        ("averaged", "(2 × heads × 5 × 5 here), the heads kept apart, not averaged (see"),
        (
            "no-class",
            "gives maps over 5 tokens, but its token_grid() hook, TokenGrid(grid=(2, 2), "
            "class_token=False), lays out 4",
        ),
        (
            "numpy",
            "its position_embedding() hook returned a numpy.ndarray; it must return a torch.Tensor T × D",
        ),
    ],
)
def test_what_a_hook_returns_is_checked(vit_run, mode, m, words):
    mode(m)
    model, record = load_model(vit_run)
    name, code = record.model.name, record.model.code
    x = torch.zeros(2, 1, 8, 8)
    with pytest.raises(UserCodeError) as e:
        tokens = figure_tokens(model, name, code)
        figure_attentions(model, x, tokens, name, code)
        figure_position_table(model, tokens, name, code)
    flat = one_line(str(e.value))
    assert words in flat, flat
    assert f"model '{name}'" in flat
    if m == "no-class":
        assert "return TokenGrid(grid=(2, 2), class_token=True) from token_grid()" in flat


def test_a_table_of_1_by_t_by_d_is_taken_and_a_wrong_size_refused(vit_run, mode):
    mode("ok")
    model, _ = load_model(vit_run)
    tokens = TokenGrid(grid=(2, 2), class_token=True)
    assert tuple(figure_position_table(model, tokens).shape) == (5, 16)
    model.position_embedding = lambda: model.pos_embed  # 1 × T × D, as stored
    assert tuple(figure_position_table(model, tokens).shape) == (5, 16)
    with pytest.raises(
        UserCodeError, match=r"returned a table of shape \[5, 16\] for TokenGrid\(grid=\(3, 3\)"
    ):
        figure_position_table(model, TokenGrid(grid=(3, 3), class_token=True))


# ------------------------------------------------------------------------- 5. learned or fixed
@pytest.mark.parametrize(("m", "kind"), [("ok", "learned"), ("buffer", "fixed")])
def test_pos_embed_says_learned_for_a_parameters_view_and_fixed_for_a_buffer(
    vit_run, mode, m, kind
):
    mode(m)
    assert position_table(vit_run).title == f"{kind} position embedding of run"


# ------------------------------------------------------------------------- 6. colour to grey
def test_a_colour_image_explained_by_a_grey_model_is_noted_as_converted(
    vit_run, image, mode, capsys, tmp_path
):
    from PIL import Image

    mode("ok")
    red = tmp_path / "red.png"
    Image.new("RGB", (8, 8), (200, 20, 20)).save(red)
    code, text = cli(capsys, "explain", vit_run, red, image, "-o", tmp_path / "out")
    assert code == 0, text
    flat = one_line(text)
    assert "note: red.png: colour image, converted to grey for model" in flat, flat
    assert "which was trained on grey images." in flat
    assert "eight.png:" not in flat  # a grey image is not converted
    with pytest.warns(Note, match="red.png: colour image, converted to grey"):
        vislab.load_run(vit_run).explain([red, image])
