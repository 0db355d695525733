"""`vislab explain` and the report's model figures on a run with test-time augmentation (``train.tta``):
the class titled "predicted" and explained is the class the run predicts (predict, eval,
predictions_test.npz), and the maps say they are of the plain forward pass; the heads figure of a ViT
without a class token says what it draws."""

import importlib.util

import numpy as np
import pytest
import torch
from PIL import Image

import vislab.explain as explain_module
import vislab.report.model_figures as model_figures
from conftest import cli, tiny_config
from vislab.classify import predict_images
from vislab.data.tta import TTA
from vislab.explain import model_input
from vislab.explain_maps import explain_maps
from vislab.predict import load_model
from vislab.report.build import build_report
from vislab.training.trainer import train

needs_captum = pytest.mark.skipif(
    importlib.util.find_spec("captum") is None, reason="pip install 'vislab[explain]'"
)


def _shifted_forward(self, x):
    """A test-time augmentation whose class is always the plain model's class + 1: the two differ."""
    return self.model(x).roll(1, dims=1)


@pytest.fixture
def disagreeing_tta(monkeypatch):
    monkeypatch.setattr(TTA, "forward", _shifted_forward)


@pytest.fixture(scope="module")
def tta_run(tmp_path_factory):
    """A tiny cnn run whose test-time augmentation (trained, evaluated and saved under it) never
    predicts the plain forward pass's class."""
    run = tmp_path_factory.mktemp("tta") / "run"
    sets = ["model.name=cnn", "model.widths=[8,16]", "model.fc=[16]", "train.epochs=1"]
    sets += ["train.tta=flip", "augment.hflip.p=0.5", "train.figures=false"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(TTA, "forward", _shifted_forward)
        train(tiny_config(*sets), run, quiet=True)
    return run


def _spy(monkeypatch, module, name) -> list[tuple]:
    """The positional and keyword arguments of every call of ``module.name`` (still called)."""
    calls, real = [], getattr(module, name)

    def spy(*args, **kw):
        calls.append((args, kw))
        return real(*args, **kw)

    monkeypatch.setattr(module, name, spy)
    return calls


@needs_captum
@pytest.mark.parametrize("method", ["gradcam", "saliency"])
def test_explain_titles_and_maps_the_class_predict_gives(
    tmp_path, capsys, monkeypatch, tta_run, disagreeing_tta, method
):
    model, record = load_model(tta_run)
    arr = np.zeros((8, 8, 1), np.uint8)
    arr[1:7, 3:5] = 255  # a stroke
    png = tmp_path / "stroke.png"
    Image.fromarray(arr[..., 0]).save(png)
    [(_, ranked)] = predict_images(tta_run, [png], top_k=1)
    predicted = record.model.class_names.index(ranked[0][0])
    x = model_input(record, [arr])
    with torch.no_grad():
        assert model(x).argmax(1).item() != predicted  # the plain pass predicts another class
    drawn = _spy(monkeypatch, explain_module, "plot_explanation")
    code, out = cli(capsys, "explain", tta_run, png, "--method", method, "--out", tmp_path / "m")
    assert code == 0, out
    [((_, maps, _, _, title), _)] = drawn
    assert title.startswith(f"stroke.png: {ranked[0][0]} ({ranked[0][1]:.2f})"), title
    torch.testing.assert_close(
        maps, explain_maps(model, x, method, target=torch.tensor([predicted]))[0]
    )
    assert "maps of the plain forward pass; the run predicts with train.tta=flip" in title


@needs_captum
def test_without_tta_the_title_has_no_note(tmp_path, monkeypatch, trained, digit_png):
    drawn = _spy(monkeypatch, explain_module, "plot_explanation")
    explain_module.explain_images(trained, [digit_png], "saliency", tmp_path)
    [((*_, title), _)] = drawn
    assert title.startswith("seven.png: ") and "\n" not in title and "tta" not in title


@needs_captum
def test_report_gallery_titles_and_gradcam_are_the_runs_predictions(
    monkeypatch, tta_run, disagreeing_tta
):
    drawn = _spy(monkeypatch, model_figures, "plot_attention")
    html = build_report(tta_run).read_text()
    [((maps, x, _), kw)] = [c for c in drawn if c[1].get("label") == "Grad-CAM"]
    model, record = load_model(tta_run)
    with np.load(tta_run / "predictions_test.npz") as saved:  # the test images the figures show
        predicted = saved["probs"][model_figures.spread_indices(saved["labels"], len(x))].argmax(1)
    names = record.model.class_names
    assert [t.split("\n")[0] for t in kw["titles"]] == [f"predicted {names[p]}" for p in predicted]
    with torch.no_grad():
        assert (torch.from_numpy(predicted) != model(x).argmax(1)).all()  # not the plain pass's
    target = torch.from_numpy(predicted)
    torch.testing.assert_close(maps, explain_maps(model, x, "gradcam", target=target)[:, 0])
    caption = "Grad-CAM of the predicted class on test images (maps of the plain forward pass; "
    assert caption + "the run predicts with train.tta=flip)" in html


def test_report_of_a_mean_pooled_vit_says_what_its_heads_figure_draws(tmp_path):
    run = tmp_path / "run"
    sets = ["model.name=vit", "model.embed_dim=16", "model.depth=2", "model.num_heads=2"]
    sets += ["model.patch_size=2", "model.pool=mean", "train.epochs=1", "train.figures=false"]
    train(tiny_config(*sets), run, quiet=True)
    html = build_report(run).read_text()
    assert (run / "figures" / "vit_heads_run.png").is_file()
    assert "class-token attention" not in html
    assert "attention to each patch, averaged over all tokens (no class token; last block)" in html
