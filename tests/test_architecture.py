"""The layer contract in pyproject.toml ([tool.importlinter]) is live: the tree keeps it, and a wrong
import in a scratch copy of the package breaks it, naming the contract."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = shutil.which("lint-imports") or shutil.which(
    "lint-imports", path=str(Path(sys.executable).parent)
)
pytestmark = pytest.mark.skipif(
    LINT_IMPORTS is None, reason="import-linter is not installed (pip install 'vislab[test]')"
)

LAYERS = "vislab's layers point one way (top imports bottom, never the reverse)"
PLOTTING = "plotting draws plain values: it imports no data, model or config module"
FACADE = "no module imports the vislab package itself (its __init__ is the public facade)"
TERMINAL = "only cli/ formats for a terminal: no other module imports rich"
EXPERIMENTS = (
    "experiments: a shared suite builds on suites; suites and sweeps do not import each other"
)


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on ``project`` (pyproject.toml + src/vislab): that copy is what gets analysed."""
    # wide enough that no contract's name is wrapped over two lines
    env = dict(os.environ, PYTHONPATH=str(project / "src"), COLUMNS="200")
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_every_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for contract in (LAYERS, PLOTTING, FACADE, TERMINAL, EXPERIMENTS):
        assert f"{contract} KEPT" in result.stdout


@pytest.mark.parametrize(
    "module,wrong_import,contract,culprit",
    [
        ("data/types.py", "import vislab.report", LAYERS, "vislab.data.types -> vislab.report"),
        (
            "training/metrics.py",
            "from vislab import __version__",
            FACADE,
            "vislab.training.metrics -> vislab",
        ),
        (
            "plotting/runs.py",
            "import vislab.models",
            PLOTTING,
            "vislab.plotting.runs -> vislab.models",
        ),
        ("predict.py", "import rich.console", TERMINAL, "vislab.predict -> rich"),
        (
            "experiments/suites/runner.py",
            "import vislab.experiments.sweeps.study",
            EXPERIMENTS,
            "vislab.experiments.suites.runner -> vislab.experiments.sweeps.study",
        ),
    ],
)
def test_a_wrong_import_breaks_its_contract(tmp_path, module, wrong_import, contract, culprit):
    shutil.copytree(
        ROOT / "src" / "vislab",
        tmp_path / "src" / "vislab",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "src" / "vislab" / module, "a") as f:
        f.write(f"\n{wrong_import}  # deliberately against the contract\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    assert f"{contract} BROKEN" in result.stdout
    # the scratch copy was analysed, not the installed package
    assert f"{culprit} (l." in result.stdout
