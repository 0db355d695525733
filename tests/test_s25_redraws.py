"""Session 25 (fix E): a report's next build keeps each figure whose inputs did not change (its file, inode
and time as they were; Grad-CAM not computed again), and draws anew the figures of a run trained again; a
sweep's trials draw no figures/ of their own unless the user asks, while the sweep's report still shows
the best trials' figures. Session 25 (fix I): the key follows the runs' order (their colours) and
matplotlib's style, a user model's imported modules, not how the command spelled the run folder; a
sweep without its report keeps its trials' own figures."""

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import yaml

import vislab
import vislab.report.model_figures as model_figures
from conftest import DROP, TINY_DIGITS, tiny_config, tiny_sweep
from vislab.plotting.canvas import figure_key
from vislab.report.build import build_report
from vislab.training.trainer import train


def _stamps(folder: Path) -> dict[str, tuple[int, int]]:
    """Each PNG of a report's figures/ → (inode, modification time in ns)."""
    return {
        p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (folder / "figures").glob("*.png")
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A folder of one tiny cnn run (it has a Grad-CAM figure)."""
    folder = tmp_path_factory.mktemp("redraws") / "runs"
    train(tiny_config("model.name=cnn", "train.epochs=1"), folder / "cnn", quiet=True)
    return folder


@pytest.fixture
def gradcam_drawn(monkeypatch) -> list:
    """The paths the report's Grad-CAM figure is drawn at (plot_attention called), in this test."""
    drawn, real = [], model_figures.plot_attention

    def spy(*args, **kw):
        drawn.append(kw["path"])
        return real(*args, **kw)

    monkeypatch.setattr(model_figures, "plot_attention", spy)
    return drawn


def test_a_second_build_keeps_every_figure_and_computes_no_gradcam(runs, gradcam_drawn):
    build_report(runs, log=lambda line: None)
    first = _stamps(runs)
    assert "gradcam_cnn.png" in first
    gradcam_drawn.clear()  # the draws of the second build only (the first may follow another test's)
    build_report(runs, log=lambda line: None)
    assert _stamps(runs) == first  # not one file written again
    assert gradcam_drawn == []  # the Grad-CAM maps not computed again
    html = (runs / "report.html").read_text()
    assert "cnn: Grad-CAM of the predicted class" in html  # the kept figure is still on the page
    assert html.count("data:image/png;base64,") >= len(first)


def test_a_run_whose_best_pt_is_replaced_gets_its_model_figures_drawn_anew(runs, gradcam_drawn):
    build_report(runs, log=lambda line: None)
    before = _stamps(runs)
    gradcam_drawn.clear()  # the draws after the first build only
    best = runs / "cnn" / "checkpoints" / "best.pt"
    shutil.copyfile(best, best.with_name("new.pt"))  # the run trained again: a new best.pt
    os.replace(best.with_name("new.pt"), best)
    later = best.stat().st_mtime_ns + 2_000_000_000
    os.utime(best, ns=(later, later))
    build_report(runs, log=lambda line: None)
    after = _stamps(runs)
    assert len(gradcam_drawn) == 1
    assert after["gradcam_cnn.png"] != before["gradcam_cnn.png"]
    # its predictions did not change: the figures drawn from them are kept
    assert after["confusion_cnn.png"] == before["confusion_cnn.png"]


def _draw(x, path: Path, title: str = "") -> Path:
    return path


@dataclass
class _Data:
    x: np.ndarray
    name: str


def test_the_key_of_a_figure_follows_every_input():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    key = figure_key(_draw, a)
    assert key == figure_key(_draw, a.copy()) is not None
    assert key != figure_key(_draw, a + 1)  # another value
    assert key != figure_key(_draw, a.astype(np.float64))  # another dtype
    assert key != figure_key(_draw, a.reshape(3, 2))  # another shape
    assert key != figure_key(_draw, a, title="t")
    data = _Data(a, "digits")
    assert figure_key(_draw, data) == figure_key(_draw, _Data(a.copy(), "digits")) is not None
    assert figure_key(_draw, data) != figure_key(_draw, _Data(a, "mnist"))
    # a model is no plain value: no key (always drawn), unless it says what it stands for (its files)
    assert figure_key(_draw, object()) is None
    assert figure_key(_draw, _Model({"best.pt": [10, 1]})) == figure_key(
        _draw, _Model({"best.pt": [10, 1]})
    )
    assert figure_key(_draw, _Model({"best.pt": [10, 1]})) != figure_key(
        _draw, _Model({"best.pt": [10, 2]})
    )


class _Model:
    """A model that names what it stands for in a figure's key, as the report's models do."""

    def __init__(self, files: dict):
        self.files = files

    def figure_input(self) -> dict:
        return self.files


@pytest.mark.filterwarnings("ignore:parameter importances")
def test_sweep_trials_draw_no_figures_but_its_report_shows_the_best_trials(tmp_path):
    out = tmp_path / "sw"
    vislab.sweep(tiny_sweep(base__train__figures=DROP), out=out, trials=1, quiet=True, report=True)
    assert (out / "trials" / "0" / "summary.json").is_file()
    assert not list((out / "trials").glob("*/figures/*.png"))
    trial = yaml.safe_load((out / "trials" / "0" / "config.yaml").read_text())
    assert trial["train"]["figures"] is False  # the trial's config says why it has none
    html = (out / "report.html").read_text()
    assert "trial-0: test confusion matrix" in html
    assert (out / "figures" / "confusion_trial-0.png").is_file()


@pytest.mark.filterwarnings("ignore:parameter importances")
def test_a_sweep_asked_for_figures_draws_them_in_each_trial(tmp_path):
    out = tmp_path / "sw"
    spec = tiny_sweep(base__train__figures=DROP)
    vislab.sweep(  # --set train.figures=true
        spec, out=out, trials=1, quiet=True, report=True, train__figures=True
    )
    assert (out / "trials" / "0" / "figures" / "confusion_test.png").is_file()


def test_a_sweep_without_its_report_keeps_each_trials_own_figures(tmp_path):
    out = tmp_path / "sw"
    vislab.sweep(tiny_sweep(base__train__figures=DROP), out=out, trials=1, quiet=True)
    assert (out / "trials" / "0" / "figures" / "confusion_test.png").is_file()
    assert not (out / "report.html").exists()  # no report draws them: the trial keeps its own
    trial = yaml.safe_load((out / "trials" / "0" / "config.yaml").read_text())
    assert trial["train"]["figures"] is True


def test_two_orders_of_the_runs_give_two_keys():
    # the curves' colours follow the runs' order: a reordered suite's curves.png is drawn again
    a, b = [{"epoch": 1, "val_acc": 0.5}], [{"epoch": 1, "val_acc": 0.7}]
    key = figure_key(_draw, {"mlp": a, "cnn": b})
    assert key == figure_key(_draw, {"mlp": a, "cnn": b}) is not None
    assert key != figure_key(_draw, {"cnn": b, "mlp": a})


def test_a_changed_matplotlib_setting_gives_another_key():
    a = np.arange(4.0)
    key = figure_key(_draw, a)
    with matplotlib.rc_context({"lines.linewidth": matplotlib.rcParams["lines.linewidth"] + 1}):
        assert figure_key(_draw, a) != key  # a matplotlibrc, plt.style.use: drawn in the new style
    assert figure_key(_draw, a) == key


BLOCKS = """\
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.conv = nn.Conv2d(n_in, n_out, 3, padding=1)

    def forward(self, x):
        return self.conv(x).relu()
"""
NET = """\
import torch.nn as nn
from blocks import Block


class Net(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.body = nn.Sequential(Block(input_shape[0], 4), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(4, num_classes)

    def forward(self, x):
        return self.head(self.body(x))
"""


@pytest.fixture
def own_model(tmp_path, monkeypatch) -> Path:
    """A folder ``runs`` (the current directory's) of one run of a model file net.py that imports its
    sibling blocks.py, whose convolution gives it a Grad-CAM figure."""
    (tmp_path / "blocks.py").write_text(BLOCKS)
    (tmp_path / "net.py").write_text(NET)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "blocks", raising=False)
    settings = {k: v for k, v in TINY_DIGITS.items() if not k.startswith("model")}
    vislab.train(model="net.py:Net", out=tmp_path / "runs" / "net", quiet=True, **settings)
    yield tmp_path / "runs"
    sys.modules.pop("blocks", None)


def test_a_changed_module_of_a_trusted_model_file_gets_its_gradcam_drawn_anew(
    own_model, gradcam_drawn
):
    build_report(own_model, trust_code=True, log=lambda line: None)
    assert len(gradcam_drawn) == 1
    first = _stamps(own_model)
    # the same folder spelled another way (`cd`, a relative path): its figures are kept
    build_report(Path("runs"), trust_code=True, log=lambda line: None)
    assert len(gradcam_drawn) == 1 and _stamps(own_model) == first
    blocks = own_model.parent / "blocks.py"
    blocks.write_text(BLOCKS.replace(".relu()", ".tanh()"))
    later = blocks.stat().st_mtime_ns + 2_000_000_000
    os.utime(blocks, ns=(later, later))
    build_report(own_model, trust_code=True, log=lambda line: None)
    assert len(gradcam_drawn) == 2  # the model as it is now, not the kept picture of the old one


def test_a_notebooks_interactive_mode_keeps_the_key():
    """IPython turns matplotlib's interactive mode on in every notebook: a report built there kept no
    figure the command had drawn, and the other way round."""
    before = figure_key(_draw, np.arange(4.0))
    was = matplotlib.is_interactive()
    try:
        matplotlib.interactive(not was)
        assert figure_key(_draw, np.arange(4.0)) == before
    finally:
        matplotlib.interactive(was)


def test_a_timm_model_with_a_pretrained_tag_has_no_code_files():
    """timm:resnet18.a1_in1k trains, but reading it as a user's file reference raised, and the run lost
    every model figure of its report."""
    assert model_figures._code_files("timm:resnet18.a1_in1k", {}) == []
