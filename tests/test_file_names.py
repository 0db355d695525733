"""Figures are never replaced silently (#22 item 5): each file's name carries the options that tell two
figures apart (the attention block, the run, the split and data), and a file already there is replaced
only with --force (exit 2 naming the file and --force, before any work) — in `vislab explain`,
`figure pos-embed`, `eval --out`, `lr-find` and `data preview`. `eval` into the run's own figures/
replaces its own earlier output: the same name there means the same checkpoint, split and data."""

import numpy as np
import pytest
from PIL import Image

import vislab.explain as explain_module
from conftest import cli, one_line, tiny_config, tiny_sets
from vislab.plotting.files import name_part
from vislab.training.trainer import train


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory):
    """A 1-epoch ViT of 2 blocks on 8×8 digits (4×4 patches of 2×2)."""
    run = tmp_path_factory.mktemp("vit") / "vit"
    vit = ["model.name=vit", "model.embed_dim=8", "model.depth=2", "model.num_heads=2"]
    cfg = tiny_config(*vit, "model.patch_size=2", "train.epochs=1", "train.figures=true")
    train(cfg, run, quiet=True)
    return run


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("img") / "img2.png"
    Image.fromarray(np.eye(16, dtype=np.uint8) * 255).save(path)
    return str(path)


def _refused(code: int, text: str, path) -> bool:
    """Exit 2 with a message naming ``path`` and --force."""
    return code == 2 and str(path) in one_line(text) and "--force" in text


