"""Session 26, fix Q: eval, predict and export each say once which weights they used (best.pt's too),
predict and export on stderr (stdout stays the predictions); Run.plot's title names the checkpoint as
eval's PNG does; --checkpoint's help says last of a train.ema run is their average."""

from __future__ import annotations

import pytest

import vislab
from conftest import cli, one_line, tiny_config
from vislab.training.trainer import train

EMA = ("train.ema.decay=0.9", "train.epochs=3", "train.figures=false")


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory):
    """A finished 3-epoch train.ema run (best.pt at its best epoch, last.pt holding the average)."""
    run = tmp_path_factory.mktemp("ema2") / "ema2"
    train(tiny_config(*EMA), run, quiet=True)
    return run


def _best_epoch(run) -> int:
    return vislab.load_run(run).summary["best_epoch"]


def test_eval_of_best_says_which_weights_under_its_scores(ema_run, capsys):
    code = vislab.cli.main(["eval", str(ema_run), "--mistakes", "0"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    first, second = out.splitlines()[:2]  # the scores stay the first line
    assert (
        first.startswith("test: acc ")
        and second == f"weights: best.pt, epoch {_best_epoch(ema_run)}"
    )
    code, text = cli(capsys, "eval", ema_run, "--checkpoint", "last", "--mistakes", "0")
    assert one_line(text).count("weights: last.pt's train.ema average, epoch 3") == 1, text


@pytest.mark.parametrize(
    ("which", "said"), [((), "weights: best.pt, epoch"), (("--checkpoint", "last"), "average")]
)
def test_predict_says_the_weights_on_stderr(ema_run, capsys, digit_png, which, said):
    code = vislab.cli.main(["predict", str(ema_run), str(digit_png), "-k", "1", *which])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "weights:" not in out and out.startswith(f"{digit_png}: "), (
        out
    )  # stdout: predictions only
    assert one_line(err).count("weights: ") == 1, err
    want = "weights: last.pt's train.ema average, epoch 3" if which else said
    assert want in one_line(err), err


def test_a_refused_predict_or_export_says_no_weights(ema_run, capsys, tmp_path):
    code, text = cli(capsys, "predict", ema_run, tmp_path / "missing.png")
    assert code == 2 and "weights:" not in text, text
    code, text = cli(capsys, "export", ema_run, "-f", "tflite")
    assert code == 2 and "weights:" not in text, text


def test_export_of_last_says_the_average(ema_run, capsys, tmp_path):
    code = vislab.cli.main(
        ["export", str(ema_run), "-f", "torchscript", "--checkpoint", "last", "-o", str(tmp_path)]
    )
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "weights: last.pt's train.ema average, epoch 3" in one_line(err), err
    assert "weights:" not in out, out


def test_run_plot_title_names_the_checkpoint(ema_run):
    run = vislab.load_run(ema_run)
    titles = {
        which: run.plot("roc", checkpoint=which).axes[0].get_title() for which in ("best", "last")
    }
    assert titles == {"best": "ema2: test", "last": "ema2 (last): test"}, titles


def test_help_texts_say_the_average_and_the_sweep_folder(capsys):
    _, text = cli(capsys, "eval", "--help")
    assert "of a train.ema run, their average" in one_line(text), text
    _, text = cli(capsys, "paper", "--help")
    assert "a sweep folder" in one_line(text), text
