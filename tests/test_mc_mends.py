"""Reviewer R3's findings, mended: an image folder's copies noted between the splits as carved (val and
test from train too); gradcheck's advice for an nn.Module object that works when followed, and the
command's own settings refused from --set naming their option; eval of a class-first folder; the
copies' checksum without a copy of the images; a run's own report keeping the run's curves.png;
preview_data's Figure as the other functions' and its words for 2-D points."""

import shutil
import tracemalloc
import warnings

import numpy as np
import pytest
import torch.nn as nn

import vislab
from conftest import cli, one_line, tiny_config
from fixtures import write_image_folder
from vislab.config import DataConfig
from vislab.data import load_splits
from vislab.data.duplicates import _checksums, copies
from vislab.data.types import ArraySet
from vislab.errors import DataError
from vislab.models.hooks import HandWrittenGradients, ModelHooks
from vislab.plotting.canvas import NotebookFigure
from vislab.report.build import build_report
from vislab.training.trainer import train


def _notes(record) -> str:
    return one_line(" ".join(str(n.message) for n in record))


def test_copies_of_one_class_that_the_carved_splits_part_are_noted(tmp_path):
    root = tmp_path / "flat"  # class folders only: vislab carves val and test from them
    files = write_image_folder(root, ("a", "b", "c"), per_class=6)
    for f in files["a"][1:]:  # six copies of one image, all under class 'a'
        shutil.copy(files["a"][0], f)
    with pytest.warns(vislab.Note) as notes:
        splits = load_splits(DataConfig(name="folder", root=str(root)), seed=0)
    said = _notes(notes)
    parted = {k for k, s in splits.items() for n in s.names if "a_" in n}
    assert len(parted) > 1, parted  # the carve put copies in two splits
    assert f"'{root}' holds copies" in said and "in two sets" in said, said
    assert "under two classes" not in said, said


class Plain(nn.Module, ModelHooks):
    """A model of no options of its own, with a (wrong, zero) hand-written backward pass."""

    def __init__(self, input_shape=(2,), num_classes=3):
        super().__init__()
        self.fc = nn.Linear(input_shape[0], num_classes)

    def forward(self, x):
        return self.fc(x)

    def hand_written_gradients(self, x, y):
        return HandWrittenGradients([p.detach() * 0 for p in self.parameters()], self(x))


def test_gradcheck_of_an_object_of_a_class_without_options_advises_the_class_alone():
    with pytest.raises(vislab.UserError) as e:
        vislab.gradcheck(Plain())
    assert "vislab.gradcheck(Plain)." in str(e.value) and "width" not in str(e.value), e.value
    assert vislab.gradcheck(Plain).max_error > 0  # the advice, followed, checks it


def test_gradcheck_of_a_torch_sequential_advises_a_builder_without_model_options():
    with pytest.raises(vislab.UserError) as e:
        vislab.gradcheck(nn.Sequential(nn.Linear(2, 3)))
    said = str(e.value)
    assert "def build(input_shape, num_classes): return nn.Sequential(...)" in said, said
    assert "vislab.gradcheck(build)" in said and "model__" not in said, said
    assert "pass the class Sequential" not in said, said

    def build(input_shape, num_classes):
        return nn.Sequential(nn.Linear(input_shape[0], num_classes))

    with pytest.raises(vislab.UserError, match="no hand_written_gradients hook"):
        vislab.gradcheck(build)  # followed: on to the check's own question, its hook


@pytest.mark.parametrize(
    "given, option",
    [("seed=1", "--seed 1"), ("batch=3", "--batch 3"), ("model.tol=1", "--tol 1"),
     ("num_classes=4", "--classes 4")],
)  # fmt: skip
def test_gradcheck_command_refuses_its_own_settings_from_set_naming_the_option(
    capsys, given, option
):
    code, text = cli(capsys, "model", "gradcheck", "--set", given)
    assert code == 2 and f"give {option}." in one_line(text), text
    code, text = cli(capsys, "model", "gradcheck", *option.split())
    assert code == 0, text


def test_a_class_first_folder_is_scored_pooled_when_a_run_evaluates_it(tmp_path):
    root = tmp_path / "classfirst"  # root/<class>/{train,test}/: refused for training, not for eval
    for c in ("a", "b"):
        for i, split in enumerate(("train", "test")):
            write_image_folder(root / c, (split,), per_class=2, seed=i)
    cfg = DataConfig(name="folder", root=str(root))
    with pytest.raises(DataError, match="would be trained on"):
        load_splits(cfg, seed=0)
    splits = load_splits(cfg, seed=0, channels=3, notes=False, whole=True)  # as eval --split all
    assert sum(len(s) for _, s in splits.items()) == 8 and splits.class_names == ["a", "b"]


def test_checksums_of_images_of_odd_byte_counts_copy_no_images():
    x = np.random.default_rng(0).integers(0, 256, (2000, 27, 27, 3), dtype=np.uint8)  # 2187 bytes
    x[7] = x[3]
    tracemalloc.start()
    try:
        sums = _checksums(x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < x.nbytes / 20, peak  # np.pad copied them all (numpy buffers 64 KiB at most)
    padded = np.pad(x.reshape(2000, -1), ((0, 0), (0, 5))).view(np.uint64).sum(1)
    assert np.array_equal(sums, padded)  # each image's bytes as words padded with zeros, summed
    assert copies({"train": ArraySet(x, np.zeros(2000))}) == [[("train", 3), ("train", 7)]]


def test_a_runs_own_report_keeps_the_runs_curves_png(tmp_path):
    run = tmp_path / "run"
    train(tiny_config("train.epochs=1", "train.figures=true"), run, quiet=True)
    own = (run / "figures" / "curves.png").read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", vislab.Note)
        page = build_report(run).read_text()
    assert (run / "figures" / "curves.png").read_bytes() == own  # best.pt's line, step losses kept
    assert (run / "figures" / "curves_report.png").is_file()
    assert "loss, accuracy and per-class accuracy of 1 run" in page  # its panels, the caption says


def test_preview_data_returns_a_notebook_figure_and_says_why_2d_points_take_no_show(
    capsys, tmp_path
):
    x = np.random.default_rng(0).integers(0, 256, (40, 8, 8, 1), dtype=np.uint8)
    assert isinstance(vislab.preview_data((x, np.arange(40) % 2), n=2, copies=1), NotebookFigure)
    assert isinstance(vislab.preview_data("circles", data__n_samples=60), NotebookFigure)
    out = tmp_path / "p.png"
    code, text = cli(capsys, "data", "preview", "circles", "--show", "normalized", "--out", out)
    said = one_line(text)
    assert code == 2 and "2-D points have none: drop --show" in said, said
    assert "nothing to preview" not in said, said
    assert cli(capsys, "data", "preview", "circles", "--out", out)[0] == 0 and out.is_file()
