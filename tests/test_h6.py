"""A sweep's curves of 1-epoch trials: every trial drawn (a one-point curve is a marker), whole-epoch ticks;
an ONNX and a TorchScript export to one stem (X.onnx, X.torchscript) keep a spec each."""

from __future__ import annotations

import json

import pytest

from conftest import cli
from vislab.plotting.canvas import captured_figures, plt
from vislab.plotting.sweeps import plot_trial_curves


def _one_epoch_trials(n: int) -> tuple[dict, dict]:
    """``n`` trials of one epoch each (a sweep of `epochs: 1`), the worst with a loss of 12."""
    histories = {
        f"trial-{i}": [
            {
                "epoch": 1,
                "train_loss": 1.5 + i,
                "val_loss": 1.6 + i,
                "train_acc": 0.6 - 0.05 * i,
                "val_acc": 0.55 - 0.04 * i,
            }
        ]
        for i in range(n)
    }
    return histories, {name: rows[0]["val_acc"] for name, rows in histories.items()}


def _drawn(fig) -> list:
    """The curves of ``fig``'s two panels a reader sees: lines with data and a marker (one point) or
    more than one point (a line)."""
    return [
        line
        for ax in fig.axes[:2]
        for line in ax.lines
        if len(line.get_xdata()) > 1 or line.get_marker() not in ("", "None", None)
    ]


def _whole_epoch_ticks(fig) -> list[list[float]]:
    fig.canvas.draw()
    out = []
    for ax in fig.axes[:2]:
        lo, hi = ax.get_xlim()
        out.append([t for t in ax.get_xticks() if lo <= t <= hi])
    return out


def test_a_one_epoch_sweeps_curves_draw_every_trial_on_a_whole_epoch_tick():
    """11 trials of 1 epoch: only the best 6 had a marker, the other 5 were one-point lines (invisible)
    that still stretched the loss axis to 12; the epoch axis read 0.945 ... 1.05."""
    histories, values = _one_epoch_trials(11)
    with captured_figures() as figs:
        plot_trial_curves(histories, values, "unused.png", metric="val_acc")
    (fig,) = figs
    drawn = _drawn(fig)
    assert len(drawn) == 11 * 4  # train and val loss, train and val accuracy of each trial
    loss_points = sorted(float(line.get_ydata()[0]) for line in fig.axes[0].lines if line in drawn)
    assert loss_points[-1] == pytest.approx(
        11.6
    )  # the worst trial's val loss: seen, not just ranged
    assert _whole_epoch_ticks(fig) == [[1.0], [1.0]]
    # train and val of one trial tell apart: filled and hollow markers
    fills = {line.get_linestyle(): line.get_fillstyle() for line in fig.axes[0].lines}
    assert fills == {"-": "full", "--": "none"}
    plt.close(fig)


def test_a_sweep_of_epochs_and_a_trial_stopped_after_one_draw_both():
    """A trial pruned after its first epoch among 3-epoch trials is a marker; the 3-epoch trials are
    lines (unnamed ones without markers, as before), on whole epoch ticks."""
    histories = {
        f"trial-{i}": [
            {"epoch": e, "train_loss": 2 / e + i, "val_loss": 2 / e, "val_acc": 0.2 * e}
            for e in (1, 2, 3)
        ]
        for i in range(8)
    }
    histories["trial-8"] = [{"epoch": 1, "train_loss": 3.0, "val_loss": 3.1, "val_acc": 0.1}]
    values = {n: rows[-1]["val_acc"] - 0.01 * int(n[-1]) for n, rows in histories.items()}
    with captured_figures() as figs:
        plot_trial_curves(histories, values, "unused.png", metric="val_acc")
    (fig,) = figs
    pruned = [line for line in fig.axes[0].lines if len(line.get_xdata()) == 1]
    assert len(pruned) == 2 and all(line.get_marker() not in ("", "None") for line in pruned)
    unnamed = [line for line in fig.axes[0].lines if line.get_marker() in ("", "None")]
    assert len(unnamed) == 2 * 2  # trials 6 and 7: past the 6 named, lines of 3 points
    assert all(len(line.get_xdata()) == 3 for line in unnamed)
    assert _whole_epoch_ticks(fig) == [[1.0, 2.0, 3.0]] * 2
    plt.close(fig)


def test_onnx_and_torchscript_exports_to_one_stem_keep_a_spec_each(capsys, trained, tmp_path):
    """`vislab export RUN -f onnx -o X.onnx` after `-f torchscript -o X.torchscript` was refused:
    both wrote their inference spec to X.json."""
    pytest.importorskip("onnxruntime")
    ts, onnx = tmp_path / "X.torchscript", tmp_path / "X.onnx"
    code, text = cli(capsys, "export", trained, "-f", "torchscript", "-o", ts)
    assert code == 0, text
    code, text = cli(capsys, "export", trained, "-f", "onnx", "-o", onnx)
    assert code == 0, text
    specs = {
        p.name: json.loads(p.read_text())
        for p in (tmp_path / "X.torchscript.json", tmp_path / "X.json")
    }
    assert {n: (s["model_file"], s["format"]) for n, s in specs.items()} == {
        "X.torchscript.json": ("X.torchscript", "torchscript"),
        "X.json": ("X.onnx", "onnx"),
    }
    assert ts.stat().st_size > 0 and onnx.stat().st_size > 0
    assert f"inference spec: {tmp_path / 'X.json'}" in " ".join(text.split())


def test_a_second_torchscript_export_to_one_stem_names_the_export_it_would_orphan(
    capsys, trained, tmp_path
):
    """X.pt's spec is X.torchscript's (X.torchscript.json): refused without --force, naming the export
    whose spec it is and another --out; nothing written."""
    ts = tmp_path / "X.torchscript"
    assert cli(capsys, "export", trained, "-f", "torchscript", "-o", ts)[0] == 0
    spec = (tmp_path / "X.torchscript.json").read_text()
    code, text = cli(capsys, "export", trained, "-f", "torchscript", "-o", tmp_path / "X.pt")
    line = " ".join(text.split())
    assert code == 2, text
    assert f"is the inference spec of the export '{ts}'" in line
    assert f"give --out another name (e.g. {tmp_path / 'X-2.pt'})" in line and "--force" in line
    assert (
        not (tmp_path / "X.pt").exists() and (tmp_path / "X.torchscript.json").read_text() == spec
    )
