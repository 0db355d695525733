"""Messages and figures of explain, predict and export that a user acts on: every command a message
suggests runs as written, --top-k's note only when asked for, explain's figures name their checkpoint
and count blocks from 1, the report's Grad-CAM and attention images name their classes."""

import importlib.util
import re
import shlex

import numpy as np
import pytest
import typer
from PIL import Image

import vislab
from conftest import TINY_DIGITS, TINY_RUN, cli, one_line
from fixtures import write_image_folder
from vislab.cli import app
from vislab.report.figure_set import FigureSet
from vislab.report.model_figures import model_figures, spread_indices

needs_captum = pytest.mark.skipif(importlib.util.find_spec("captum") is None, reason="captum")
NO_MLP = {k: v for k, v in TINY_DIGITS.items() if k != "model__hidden"}


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("cnn") / "cnn"
    vislab.train(out=run, **(NO_MLP | dict(model="cnn", model__widths=[4], model__fc=[8])))
    return run


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory):
    vit = dict(model="vit", model__embed_dim=16, model__depth=2, model__num_heads=2)
    run = tmp_path_factory.mktemp("vit") / "vit"
    vislab.train(out=run, **(NO_MLP | vit | dict(model__patch_size=2)))
    return run


@pytest.fixture(scope="module")
def circles_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("circles") / "scr"
    vislab.train(out=run, **TINY_RUN, data="circles", data__limit=200)
    return run


@pytest.fixture(scope="module")
def img(tmp_path_factory):
    path = tmp_path_factory.mktemp("imgs") / "img.png"
    Image.fromarray(np.eye(16, dtype=np.uint8) * 255).save(path)
    return path


def _suggested(text: str) -> list[list[str]]:
    """The `vislab ...` commands a message suggests, as argument lists."""
    return [shlex.split(c)[1:] for c in re.findall(r"`(vislab [^`]*)`", one_line(text))]


def _parses(args: list[str]) -> None:
    """Raise click's usage error unless ``vislab ARGS`` names a command with all it requires."""
    cmd, name = typer.main.get_command(app), "vislab"
    while hasattr(cmd, "commands"):
        name, cmd, args = args[0], cmd.commands[args[0]], args[1:]
    cmd.make_context(name, list(args))


# ---------------------------------------------------------------------------------------- export
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_an_out_that_is_a_runs_json_suggests_a_file_export_takes(cnn_run, capsys, fmt):
    code, out = cli(capsys, "export", cnn_run, "--format", fmt, "--out", cnn_run / "summary.json")
    assert code == 2 and "e.g." in out, out
    suggested = re.search(r"\(e\.g\. (\S+)\)", one_line(out)).group(1)
    assert suggested == str(
        cnn_run / "export" / ("model.onnx" if fmt == "onnx" else "model.torchscript.pt")
    )
    if fmt == "torchscript":  # done as suggested: exported
        code, out = cli(capsys, "export", cnn_run, "--format", fmt, "--out", suggested)
        assert code == 0 and (cnn_run / "export" / "model.torchscript.pt").is_file(), out


def test_an_out_json_elsewhere_suggests_its_own_stem(cnn_run, capsys, tmp_path):
    code, out = cli(
        capsys, "export", cnn_run, "--format", "torchscript", "--out", tmp_path / "m.json"
    )
    assert code == 2 and f"e.g. {tmp_path / 'm.pt'})" in one_line(out), out


# --------------------------------------------------------------------- a run of 2-D points, no images
@pytest.mark.parametrize("command", ["explain", "predict"])
def test_images_on_a_points_run_suggest_commands_that_run_as_written(
    circles_run, img, capsys, command
):
    code, out = cli(capsys, command, circles_run, img)
    assert code == 2 and "2-D feature vectors, not images" in one_line(out), out
    commands = _suggested(out)
    assert [c[0] for c in commands] == ["eval", "export"], out
    for args in commands:
        _parses(args)  # old: `vislab export RUN` → Missing option '--format'
    if command == "predict":  # the eval it suggests, run as written (export's: onnx takes seconds)
        code, scored = cli(capsys, *commands[0])
        assert code == 0 and "test: acc" in scored, scored
    # and the Python way it names: Run(...).predict on an N×2 array
    assert f"vislab.Run('{circles_run}').predict(x)" in one_line(out)
    assert len(vislab.Run(circles_run).predict(np.zeros((3, 2)))) == 3


