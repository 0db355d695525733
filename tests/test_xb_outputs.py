"""Where commands write what they make (explorer xb): a full disk's advice names only options the command
has; the commands that write figures or PNGs refuse a run's own files and its checkpoints/ as export does."""

from __future__ import annotations

import errno
import os
import shutil

import pytest

from conftest import cli, one_line
from figures_skipped import skip_report_figures
from vislab.files import atomic_write_text


def _full(fd):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_report_on_a_full_disk_names_no_out_option(trained, tmp_path, monkeypatch, capsys):
    """`vislab report` has no --out: its full-disk message says what works for it (free space, or copy
    the folder elsewhere), as its read-only message does."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    skip_report_figures(monkeypatch)  # the page's own write is the one read here
    monkeypatch.setattr(os, "fsync", _full)
    code, out = cli(capsys, "report", run)
    said = one_line(out)
    assert code == 1 and f"could not write '{run / 'report.html'}': the disk is full" in said, out
    assert "--out" not in said and "copy the folder somewhere writable" in said, out


def test_a_write_an_option_chose_still_names_it(tmp_path, monkeypatch):
    """The commands that have the option keep naming it as the fix."""
    from vislab.errors import WriteFailed

    monkeypatch.setattr(os, "fsync", _full)
    with pytest.raises(WriteFailed, match="Free space or choose another --csv"):
        atomic_write_text(tmp_path / "t.csv", "x", option="--csv")


@pytest.mark.parametrize(
    "command",
    [
        ["data", "preview", "digits", "--out", "{run}/checkpoints/x.png", "--force"],
        ["figure", "pos-embed", "--out", "{run}/checkpoints/best.png", "--force"],
        [
            "lr-find",
            "--set",
            "data.name=digits",
            "--set",
            "model.name=mlp",
            "--steps",
            "10",
            "--out",
            "{run}/checkpoints/lr.png",
            "--force",
        ],  # fmt: skip
        ["explain", "{run}", "{png}", "--out", "{run}/checkpoints"],
    ],
)
def test_no_figure_into_a_runs_own_files(command, trained, digit_png, capsys):
    """As export's --out: a run's records and checkpoints/ are refused, even with --force, before any
    work (a PNG in checkpoints/ would later make `train --overwrite` of a copy refuse the folder)."""
    before = sorted(p.name for p in (trained / "checkpoints").iterdir())
    args = [a.format(run=trained, png=digit_png) for a in command]
    code, out = cli(capsys, *args)
    assert code == 2 and "not even with --force: give another --out" in out, out
    assert sorted(p.name for p in (trained / "checkpoints").iterdir()) == before
    assert (trained / "summary.json").is_file()


# with /tmp/notes/patch-FB2.diff (plotting/canvas.py, training/rundir.py, predict.py)


@pytest.mark.parametrize(
    "command",
    [
        ["data", "preview", "digits", "--out", "{run}/figures/curves.png", "--force"],
        ["figure", "pos-embed", "--out", "{run}/figures/confusion_test.png", "--force"],
        ["export", "{run}", "-f", "onnx", "--out", "{run}/figures/curves.png", "--force"],
        ["eval", "{run}", "--out", "{run}/checkpoints"],
    ],
)
def test_no_output_over_a_runs_figures_or_into_its_checkpoints(command, trained, tmp_path, capsys):
    """A run's figures (a report shows them as the run's) are its own as its checkpoints are: every
    command's --out refuses them, even with --force, by one rule (training.rundir.RUN_OWN)."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "figures").mkdir(exist_ok=True)
    for name in ("curves.png", "confusion_test.png"):  # as train draws them
        (run / "figures" / name).write_bytes(b"the run's own figure")
    before = {p.name: p.read_bytes() for p in (run / "figures").iterdir()}
    code, out = cli(capsys, *(a.format(run=run) for a in command))
    assert code == 2 and "not even with --force: give another --out" in out, out
    assert {p.name: p.read_bytes() for p in (run / "figures").iterdir()} == before
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.pt", "last.pt"]


def test_a_figure_on_a_full_disk_is_named(trained, tmp_path, monkeypatch, capsys):
    """Pillow's close of a PNG on a full disk raises an OSError naming no file: the message names the
    figure all the same, exit 1 (a full disk, as a WriteFailed)."""
    import matplotlib.figure

    def savefig(self, path, *a, **kw):  # as Pillow raises it: no filename
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    pv = tmp_path / "pv.png"
    code, out = cli(capsys, "data", "preview", "digits", "--out", pv)
    assert code == 1 and f"cannot write '{pv}': No space left on device" in one_line(out), out
    code, out = cli(capsys, "eval", trained, "--out", tmp_path / "ev")
    assert code == 1 and f"cannot write '{tmp_path / 'ev' / 'confusion_test.png'}'" in out, out


def test_a_new_file_beside_a_runs_figures_and_evals_own_folder_are_fine(trained, tmp_path, capsys):
    """Only a figure the run holds is never replaced: a new file in its figures/ (a pos-embed figure of
    the user's) and `eval RUN --out RUN/figures` (where eval writes by default) are written."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "figures").mkdir(exist_ok=True)
    code, out = cli(capsys, "data", "preview", "digits", "--out", run / "figures" / "new.png")
    assert code == 0 and (run / "figures" / "new.png").is_file(), out
    code, out = cli(capsys, "eval", run, "--out", run / "figures")
    assert code == 0, out


def test_a_new_file_in_a_runs_checkpoints_is_refused_as_such(trained, capsys):
    """Before: `vislab export RUN -f onnx --out RUN/checkpoints/` said "'RUN/checkpoints/model.onnx' is the
    run's own checkpoints/model.onnx ... which vislab never replaces", a file that does not exist."""
    out_dir = f"{trained}/checkpoints/"
    code, out = cli(capsys, "export", str(trained), "-f", "torchscript", "--out", out_dir)
    out = one_line(out)
    assert code == 2, out
    assert "writes nothing into a run's checkpoints/ folder, not even with --force" in out, out
    assert "is the run's own checkpoints/model" not in out, out
    assert sorted(p.name for p in (trained / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
