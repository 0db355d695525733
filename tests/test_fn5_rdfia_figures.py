"""RDFIA 1-ab on 2-D toy data (circles): the decision boundary as training goes (figures/boundary_epochs.png,
kept across a resume), run.plot("boundary") naming the weights it shows, and `data preview` of 2-D points
as their scatter."""

import warnings

import numpy as np
import pytest

import vislab
import vislab.plotting.boundary as boundary
from conftest import cli, tiny_config
from vislab.plotting.canvas import captured_figures
from vislab.training.trainer import train


@pytest.fixture
def drawn_epochs(monkeypatch) -> list:
    """The (epoch, val accuracy) panels the run's boundary_epochs.png is drawn with (it is still drawn)."""
    seen: list = []
    real = boundary.plot_boundary_epochs

    def spy(axes, epochs, *args, **kw):
        seen[:] = [(e, acc) for e, acc, _ in epochs]
        return real(axes, epochs, *args, **kw)

    monkeypatch.setattr(boundary, "plot_boundary_epochs", spy)
    return seen


def _circles(*extra: str):
    base = ("data.name=circles", "data.limit=200", "train.figures=true", "train.eval_at_start=true")
    return tiny_config(*base, *extra)


def test_a_circles_run_draws_its_boundary_at_each_evaluation_and_a_resume_keeps_them(
    tmp_path, drawn_epochs
):
    run = tmp_path / "run"
    train(_circles("train.epochs=1"), run, quiet=True)
    assert [e for e, _ in drawn_epochs] == [0, 1]
    train(None, run, resume=True, epochs=2, quiet=True)  # extended by one epoch
    history = vislab.load_run(run).history
    # the first epochs come from the record kept beside last.pt: the resume did not retrain them
    assert drawn_epochs == list(zip(history["epoch"], history["val_acc"], strict=True))
    assert [e for e, _ in drawn_epochs] == [0, 1, 2]
    assert (run / "figures" / "boundary_epochs.png").stat().st_size > 1000


def test_boundary_epochs_shows_up_to_six_epochs_first_and_last_titled_with_val_accuracy():
    axes = (np.linspace(-1, 1, 8), np.linspace(-1, 1, 8))
    pred = (np.add.outer(axes[1], axes[0]) > 0).astype(np.uint8)
    epochs = [(e, 0.5 + e / 40, pred) for e in range(1, 11)]
    x, y = np.array([[0.5, 0.5], [-0.5, -0.5]]), np.array([1, 0])
    with captured_figures() as figs:
        boundary.plot_boundary_epochs(axes, epochs, x, y, "unwritten.png", ["a", "b"], title="r")
    titles = [ax.get_title() for ax in figs[0].axes if ax.get_title()]
    assert titles[0] == "epoch 1: val acc 0.525" and titles[-1] == "epoch 10: val acc 0.750"
    assert len(titles) == 6


def test_plot_boundary_names_the_checkpoint_and_its_epoch(tmp_path):
    run = tmp_path / "run"
    train(_circles("train.epochs=2", "train.figures=false"), run, quiet=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", vislab.Note)
        r = vislab.load_run(run)
        best = r.plot("boundary").axes[0].get_title()
        last = r.plot("boundary", checkpoint="last").axes[0].get_title()
    epoch = r.summary["best_epoch"]
    assert best.startswith(f"run: test (best.pt, epoch {epoch}): decision boundary (accuracy ")
    assert last.startswith("run: test (last.pt, epoch 2): decision boundary")


def test_preview_of_circles_scatters_the_train_points_by_class():
    fig = vislab.preview_data("circles", data__limit=200)
    ax = fig.axes[0]
    assert ax.get_title().startswith("circles: train split, ")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["outer", "inner"]
    n_points = sum(len(c.get_offsets()) for c in ax.collections)
    assert f"{n_points} points" in ax.get_title()


def test_data_preview_command_writes_the_circles_scatter(capsys, tmp_path):
    out = tmp_path / "c.png"
    code, text = cli(capsys, "data", "preview", "circles", "--set", "data.limit=200", "--out", out)
    assert code == 0 and "nothing to preview" not in text and out.stat().st_size > 1000
    code, text = cli(capsys, "data", "preview", "circles", "--out", out, "--force", "--copies", "2")
    assert code == 2 and "Drop --copies" in text
