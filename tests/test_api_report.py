"""vislab.write_report: the Python counterpart of `vislab report` (the command calls it)."""

from __future__ import annotations

import pytest

import vislab
from conftest import cli
from figures_skipped import skip_report_figures


def test_report_writes_the_folders_page_as_the_command_does(tmp_path, capsys, monkeypatch):
    skip_report_figures(monkeypatch)  # the page and where it goes are what is read
    run = vislab.train(
        model="mlp", data="digits", out=tmp_path / "mlp", train__epochs=1, train__figures=False
    )
    page = vislab.write_report(run.path, title="My runs")
    assert page == run.path / "report.html" and "My runs" in page.read_text()
    page.unlink()
    code, text = cli(capsys, "report", run.path)
    assert code == 0 and f"report: {page}" in text and page.is_file()


def test_report_of_a_folder_without_runs_names_it(tmp_path):
    with pytest.raises(vislab.UserError, match=str(tmp_path)):
        vislab.write_report(tmp_path)
