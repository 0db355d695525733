"""Python run as in a Jupyter kernel without ipywidgets (what tqdm.autonotebook asks), in a subprocess: the
standard error a notebook cell would show."""

import subprocess
import sys
from pathlib import Path

SETUP = """
import sys, types, warnings
warnings.simplefilter("default")
sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
class ZMQInteractiveShell:
    config = {"IPKernelApp": {}}
ipython = types.ModuleType("IPython")
ipython.get_ipython = ZMQInteractiveShell
sys.modules["IPython"] = ipython
sys.modules["ipywidgets"] = None
"""


def notebook_stderr(tmp_path: Path, code: str) -> str:
    """The standard error of ``code`` run by Python in a notebook without ipywidgets, which succeeds."""
    done = subprocess.run(
        [sys.executable, "-c", SETUP + code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr
