"""Commands import only what they use: `vislab compare` reads its runs without torch, `vislab model info`
builds no augmentation (kornia), and a sweep's report computes Optuna's
parameter importances once, and only from enough complete trials (a note says why not)."""

from __future__ import annotations

import json
import subprocess
import sys

import optuna
import optuna.importance  # the module itself: optuna.importance is a lazy proxy until it loads
import pytest
from optuna.distributions import FloatDistribution
from optuna.trial import create_trial

from conftest import table_run
from test_startup import LOADED, STAGES_SCRIPT
from vislab.report.figure_set import FigureSet
from vislab.report.sweep import sweep_section

WATCHED = ("torch", "kornia", "optuna", "matplotlib")

COMMAND = """
from vislab.cli import main
assert main({argv!r}) == 0
"""


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> dict[str, dict[str, bool]]:
    """One fresh interpreter runs `vislab compare` on two finished runs, then on their folder, then `vislab
    model info cnn`; after each, which of WATCHED it has imported (a stage has what the ones before it
    imported too)."""
    folder = tmp_path_factory.mktemp("imports")
    runs = [str(table_run(folder, name, f"train.seed={i}")) for i, name in enumerate("ab")]
    stages = dict(
        compare=COMMAND.format(argv=["compare", *runs]),
        # one folder of runs: whether it is a sweep's (whose study optuna reads) is asked first
        compare_folder=COMMAND.format(argv=["compare", str(folder)]),
        model_info=COMMAND.format(argv=["model", "info", "cnn", "--input", "1x8x8"]),
    )
    script = STAGES_SCRIPT.format(codes=list(stages.values()), marker=LOADED, heavy=WATCHED)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=folder)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith(LOADED)]
    assert len(lines) == len(stages), out.stdout
    assert "| a |" in out.stdout and "| b |" in out.stdout, out.stdout  # compare printed its table
    return {stage: json.loads(line[len(LOADED) :]) for stage, line in zip(stages, lines)}


def test_compare_reads_runs_without_torch(loaded):
    assert loaded["compare"] == dict.fromkeys(WATCHED, False)


def test_compare_loads_no_optuna_matplotlib_or_kornia(loaded):
    assert not any(loaded["compare"][m] for m in ("optuna", "matplotlib", "kornia")), loaded
    assert loaded["compare_folder"] == dict.fromkeys(WATCHED, False)  # before: optuna, seconds


def test_model_info_builds_no_augmentation(loaded):
    assert loaded["model_info"]["torch"] and not loaded["model_info"]["kornia"]


def test_the_api_modules_load_as_attributes_and_a_misspelt_name_is_told_apart():
    code = (
        "import vislab.api\n"
        "assert vislab.api.runs.train_config is vislab.api.train_config\n"
        "vislab.api.trian\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "AttributeError: module 'vislab.api' has no attribute 'trian'" in out.stderr, out.stderr
    assert "Did you mean: 'train'?" in out.stderr


def _study(n: int) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    for i in range(n):
        study.add_trial(
            create_trial(
                params={"optim.lr": 0.01 * (i + 1)},
                distributions={"optim.lr": FloatDistribution(0.001, 1.0)},
                value=0.5 + 0.01 * i,
            )
        )
    return study


@pytest.fixture
def importance_calls(monkeypatch) -> list[int]:
    """Each call of optuna's get_param_importances (which loads scikit-learn and SciPy) leaves its number
    of trials here; it says optim.lr is all that matters."""
    calls: list[int] = []

    def get_param_importances(study, evaluator=None):
        calls.append(len(study.trials))
        return {"optim.lr": 1.0}

    monkeypatch.setattr(optuna.importance, "get_param_importances", get_param_importances)
    return calls


def test_a_sweep_of_few_trials_says_why_it_shows_no_importances(tmp_path, importance_calls):
    notes: list[str] = []
    section = sweep_section(FigureSet(tmp_path / "figures", notes), tmp_path, {}, _study(3))
    assert importance_calls == [] and section["importances"] == {}
    assert [n for n in notes if "importances" in n] == [
        "parameter importances appear from 11 complete trials (this sweep has 3): Optuna estimates "
        "them from the best 10% of the trials, a single one below 11."
    ]
    assert "importances" not in " ".join(f["caption"] for f in section["figures"])


def test_a_sweep_of_enough_trials_computes_its_importances_once(tmp_path, importance_calls):
    notes: list[str] = []
    n = 11  # trials.MIN_IMPORTANCE_TRIALS
    section = sweep_section(FigureSet(tmp_path / "figures", notes), tmp_path, {}, _study(n))
    assert importance_calls == [n]  # the table and the figure share one computation
    assert section["importances"] == {"optim.lr": 1.0}
    assert any("importances" in f["caption"] for f in section["figures"])
    assert not [note for note in notes if "importances" in note]


def test_scoring_export_and_predict_load_no_matplotlib():
    """Scoring a checkpoint, exporting and classifying images draw nothing: matplotlib (a second to
    import) waits for the figures eval draws. Before: predict imported it for its mistakes' picks."""
    code = (
        "import sys\n"
        "import vislab.classify, vislab.export, vislab.predict\n"
        "print(sorted(m for m in ('matplotlib', 'optuna', 'kornia') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
