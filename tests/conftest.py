"""Shared test helpers: tiny configs and runs on the bundled `digits` data (no network, seconds per run), and the
in-process CLI runner (``from conftest import cli, one_line, tiny_sets``)."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fixtures import Zygote
from vislab.cli import main
from vislab.config import build_config
from vislab.training.trainer import train

REPO = Path(__file__).resolve().parents[1]
# a headless browser for the report tests (Debian's chromium in CI); those tests skip without one
CHROMIUM = next(
    (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)),
    None,
)
SHARED_DATA = REPO.parent / "shared" / "data"

# `pytest -n 2` on 2 cores: torch on one thread per worker, and in the processes tests start (they inherit
# the variables). With torch's default of a thread per core, the OpenMP threads of one worker spin while the
# other worker holds a core (a notebook's cnn cell: 81 s instead of 1.8 s on a loaded machine).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def user_cache_dir(tmp_path_factory):
    """Decoded-array caches that cannot go beside read-only test data go to a temporary folder, not to
    ~/.cache/vislab (vislab.data.cache; subprocesses inherit the variable)."""
    before = os.environ.get("VISLAB_CACHE_DIR")
    os.environ["VISLAB_CACHE_DIR"] = str(tmp_path_factory.mktemp("user-cache"))
    yield
    if before is None:
        os.environ.pop("VISLAB_CACHE_DIR", None)
    else:
        os.environ["VISLAB_CACHE_DIR"] = before


def tiny_config(*overrides: str, **sections):
    """digits, 300 train samples, an MLP (unless model.name is given), 2 epochs — plus ``key=value`` overrides."""
    base = [
        "data.name=digits",
        "data.limit=300",
        "train.epochs=2",
        "train.batch_size=32",
        "train.seed=0",
        "train.device=cpu",
    ]
    if not any(o.startswith("model.name=") for o in overrides):
        base += ["model.name=mlp", "model.hidden=[32]"]
    return build_config({}, [*base, *overrides])


@pytest.fixture
def tiny():
    return tiny_config


def cli(capsys, *args) -> tuple[int, str]:
    """Run ``vislab ARGS`` in-process; return (exit code, stdout + stderr), which never holds a traceback."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text, text
    return code, text


@pytest.fixture
def train_spy(monkeypatch):
    """(run folder name, resume) of every in-process training of a suite."""
    import vislab.experiments.suites.jobs as jobs

    calls, real = [], jobs.train

    def spy(cfg, out, resume=False, **kw):
        calls.append((Path(out).name, resume))
        return real(cfg, out, resume=resume, **kw)

    monkeypatch.setattr(jobs, "train", spy)
    return calls


def one_line(text: str) -> str:
    """``text`` with every run of white space (line breaks of wrapped messages included) as one space."""
    return " ".join(text.split())


# ``vislab.train`` keywords of a tiny run: 1 epoch of a small MLP on the CPU, no figures (give the data)
TINY_RUN = dict(
    model="mlp",
    model__hidden=[16],
    train__epochs=1,
    train__seed=0,
    train__device="cpu",
    train__figures=False,
)
# the same on 200 of the bundled digits, batches of 32
TINY_DIGITS = dict(TINY_RUN, data="digits", data__limit=200, train__batch_size=32)


@pytest.fixture
def grid_rows(monkeypatch) -> dict:
    """The rows, row titles and labels `data preview` hands to plot_image_grid (it still draws them)."""
    import vislab.plotting.images as images

    seen = {}
    real = images.plot_image_grid

    def spy(rows, path, row_titles=None, labels=None):
        seen.update(rows=rows, titles=row_titles, labels=labels)
        return real(rows, path, row_titles, labels)

    monkeypatch.setattr(images, "plot_image_grid", spy)
    return seen


def tiny_sets(*extra: str, drop: str | None = None) -> list[str]:
    """``--set`` arguments of a tiny 1-epoch digits run for the CLI, plus ``extra``, without ``drop``."""
    sets = [
        "data.name=digits",
        "data.limit=300",
        "model.name=mlp",
        "model.hidden=[32]",
        "train.epochs=1",
        "train.batch_size=32",
        "train.device=cpu",
        "train.seed=0",
        *extra,
    ]
    return [x for s in sets if s != drop for x in ("--set", s)]


@pytest.fixture(scope="session")
def _trained_once(tmp_path_factory):
    """The tiny run behind ``trained``, trained once per session (per worker under xdist); no test sees it."""
    run = tmp_path_factory.mktemp("trained-once") / "run"
    train(tiny_config("train.epochs=1"), run, quiet=True)
    return run


@pytest.fixture(scope="module")
def trained(_trained_once, tmp_path_factory):
    """A finished tiny run (a copy per test module, which its tests may write into: eval's figures, a report):
    its checkpoints are the raw material for hostile/broken ones."""
    run = tmp_path_factory.mktemp("trained") / "run"
    shutil.copytree(_trained_once, run)
    return run


@pytest.fixture(scope="module")
def digit_png(tmp_path_factory) -> Path:
    from sklearn.datasets import (
        load_digits,
    )  # heavy: imported only by the tests that use this image

    path = tmp_path_factory.mktemp("img") / "seven.png"
    Image.fromarray((load_digits().images[7] * 255 / 16).astype(np.uint8)).resize((24, 24)).save(
        path
    )
    return path


@pytest.fixture(scope="module")
def zygote(tmp_path_factory):
    """A ``Zygote`` (see fixtures.py) for the test module, its children killed at the end."""
    z = Zygote(tmp_path_factory.mktemp("zygote"))
    yield z
    z.close()


def table_run(folder: Path, name: str, *assignments: str) -> Path:
    """A finished mlp run as the tables read it (its config.yaml and summary.json), without training."""
    run = folder / name
    run.mkdir()
    (run / "config.yaml").write_text(build_config({}, ["model.name=mlp", *assignments]).to_yaml())
    summary = dict(status="complete", model="mlp", seed=0, test_acc=0.5, data="digits")
    (run / "summary.json").write_text(json.dumps(summary))
    return run