# ------------------------------------------------------------------------------------------ explain
def test_explain_names_and_titles_the_attention_block(
    capsys, tmp_path, vit_run, image, monkeypatch
):
    titles = {}
    real = explain_module.plot_explanation

    def spy(image, maps, labels, path, title="", **kw):
        titles[path.name] = title
        return real(image, maps, labels, path, title, **kw)

    monkeypatch.setattr(explain_module, "plot_explanation", spy)
    for block in ("0", "-1"):
        code, out = cli(capsys, "explain", vit_run, image, "-m", "attention", "--block", block,
                        "--out", tmp_path)  # fmt: skip
        assert code == 0, out
    # the default (last) block is --block 1 of 2: its own file, not --block 0's; titles count from 1
    assert titles.keys() == {"img2_attention_block0.png", "img2_attention_block1.png"}
    # the title's first line names the block, its second whose attention it is
    assert (
        titles["img2_attention_block0.png"]
        .split("\n")[0]
        .endswith("block 1 of 2 (--block 0 / block=0)")
    )
    assert (
        titles["img2_attention_block1.png"]
        .split("\n")[0]
        .endswith("block 2 of 2 (--block 1 / block=1)")
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(titles)


def test_explain_replaces_a_png_only_with_force(capsys, tmp_path, vit_run, image):
    png = tmp_path / "img2_rollout.png"
    assert cli(capsys, "explain", vit_run, image, "--out", tmp_path)[0] == 0
    png.write_bytes(b"earlier")
    code, out = cli(capsys, "explain", vit_run, image, "--out", tmp_path)
    assert _refused(code, out, png) and png.read_bytes() == b"earlier"
    code, out = cli(capsys, "explain", vit_run, image, "--out", tmp_path, "--force")
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG"


def test_explain_refuses_two_images_that_would_share_a_png(capsys, tmp_path, vit_run, image):
    other = tmp_path / "elsewhere" / "img2.jpg"
    other.parent.mkdir()
    Image.open(image).convert("RGB").save(other)
    code, out = cli(capsys, "explain", vit_run, image, other, "--out", tmp_path / "x")
    assert code == 2 and image in one_line(out) and str(other) in one_line(out), out
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------- figure pos-embed
def test_pos_embed_is_named_by_its_run_or_size_and_never_replaced_silently(
    capsys, tmp_path, vit_run, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    for args, name in (
        (["--run", vit_run], "pos_embed_vit.png"),
        (["--run", vit_run / "checkpoints" / "last.pt"], "pos_embed_vit_last.png"),
        ([], "pos_embed_sinusoidal_100x16.png"),
        (["--length", "20", "--dim", "8"], "pos_embed_sinusoidal_20x8.png"),
    ):
        code, out = cli(capsys, "figure", "pos-embed", *args)
        assert code == 0 and (tmp_path / name).is_file() and name in out, out
    before = (tmp_path / "pos_embed_vit.png").read_bytes()
    code, out = cli(capsys, "figure", "pos-embed", "--run", vit_run)
    assert (
        _refused(code, out, "pos_embed_vit.png")
        and before == (tmp_path / "pos_embed_vit.png").read_bytes()
    )
    code, out = cli(capsys, "figure", "pos-embed", "--out", "pos_embed_vit.png")
    assert _refused(code, out, "pos_embed_vit.png")
    assert cli(capsys, "figure", "pos-embed", "--run", vit_run, "--force")[0] == 0


# -------------------------------------------------------------------------------------------- eval
# a gallery of 4 wrong images, not 16: its file is written and named all the same, in half the time
GALLERY = ("--mistakes", "4")


def test_eval_into_a_folder_replaces_its_pngs_only_with_force(capsys, tmp_path, vit_run):
    code, out = cli(capsys, "eval", vit_run, "--out", tmp_path, *GALLERY)
    assert code == 0 and (tmp_path / "confusion_test.png").is_file(), out
    code, out = cli(capsys, "eval", vit_run, "--out", tmp_path)
    assert _refused(code, out, tmp_path / "confusion_test.png")
    assert cli(capsys, "eval", vit_run, "--out", tmp_path, "--force", *GALLERY)[0] == 0
    # another split or checkpoint is another file, beside the first
    assert cli(capsys, "eval", vit_run, "--out", tmp_path, "--split", "val", *GALLERY)[0] == 0
    last = vit_run / "checkpoints" / "last.pt"
    code, out = cli(capsys, "eval", last, "--out", tmp_path, *GALLERY)
    assert code == 0 and (tmp_path / "confusion_test_last.png").is_file(), out


def test_eval_in_the_run_keeps_the_training_figure_of_other_data(capsys, vit_run):
    figures = vit_run / "figures"
    trained = (figures / "confusion_test.png").read_bytes()
    code, out = cli(capsys, "eval", vit_run, "--set", "data.limit_eval=100", *GALLERY)
    assert code == 0, out
    assert (figures / "confusion_test_data.limit_eval_100.png").is_file()
    assert (figures / "confusion_test.png").read_bytes() == trained  # the training's own figure
    # shares, not counts: its own name
    assert cli(capsys, "eval", vit_run, "--normalize", *GALLERY)[0] == 0
    assert (figures / "confusion_test_normalized.png").is_file()
    assert (figures / "confusion_test.png").read_bytes() == trained
    # re-scoring the run into its own folder replaces its own earlier eval output: no --force needed
    assert cli(capsys, "eval", vit_run, "--set", "data.limit_eval=100", *GALLERY)[0] == 0
    assert cli(capsys, "eval", vit_run, *GALLERY)[0] == 0


# ------------------------------------------------------------------------ lr-find and data preview
def test_lr_find_refuses_an_existing_plot_before_any_work(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lr_find_mlp_digits.png").write_bytes(b"earlier")  # the default name: model, data
    code, out = cli(capsys, "lr-find", *tiny_sets(), "--steps", "20")
    assert _refused(code, out, "lr_find_mlp_digits.png") and "LR range test" not in out
    code, out = cli(
        capsys,
        "lr-find",
        *tiny_sets(),
        "--steps",
        "20",
        "--out",
        "lr_find_mlp_digits.png",
        "--force",
    )
    assert code == 0 and (tmp_path / "lr_find_mlp_digits.png").read_bytes()[:4] == b"\x89PNG", out


def test_data_preview_is_named_by_dataset_and_replaced_only_with_force(
    capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert cli(capsys, "data", "preview", "digits", "-n", "4")[0] == 0
    assert cli(capsys, "data", "preview", "digits", "-n", "4", "--show", "normalized")[0] == 0
    assert {p.name for p in tmp_path.iterdir()} == {
        "preview_digits.png",
        "preview_digits_normalized.png",
    }
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"earlier")
    code, out = cli(capsys, "data", "preview", "digits", "--out", mine)
    assert _refused(code, out, mine) and mine.read_bytes() == b"earlier"
    assert cli(capsys, "data", "preview", "digits", "-n", "4", "--out", mine, "--force")[0] == 0


def test_name_parts_are_safe_and_long_ones_stay_distinct():
    assert name_part("my_models/net.py:Net") == "my_models_net.py_Net"
    assert name_part("data.root=/home/me/data") == "data.root_home_me_data"
    a, b = name_part("data.root=/" + "x" * 80 + "/a"), name_part("data.root=/" + "x" * 80 + "/b")
    assert a != b and len(a) == len(b) == 60 + 9
