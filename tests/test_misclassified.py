"""Misclassified images: the gallery of the most confidently wrong predictions and the most confused pairs,
in `vislab eval` and in report.html."""

import os
import re
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import cli, tiny_config
from vislab.cli import main
from vislab.errors import UserError
from vislab.plotting.canvas import captured_figures
from vislab.plotting.mistake_picks import Mistake, confident_mistakes, confused_pairs
from vislab.plotting.mistakes import mistake_title, mistakes_figure, plot_mistakes
from vislab.report.build import build_report
from vislab.report.figure_set import failure_note
from vislab.training.trainer import train


def test_gallery_picks_the_most_confident_wrong_predictions():
    labels = np.array([0, 1, 2, 0, 1, 2])
    probs = np.array(
        [
            [0.9, 0.05, 0.05],  # right
            [0.7, 0.2, 0.1],  # wrong, 0.7
            [0.05, 0.9, 0.05],  # wrong, 0.9
            [0.2, 0.75, 0.05],  # wrong, 0.75
            [0.1, 0.99, 0.0],  # right, more confident than any mistake
            [0.5, 0.1, 0.4],  # wrong, 0.5
        ]
    )
    picked = confident_mistakes(probs, labels, n=3)
    assert [m.index for m in picked] == [2, 3, 1]
    assert [(m.true, m.pred) for m in picked] == [(2, 1), (0, 1), (1, 0)]
    assert picked[0].prob == pytest.approx(0.9)
    assert len(confident_mistakes(probs, labels, n=16)) == 4  # only the wrong ones
    assert confident_mistakes(probs[[0, 4]], labels[[0, 4]]) == []


def test_pairs_are_the_largest_off_diagonal_counts_each_direction_apart():
    cm = np.array(
        [
            [50, 7, 0, 1],
            [3, 60, 9, 0],
            [0, 2, 40, 0],
            [5, 0, 0, 99],
        ]
    )
    assert confused_pairs(cm, k=5) == [(1, 2, 9), (0, 1, 7), (3, 0, 5), (1, 0, 3), (2, 1, 2)]
    assert confused_pairs(np.diag([5, 5]), k=5) == []  # no mistakes, no pairs


def test_gallery_png_is_written(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 8, 8, 1), dtype=np.uint8)
    probs = rng.dirichlet(np.ones(3), 6)
    labels = np.array([0, 1, 2, 0, 1, 2])
    path = plot_mistakes(
        images,
        confident_mistakes(probs, labels),
        [(0, 1, 2)],
        ["a", "b", "c"],
        tmp_path / "m.png",
    )
    with Image.open(path) as img:
        assert img.size[0] > 200 and img.size[1] > 100


def test_gallery_titles_are_true_to_predicted_on_one_line_then_the_probability():
    images = np.zeros((3, 8, 8, 1), np.uint8)
    wrong = [Mistake(0, 8, 1, 0.27), Mistake(1, 3, 5, 0.2), Mistake(2, 0, 6, 0.125)]
    fig = mistakes_figure(images, wrong, [(8, 1, 1)], [str(d) for d in range(10)])
    titles = [t.get_text() for t in fig.texts if "p=" in t.get_text()][:3]
    assert titles == ["8 → 1\np=0.27", "3 → 5\np=0.20", "0 → 6\np=0.12"]
    fashion = ["T-shirt/top", "Coat", "Shirt", "Ankle boot"]
    assert mistake_title(Mistake(0, 1, 2, 0.5), fashion) == "Coat → Shirt\np=0.50"
    # names too long to share a line: one each, whole, the arrow after the true one
    assert mistake_title(Mistake(0, 0, 3, 0.5), fashion) == "T-shirt/top →\nAnkle boot\np=0.50"


def test_feature_vectors_get_a_chart_of_confused_pairs_titled_as_such(capsys, tmp_path):
    run = tmp_path / "circles"
    train(tiny_config("data.name=circles", "data.limit=200", "train.epochs=1"), run, quiet=True)
    with captured_figures() as drawn:
        code, out = cli(capsys, "eval", run, "--out", tmp_path / "eval")
        assert code == 0, out
    gallery = drawn[-1]
    heads = " ".join(t.get_text() for t in gallery.texts)
    assert "test: most confused pairs" in heads and "confidently wrong" not in heads
    mistakes_png = tmp_path / "eval" / "mistakes_test.png"
    assert f"most confused pairs (feature vectors, no images): {mistakes_png}" in out


def _train(tmp_path_factory, name: str, *sets: str):
    """A 1-epoch digits run trained through the CLI into a folder ``name``."""
    out = tmp_path_factory.mktemp("run") / name
    sets = ("data.name=digits", "train.epochs=1", *sets)
    code = main(["train", *[a for s in sets for a in ("--set", s)], "--out", str(out), "--quiet"])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    return _train(tmp_path_factory, "mlp", "model.name=mlp", "model.hidden=[16]")


