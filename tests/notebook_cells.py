"""What the notebook tests share: a class a cell defines (MY_NET), tiny training settings (TINY), and Python
run as in a Jupyter kernel without ipywidgets (what tqdm.autonotebook asks), in a subprocess: the standard
error a notebook cell would show (notebook_stderr)."""

import subprocess
import sys
from pathlib import Path

TINY = dict(
    data="digits",
    data__limit=200,
    train__batch_size=32,
    train__device="cpu",
    train__figures=False,
    train__seed=0,
    quiet=True,
)

MY_NET = """
class MyNet(nn.Module):
    def __init__(self, num_classes: int, input_shape: tuple, width: int = 16):
        super().__init__()
        self.head = nn.Linear(input_shape[0] * input_shape[1] * input_shape[2], width)
        self.out = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.out(self.head(x.flatten(1)).relu())
"""

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
