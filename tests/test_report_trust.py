"""`vislab report` and `vislab paper` of a run of the user's own model file, edited since training: the
model figures need the user's consent (--trust-code, which the note names and both commands take)."""

import html
import os
from pathlib import Path

import pytest

from conftest import cli, one_line, tiny_sets
from figures_skipped import skip_report_figures
from vislab.cli import main

CNN = """
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes, input_shape=None):
        super().__init__()
        c = input_shape[0]
        self.conv = nn.Conv2d(c, 4, 3, padding=1)
        self.head = nn.Sequential(nn.ReLU(), nn.Flatten(), nn.LazyLinear(num_classes))

    def forward(self, x):
        return self.head(self.conv(x))
"""


@pytest.fixture(scope="module")
def edited_run(tmp_path_factory) -> Path:
    """A finished 1-epoch run of ``net.py:Net`` (a conv net: Grad-CAM), its file edited afterwards."""
    home = tmp_path_factory.mktemp("edited")
    (home / "net.py").write_text(CNN)
    here = Path.cwd()
    os.chdir(home)
    try:
        sets = tiny_sets("model.name=net.py:Net", "train.figures=false", drop="model.hidden=[32]")
        assert main(["train", "-q", "--out", "run", *sets]) == 0
    finally:
        os.chdir(here)
    (home / "net.py").write_text(CNN + "\n# edited after training\n")
    return home / "run"


def _notes(run: Path) -> str:
    page = html.unescape((run / "report.html").read_text())
    return one_line(page.partition("<h2>Notes</h2>")[2])


def test_report_names_trust_code_and_takes_it(capsys, edited_run, monkeypatch):
    skip_report_figures(monkeypatch, keep=("gradcam_",))  # the figure that imports the run's code
    gradcam = edited_run / "figures" / "gradcam_run.png"
    code, text = cli(capsys, "report", edited_run)
    assert code == 0, text
    notes = _notes(edited_run)
    assert "not importing user code" in notes and "pass --trust-code" in notes
    assert not gradcam.exists()
    code, text = cli(capsys, "report", edited_run, "--trust-code")  # the flag the note names
    assert code == 0, text
    assert gradcam.is_file() and "not importing user code" not in _notes(edited_run)


def test_paper_takes_trust_code(capsys, edited_run, tmp_path, monkeypatch):
    skip_report_figures(monkeypatch, keep=("gradcam_",))  # the figure that imports the run's code
    code, text = cli(capsys, "paper", edited_run, "--out", tmp_path / "paper", "--trust-code")
    assert code == 0, text
    assert (tmp_path / "paper" / "figures" / "gradcam_run.pdf").is_file()
    assert "not importing user code" not in (tmp_path / "paper" / "texts.tex").read_text()