# --------------------------------------------------------------------------------------- --top-k
@pytest.fixture(scope="module")
def two_class_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("pets")
    write_image_folder(root, classes=("cat", "dog"), per_class=10)
    run = root.parent / "pets-run"
    vislab.train(
        out=run,
        **TINY_RUN,
        data="folder",
        data__root=str(root),
        data__image_size=8,
        train__batch_size=4,
    )
    return run, root / "cat" / "cat_0.png"


def test_predict_on_two_classes_lists_both_without_a_note(two_class_run, capsys):
    run, image = two_class_run
    code, out = cli(capsys, "predict", run, image)
    assert code == 0 and "note:" not in out, out  # old: "note: --top-k 3, but the model knows 2"
    assert "cat" in out and "dog" in out
    code, out = cli(capsys, "predict", run, image, "--top-k", "3")  # asked for more: noted
    assert code == 0 and "note: --top-k 3, but the model knows 2 classes" in one_line(out), out


# ----------------------------------------------------------------------- explain: checkpoint, block
@pytest.fixture
def titles(monkeypatch):
    """The title of each PNG explain draws."""
    import vislab.explain as explain

    seen, real = [], explain.plot_explanation

    def spy(image, maps, labels, path, title="", **kw):
        seen.append(title)
        return real(image, maps, labels, path, title, **kw)

    monkeypatch.setattr(explain, "plot_explanation", spy)
    return seen


@needs_captum
def test_explaining_last_pt_names_it_and_best_keeps_its_names(cnn_run, img, capsys, titles):
    ckpts, out_dir = cnn_run / "checkpoints", cnn_run / "explain"
    for target in (cnn_run, ckpts / "best.pt", ckpts / "last.pt"):
        code, out = cli(capsys, "explain", target, img, "--method", "gradcam", "--force")
        assert code == 0, out
    assert sorted(p.name for p in out_dir.iterdir()) == ["img_gradcam.png", "img_gradcam_last.png"]
    assert [t.endswith("| last.pt") for t in titles] == [False, False, True], titles


def test_attention_titles_count_blocks_from_one_and_name_the_option(vit_run, img, capsys, titles):
    for block in ("0", "-1"):
        code, out = cli(capsys, "explain", vit_run, img, "--method", "attention", "--block", block)
        assert code == 0, out
    assert "attention, block 1 of 2 (--block 0 / block=0)" in titles[0], titles
    assert "attention, block 2 of 2 (--block 1 / block=1)" in titles[1], titles
    names = sorted(p.name for p in (vit_run / "explain").iterdir())
    assert names == ["img_attention_block0.png", "img_attention_block1.png"]  # as --block counts


# ------------------------------------------------------------------- the report's model figures
@pytest.fixture
def drawn(monkeypatch):
    """Each figure the report's model figures save: {file name: the titles on it}."""
    import vislab.plotting.explain as explain_plots
    import vislab.plotting.vit as vit_plots

    seen = {}
    for module in (vit_plots, explain_plots):
        real = module.save_figure

        def spy(fig, path, *a, _real=real, **kw):
            texts = [ax.get_title() for ax in fig.axes]
            seen[path.name] = texts + ([fig._suptitle.get_text()] if fig._suptitle else [])
            return _real(fig, path, *a, **kw)

        monkeypatch.setattr(module, "save_figure", spy)
    return seen


def _test_labels(run) -> list[str]:
    cfg = vislab.Run(run).config
    figs = FigureSet(run / "report-figures", [])
    splits = figs.splits(cfg)
    return [splits.class_names[int(y)] for y in splits.test.y[spread_indices(splits.test.y, 6)]]


@needs_captum
def test_the_reports_gradcam_titles_each_image_with_its_classes(cnn_run, drawn):
    cfg = vislab.Run(cnn_run).config
    found = model_figures(FigureSet(cnn_run / "report-figures", []), "cnn", cnn_run, cfg)
    assert [f["name"] for f in found] == ["gradcam_cnn.png"]
    shown = [t for t in drawn["gradcam_cnn.png"] if t.startswith("predicted ")]
    assert [t.split("\ntrue ")[1] for t in shown] == _test_labels(cnn_run), drawn


def test_the_reports_attention_figures_title_images_with_their_classes(vit_run, drawn):
    cfg = vislab.Run(vit_run).config
    model_figures(FigureSet(vit_run / "report-figures", []), "vit", vit_run, cfg)
    rollout = [t for t in drawn["vit_attention_vit.png"] if t.startswith("predicted ")]
    assert [t.split("\ntrue ")[1] for t in rollout] == _test_labels(vit_run), drawn
    heads = drawn["vit_heads_vit.png"][-1]  # the one image's title
    assert re.fullmatch(r"predicted \S+, true \S+", heads), drawn
