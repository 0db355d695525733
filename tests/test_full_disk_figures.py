"""A disk that fills up (or fails) while a paper's or a report's figures are saved ends the command with the
disk named (exit 1), instead of each figure noted as "not drawn" in the paper itself and exit 0; the
folder's last complete build stays."""

import errno
import shutil

import pytest
from matplotlib.figure import Figure

from conftest import cli


def _disk_full(monkeypatch) -> None:
    def full(self, fname, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(fname))

    monkeypatch.setattr(Figure, "savefig", full)


def test_paper_on_a_full_disk_stops_naming_it_and_keeps_the_last_build(trained, tmp_path, capsys):
    out = tmp_path / "paper"
    code, text = cli(capsys, "paper", trained, "--out", out, "--no-figures")  # a build to keep
    assert code == 0, text
    before = (out / "figures.tex").read_text()
    with pytest.MonkeyPatch.context() as mp:
        _disk_full(mp)
        code, text = cli(capsys, "paper", trained, "--out", out)
    assert code == 1 and "No space left on device" in text and "Free space" in text, text
    assert (out / "figures.tex").read_text() == before  # the last complete build
    assert "not drawn" not in (out / "texts.tex").read_text()


def test_report_on_a_full_disk_stops_naming_it(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    with pytest.MonkeyPatch.context() as mp:
        _disk_full(mp)
        code, text = cli(capsys, "report", run)
    assert code == 1 and "Free space" in text, text
    assert not (run / "report.html").exists()
