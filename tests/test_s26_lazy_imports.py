"""Commands that train nothing import no torch, scikit-learn or matplotlib (seconds each on 2 cores): every
command's --help, the suite list, a dataset's sizes, the table of finished runs (``vislab.compare`` too).
One fresh interpreter runs them in turn and says, after each, which of those libraries it has loaded by
then."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import table_run

HEAVY = ("torch", "sklearn", "matplotlib")
LOADED = "loaded: "
# each command through vislab.cli.main, as `vislab ...` runs it; its output kept off the marker lines
SCRIPT = """
import contextlib, io, json, sys
import typer
from vislab.cli import app, main

def helps(command, path):
    yield [*path, "--help"]
    for name, sub in getattr(command, "commands", {{}}).items():
        yield from helps(sub, [*path, name])

commands = [*helps(typer.main.get_command(app), []), *{commands!r}]
for argv in commands:
    shown = io.StringIO()
    with contextlib.redirect_stdout(shown), contextlib.redirect_stderr(shown):
        code = main(argv)
    loaded = [m for m in {heavy!r} if m in sys.modules]
    print({marker!r} + json.dumps(dict(argv=argv, code=code, loaded=loaded, shown=shown.getvalue())))

import vislab  # then the same table from Python, as a notebook asks for it
shown = vislab.compare({runs!r}).to_csv(index=False)
loaded = [m for m in {heavy!r} if m in sys.modules]
print({marker!r} + json.dumps(dict(argv=["vislab.compare"], code=0, loaded=loaded, shown=shown)))
"""


@pytest.fixture(scope="module")
def commands(tmp_path_factory) -> list[dict]:
    """What each command gave (its argv, exit code, output) and the heavy libraries loaded after it."""
    tmp = tmp_path_factory.mktemp("lazy")
    for cls in ("cat", "dog"):
        (tmp / "pictures" / cls).mkdir(parents=True)
        for i in range(4):
            pixels = np.full((10, 10, 3), 40 * i + (100 if cls == "dog" else 0), np.uint8)
            Image.fromarray(pixels).save(tmp / "pictures" / cls / f"{i}.png")
    (tmp / "runs").mkdir()
    runs = [str(table_run(tmp / "runs", "a")), str(table_run(tmp / "runs", "b", "train.epochs=2"))]
    listed = [
        ["suite", "list"],
        ["suite"],
        ["sweep", "list"],
        ["data", "info", "digits"],
        ["data", "info", "folder", "--set", f"data.root={tmp / 'pictures'}"],
        ["compare", *runs],
    ]
    script = SCRIPT.format(commands=listed, runs=runs, heavy=HEAVY, marker=LOADED)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp)
    assert out.returncode == 0, out.stderr
    return [json.loads(line[len(LOADED) :]) for line in out.stdout.splitlines()]


def _after(commands: list[dict], argv: list[str]) -> dict:
    return next(c for c in commands if c["argv"] == argv)


def test_every_help_loads_no_heavy_library(commands):
    helps = [c for c in commands if c["argv"][-1:] == ["--help"]]
    assert len(helps) > 20  # vislab's own, each group's and each command's
    assert [c for c in helps if c["code"] != 0 or c["loaded"]] == []


@pytest.mark.parametrize("argv", [["suite", "list"], ["suite"]])
def test_suite_list_loads_no_heavy_library(commands, argv):
    shown = _after(commands, argv)
    assert (shown["code"], shown["loaded"]) == (0, [])
    assert "mlp-basics" in shown["shown"] and "quickstart" in shown["shown"]


def test_sweep_list_loads_no_heavy_library(commands):
    shown = _after(commands, ["sweep", "list"])
    assert (shown["code"], shown["loaded"]) == (0, [])
    assert "dlvc-cnn" in shown["shown"] and "DLVC assignment 1" in shown["shown"]


def test_data_info_loads_no_heavy_library(commands):
    digits = _after(commands, ["data", "info", "digits"])
    assert (digits["code"], digits["loaded"]) == (0, [])
    assert "digits" in digits["shown"] and "10 classes" in digits["shown"]
    folder = next(c for c in commands if c["argv"][:3] == ["data", "info", "folder"])
    assert (folder["code"], folder["loaded"]) == (0, [])
    assert "2 classes" in folder["shown"]


def test_compare_of_finished_runs_loads_no_heavy_library(commands):
    shown = next(c for c in commands if c["argv"][0] == "compare" and "--help" not in c["argv"])
    assert (shown["code"], shown["loaded"]) == (0, [])
    rows = [
        line.split("|")[1].strip() for line in shown["shown"].splitlines() if line.startswith("| ")
    ]
    assert rows[1:] == ["a", "b"]  # the header's row, then the runs'


def test_compare_from_python_loads_no_heavy_library(commands):
    shown = _after(commands, ["vislab.compare"])
    assert shown["loaded"] == []
    assert [line.split(",")[0] for line in shown["shown"].splitlines()] == ["run", "a", "b"]
