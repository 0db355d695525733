"""A suite's run that failed in the user's own model code, the code then fixed: resumed on its own
(`vislab train --resume DIR/<run> --trust-code`, the fix the failure names), the suite's record, tables,
report and paper say it finished; or resumed by the suite itself with `vislab suite --trust-code`
(Python: trust_code=True), also in a --jobs process. And the suite's messages whose fix is in Python's
words too."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import vislab
from conftest import cli, one_line, tiny_suite
from figures_skipped import skip_report_figures
from vislab.errors import SuiteFailed, UserError
from vislab.experiments.records import SuiteInfo

# the user's model: a linear layer that raises as it trains once its run saved an epoch (in epoch 2)
_MODEL = """
from pathlib import Path

import torch.nn as nn


class Net(nn.Module):
    def __init__(self, num_classes, input_shape):
        super().__init__()
        self.fc = nn.Linear(input_shape[0] * input_shape[1] * input_shape[2], num_classes)

    def forward(self, x):
        if self.training and Path("s/mine/checkpoints/last.pt").is_file():
            raise RuntimeError("boom in my model")
        return self.fc(x.flatten(1))
"""
_FIXED = "if False:"
BOOM = "boom in my model"


@pytest.fixture
def fixed(tmp_path, monkeypatch) -> Path:
    """The tiny suite (majority, mine: the model above in mine.py, 2 epochs) run in ``tmp_path`` (the
    current directory) into ``s``: mine failed in its epoch 2, its last.pt of epoch 1 kept; mine.py then
    fixed, its sha256 no longer the one the run recorded."""
    monkeypatch.chdir(tmp_path)
    model = tmp_path / "mine.py"
    model.write_text(_MODEL)
    runs = {"majority": {"model.name": "majority"}, "mine": {"model.name": "mine.py:Net"}}
    spec = tmp_path / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(name="tiny", runs=runs, base__train__epochs=2)))
    with pytest.raises(SuiteFailed, match=BOOM):
        vislab.run_suite(str(spec), out=tmp_path / "s", log=lambda line: None)
    assert (tmp_path / "s" / "mine" / "checkpoints" / "last.pt").is_file()
    assert SuiteInfo.read(tmp_path / "s").runs["mine"].status == "failed"
    model.write_text(
        _MODEL.replace('if self.training and Path("s/mine/checkpoints/last.pt").is_file():', _FIXED)
    )
    assert _FIXED in model.read_text()
    return tmp_path


def test_a_failed_run_resumed_on_its_own_with_its_fix_updates_the_suite(fixed, capsys):
    out = fixed / "s"
    failed = (out / "results.md").read_text()
    assert BOOM in failed and f"vislab train --resume {out / 'mine'} --trust-code" in failed
    code, text = cli(capsys, "train", "--resume", out / "mine", "--trust-code", "-q")
    assert code == 0, text
    assert "mine (failed → complete)" in text
    assert SuiteInfo.read(out).runs["mine"].status == "complete"
    results = (out / "results.md").read_text()
    assert "| mine |" in results and BOOM not in results
    assert "mine" in (out / "results.csv").read_text()
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp)
        code, text = cli(capsys, "report", out)
    assert code == 0, text
    page = (out / "report.html").read_text()
    assert "Failed or unfinished" not in page and BOOM not in page
    code, text = cli(capsys, "paper", out, "--out", fixed / "paper", "--no-figures")
    assert code == 0, text
    texts = (fixed / "paper" / "texts.tex").read_text()
    assert "did not finish" not in texts and BOOM not in texts
    assert "| mine |" in (fixed / "paper" / "tables.md").read_text()


def test_a_suite_resumes_a_run_whose_model_file_was_fixed_with_trust_code(fixed, capsys):
    out, spec = fixed / "s", fixed / "tiny.yaml"
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--no-report")
    assert code == 1 and "pass --trust-code" in one_line(text), text  # the fix it names:
    code, text = cli(capsys, "suite", spec, "--out", out, "-q", "--no-report", "--trust-code")
    assert code == 0, text
    assert "mine: resuming" in text and SuiteInfo.read(out).runs["mine"].status == "complete"
    assert "| mine |" in (out / "results.md").read_text()


def test_a_suites_jobs_process_resumes_a_fixed_run_with_trust_code(fixed):
    """The --jobs process's own training (in this process here: no spawn) is given trust_code too."""
    from vislab.experiments.suites.pool import _worker
    from vislab.training.rundir import RunDir

    run = fixed / "s" / "mine"
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert _worker(config, str(run), True, 1).status == "failed"  # changed since: refused
    outcome = _worker(config, str(run), True, 1, True)
    assert outcome.status == "complete", outcome.message
    assert RunDir(run).read_summary().complete


def test_run_suite_with_trust_code_and_shared_storage_says_how_to_resume_instead(fixed):
    with pytest.raises(UserError) as e:
        vislab.run_suite(
            str(fixed / "tiny.yaml"),
            out=fixed / "s",
            storage="postgresql://u@h/db",
            trust_code=True,
        )
    said = one_line(str(e.value))
    assert "leave out --trust-code (Python: leave out trust_code=True)" in said
    assert "vislab train --resume DIR/<run> --trust-code" in said


def test_a_dry_run_that_would_start_over_names_what_to_leave_out_in_pythons_words(fixed):
    with pytest.raises(UserError) as e:
        vislab.run_suite(str(fixed / "tiny.yaml"), out=fixed / "s", overwrite=True, dry_run=True)
    said = one_line(str(e.value))
    assert "leave out --overwrite (Python: leave out overwrite=True)" in said
    assert "leave out --dry-run (Python: leave out dry_run=True)" in said
    assert (fixed / "s" / "mine").is_dir()  # nothing deleted
