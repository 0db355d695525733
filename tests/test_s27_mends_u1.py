"""Mend U1: a notebook class's run resumed after a restart; a suite's dry run of a user's subclass of the
scratch MLP refused as its run is, naming the class as written; an unreadable config.yaml in compare's
note, with its fix; a resume that trained nothing says nothing of files older than its weights."""

import os
import shutil
import subprocess
import sys
import textwrap

import yaml

from conftest import cli, one_line, tiny_base

CELL = """
import sys, vislab, torch.nn as nn
class Net(nn.Module):
    def __init__(self, num_classes, input_shape, width=16):
        super().__init__()
        self.f = nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, num_classes))
    def forward(self, x): return self.f(x)
args = dict(data__name="digits", data__limit=200, train__epochs=1, train__device="cpu",
            train__figures=False, out="net", quiet=True)
if sys.argv[1] == "train":
    r = vislab.train(model=Net, **args)
else:
    r = vislab.train(model=Net, **args, resume=True, epochs=2)
print("epochs_run", r.summary["epochs_run"])
"""


def test_a_notebook_class_resumes_in_a_new_process(tmp_path):
    """The same class defined again after a kernel restart: resume=True goes on, no KeyError."""
    (tmp_path / "cell.py").write_text(CELL)
    for mode, epochs in (("train", 1), ("resume", 2)):
        done = subprocess.run(
            [sys.executable, "cell.py", mode], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        assert f"epochs_run {epochs}" in done.stdout


SUB = """
from vislab.models.scratch import ScratchMLP
class Sub(ScratchMLP):
    def __init__(self, num_classes, input_shape, hidden=(16,), impl="manual"):
        d = 1
        for s in input_shape: d *= s
        super().__init__(d, list(hidden), num_classes, impl, 0.1)
"""


def test_a_suites_dry_run_refuses_a_subclass_of_the_scratch_mlp_as_its_run_does(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub.py").write_text(textwrap.dedent(SUB))
    suite = {
        "name": "subs",
        "base": tiny_base(optim={"name": "sgd", "lr": 0.03}),
        "runs": {"plain": {}, "submom": {"model.name": "sub.py:Sub", "optim.momentum": 0.9}},
    }
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(suite))
    code, out = cli(capsys, "suite", "s.yaml", "--dry-run")
    said = one_line(out)
    assert "submom: start" not in said, said
    refusal = (
        "sub.py:Sub updates its weights by hand: plain SGD at optim.lr, as the schedule sets it "
        "(sub.py:Sub.manual_step), so this setting would change nothing: optim.momentum=0.9. Leave it "
        "out or set what plain SGD does: optim.momentum=0."
    )
    assert refusal in said and "vislab_user_" not in said
    # the real run: the same words (a subclass has no torch.optim level to offer)
    code, out = cli(
        capsys, "train", "--set", "model.name=sub.py:Sub", "--set", "data.name=digits",
        "--set", "data.limit=200", "--set", "optim.name=sgd", "--set", "optim.momentum=0.9",
        "--out", "r",
    )  # fmt: skip
    assert code != 0 and refusal in one_line(out), out


def _broken_config(run) -> None:
    """A latin-1 byte in ``run``'s config.yaml: no UTF-8 YAML any more."""
    path = run / "config.yaml"
    path.write_bytes(path.read_bytes().replace(b"data:", b"data: # caf\xe9", 1))


def test_compare_names_the_fix_of_an_unreadable_config(trained, tmp_path, capsys):
    for name in ("a", "b"):
        shutil.copytree(trained, tmp_path / "enc" / name)
    run = tmp_path / "enc" / "a"
    _broken_config(run)
    code, out = cli(capsys, "compare", tmp_path / "enc")
    said = one_line(out)
    assert code == 0, out
    assert (
        f"Settings not compared for a: their config could not be read. a: Run config file '{run}"
        in said
    )
    assert (
        f"Resuming the run writes it again from its last checkpoint: vislab train --resume {run} "
        f"(Python: vislab.train(out='{run}', resume=True))."
    ) in said


def test_a_resume_that_trained_nothing_says_nothing_of_older_files(trained, tmp_path, capsys):
    """A complete run whose config.yaml was unreadable: the resume writes summary.json again, training
    nothing: its figures/ still show its weights."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    _broken_config(run)
    (run / "figures").mkdir(exist_ok=True)
    made = run / "figures" / "mistakes_test.csv"
    made.write_text("x")
    os.utime(made, (1, 1))
    code, out = cli(capsys, "train", "--resume", run, "--quiet")
    assert code == 0, out
    assert "before this resume" not in out