def test_eval_prints_pairs_and_writes_the_gallery(capsys, trained, tmp_path):
    code = main(["eval", str(trained), "--mistakes", "4", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    with np.load(trained / "predictions_test.npz") as f:
        probs, labels = f["probs"], f["labels"]
    cm = np.zeros((10, 10), int)
    np.add.at(cm, (labels, probs.argmax(1)), 1)
    # the pairs eval prints are the saved predictions' largest off-diagonal cells
    printed = re.findall(r"^\s+(\d) → (\d): (\d+)$", out, re.M)
    assert [tuple(map(int, p)) for p in printed] == confused_pairs(cm)
    assert printed, "a 1-epoch MLP makes mistakes on digits"
    assert (tmp_path / "mistakes_test.png").is_file()
    assert (tmp_path / "confusion_test.png").is_file()


def _unwritable(folder):
    """``folder`` made read-only; where that does not stop writes (root), a file in its place."""
    folder.chmod(0o555)
    if os.access(folder, os.W_OK):  # root writes anyway
        folder.chmod(0o755)
        shutil.rmtree(folder)
        folder.write_text("")


def test_eval_refuses_a_run_whose_figures_cannot_be_written_before_scoring(
    capsys, trained, tmp_path
):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    _unwritable(run / "figures")
    try:
        code = main(["eval", str(run)])
    finally:
        if (run / "figures").is_dir():
            (run / "figures").chmod(0o755)
    out, err = capsys.readouterr()
    assert code == 2
    assert "test: acc" not in out  # checked before scoring: nothing was scored
    said = " ".join(err.split())
    unwritable = "cannot be written" in said or "is a file, not a folder" in said  # root: a file
    assert unwritable and "nothing was scored" in said, err
    assert "figures" in said and "--out DIR" in said, err
    assert "Traceback" not in err


def test_eval_refuses_a_negative_gallery_size(capsys, trained):
    assert main(["eval", str(trained), "--mistakes", "-1"]) == 2
    assert "--mistakes" in capsys.readouterr().err


def test_report_has_a_mistakes_section_per_run(trained):
    html = build_report(trained).read_text()
    assert 'id="mistakes-mlp"' in html or "Mistakes: most confidently wrong" in html
    assert "Most confused pairs (true → predicted" in html
    assert (trained / "figures" / "mistakes_mlp.png").is_file()


def test_eval_normalize_draws_each_true_class_s_shares(capsys, trained, tmp_path):
    with captured_figures() as drawn:  # the figures themselves, not their PNGs
        code = main(
            ["eval", str(trained), "--normalize", "--mistakes", "0", "--out", str(tmp_path)]
        )
        assert code == 0, capsys.readouterr().err
        confusion, roc = drawn  # the ROC curves after it
    cells = np.array([float(t.get_text()) for t in confusion.axes[0].texts]).reshape(10, 10)
    np.testing.assert_allclose(cells.sum(1), 1, atol=0.06)  # rows sum to 1 (two decimals a cell)
    assert "share of each true class" in confusion.axes[0].get_title()
    assert roc.axes[0].get_xlabel() == "false positive rate"


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    return _train(tmp_path_factory, "cnn", "data.limit=300", "model.name=cnn")


def test_a_missing_optional_part_is_a_one_line_hint(cnn_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "captum", None)  # as on an install without captum
    html = build_report(cnn_run).read_text()
    notes = re.findall(r"<li>(.*?)</li>", html.split("<h2>Notes</h2>")[-1], re.S)
    [hint] = [n for n in notes if "Grad-CAM" in n]
    assert hint == "cnn: Grad-CAM needs captum: pip install &#39;vislab[explain]&#39;"
    assert "Error" not in html.split("<h2>Notes</h2>")[-1]
    assert "dotted" not in html  # no run tracked the test set: no caption or note speaks of it


def test_a_report_with_captum_draws_grad_cam(cnn_run):
    html = build_report(cnn_run).read_text()
    assert "Grad-CAM of the predicted class" in html
    assert (cnn_run / "figures" / "gradcam_cnn.png").is_file()


def test_failure_notes_are_one_line_without_the_exception_s_type():
    missing = ModuleNotFoundError("No module named 'timm'", name="timm")
    assert failure_note("vit: model figures", missing) == (
        "vit: model figures needs timm: pip install 'vislab[timm]'"
    )
    told = UserError("this checkpoint is from a newer vislab.\nUpgrade: pip install -U vislab")
    assert failure_note("cnn: test figures", told) == (
        "cnn: test figures: this checkpoint is from a newer vislab."
    )
