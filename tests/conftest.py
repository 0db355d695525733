"""Shared test helpers: tiny configs and runs on the bundled `digits` data (no network, seconds per run), and the
in-process CLI runner (``from conftest import cli, one_line, tiny_sets``)."""

import copy
import json
import linecache
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import types
import uuid
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
import torch
from PIL import Image

import vislab
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


# ---------------------------------------------------------------- scheduling under `pytest -n N`
# pyproject's ``--dist loadgroup``: the tests of a module that share a module-scoped fixture (a trained run, a
# built suite) go to one worker, which builds it once, instead of each worker building its own (or waiting for
# made_once's); every test that forks from the zygote goes to one worker, whose zygote starts once; every
# other test goes alone to whichever worker is free. (xdist's own loadgroup reads `xdist_group` marks by
# renaming node ids, which pytest 9 ignores: the workers tell the controller the groups through a file.)
# the variable naming that file, set by the controller for the workers it starts
_GROUPS = "VISLAB_TEST_GROUPS"
_SHARED_SCOPES = {"module", "class", "package"}


def _group(item: pytest.Item) -> str | None:
    """The group of a collected test, or None for one that may run anywhere."""
    defs = getattr(item, "_fixtureinfo", None)
    if defs is None:
        return None
    if "zygote" in defs.name2fixturedefs:
        return "zygote"
    if any(d[-1].scope in _SHARED_SCOPES for d in defs.name2fixturedefs.values()):
        return item.module.__name__
    return None


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("dist", "no") == "loadgroup" and "PYTEST_XDIST_WORKER" not in os.environ:
        fd, path = tempfile.mkstemp(prefix="vislab-test-groups-", suffix=".json")
        os.close(fd)
        os.environ[_GROUPS] = path  # the workers, started later, inherit it


def pytest_unconfigure(config: pytest.Config) -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ and _GROUPS in os.environ:
        Path(os.environ.pop(_GROUPS)).unlink(missing_ok=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    worker, path = os.environ.get("PYTEST_XDIST_WORKER"), os.environ.get(_GROUPS)
    if worker and path:  # every worker collects the same tests: the last to write wins
        groups = {item.nodeid: g for item in items if (g := _group(item))}
        Path(f"{path}.{worker}").write_text(json.dumps(groups))
        os.replace(f"{path}.{worker}", path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """xdist's scheduling by scope, a scope being a test's group (or the test alone); groups go first."""
    path = os.environ.get(_GROUPS)
    if not path:
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        groups: dict | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # read once the workers have collected
                self.groups = json.loads(Path(path).read_text() or "{}")
            return self.groups.get(nodeid, nodeid)

    return GroupScheduling(config, log)


DROP = object()  # as a change's value: the key is removed


def _frozen(tree):
    """``tree`` read-only: its dicts as mapping proxies, its lists as tuples."""
    if isinstance(tree, dict):
        return MappingProxyType({k: _frozen(v) for k, v in tree.items()})
    return tuple(_frozen(v) for v in tree) if isinstance(tree, list) else tree


def _thawed(tree):
    """A frozen ``tree`` as new plain dicts and lists."""
    if isinstance(tree, MappingProxyType):
        return {k: _thawed(v) for k, v in tree.items()}
    return [_thawed(v) for v in tree] if isinstance(tree, tuple) else tree


def _changed(tree: MappingProxyType, changes: dict) -> dict:
    """Frozen ``tree`` as a new plain dict with each ``a__b=value`` of ``changes`` set (``__`` goes one level
    down; a missing level is made) or, for ``DROP``, removed."""
    tree = _thawed(tree)
    for path, value in changes.items():
        *parents, key = path.split("__")
        node = tree
        for name in parents:
            node = node.setdefault(name, {})
        if value is DROP:
            del node[key]
        else:
            node[key] = copy.deepcopy(value)
    return tree


# the tiny base config of runs, suites and sweeps: 1 epoch of a 16-unit MLP on 200 digits, on the CPU, in
# batches of 32, no figures/ (most of a tiny run's time); read it through tiny_base()
_TINY_BASE = _frozen(
    {
        "data": {"name": "digits", "limit": 200},
        "train": {"epochs": 1, "batch_size": 32, "device": "cpu", "figures": False},
        "model": {"name": "mlp", "hidden": [16]},
    }
)


def tiny_base(**changes) -> dict:
    """The tiny base config as a new plain dict, with ``section__key=value`` changes (``DROP`` removes)."""
    return _changed(_TINY_BASE, changes)


# a sweep of the tiny base over optim.lr (random search, seed 0); read it through tiny_sweep()
TINY_SWEEP = _frozen(
    {
        "name": "tiny",
        "base": tiny_base(),
        "space": {"optim.lr": {"type": "float", "low": 1e-3, "high": 1e-1, "log": True}},
        "sampler": "random",
        "seed": 0,
    }
)
# a suite of two rows on the tiny base: the majority baseline and the MLP; read it through tiny_suite()
TINY_SUITE = _frozen(
    {"base": tiny_base(), "runs": {"majority": {"model.name": "majority"}, "mlp": {}}}
)


def tiny_sweep(**changes) -> dict:
    """TINY_SWEEP as a new plain dict, with ``key__subkey=value`` changes (``base__train__epochs=3``)."""
    return _changed(TINY_SWEEP, changes)


def tiny_suite(**changes) -> dict:
    """TINY_SUITE as a new plain dict, with ``key__subkey=value`` changes (``base__data__limit=120``)."""
    return _changed(TINY_SUITE, changes)


def tiny_config(*overrides: str, **sections):
    """tiny_base's run on 300 digits, 2 epochs of a 32-unit MLP (unless model.name is given), seed 0,
    without figures/ (a test that reads them gives ``train.figures=true``) — as a Config, plus
    ``key=value`` overrides."""
    base = tiny_base(data__limit=300, train__epochs=2, train__seed=0, model__hidden=[32])
    if any(o.startswith("model.name=") for o in overrides):
        del base["model"]
    return build_config(base, list(overrides))


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


def first_table(text: str) -> list[str]:
    """The lines of the first Markdown pipe table in ``text`` (results.md has the per-class table after it)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), len(lines))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return lines[start:end]


def as_keywords(config: dict) -> dict:
    """``config`` as ``vislab.train`` keywords: ``section=name`` for a section's name, else ``section__key``."""
    return {
        section if key == "name" else f"{section}__{key}": value
        for section, keys in config.items()
        for key, value in keys.items()
    }


# ``vislab.train`` keywords of the tiny run (tiny_base, seed 0); TINY_RUN without the data (give it) and
# the batch size
TINY_DIGITS = as_keywords(tiny_base(train__seed=0))
TINY_RUN = {
    k: v for k, v in TINY_DIGITS.items() if k.split("__")[0] != "data" and k != "train__batch_size"
}


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
    """``--set`` arguments of a tiny 1-epoch digits run for the CLI, without figures/ (most of its time; a
    test that reads them gives ``train.figures=true``), plus ``extra``, without ``drop``."""
    sets = [
        "data.name=digits",
        "data.limit=300",
        "model.name=mlp",
        "model.hidden=[32]",
        "train.epochs=1",
        "train.batch_size=32",
        "train.device=cpu",
        "train.seed=0",
        "train.figures=false",
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


@pytest.fixture(scope="session")
def _zygote_once(tmp_path_factory, user_cache_dir):
    """The session's ``Zygote`` (per worker under xdist): its start-up imports take seconds, once; its
    children fork from the same imported state whichever module asks. Closed at the end."""
    z = Zygote(tmp_path_factory.mktemp("zygote"))
    yield z
    z.close()


@pytest.fixture(scope="module")
def zygote(_zygote_once):
    """A ``Zygote`` (see fixtures.py) for the test module, its children still running killed at the end."""
    yield _zygote_once
    for pid in list(_zygote_once.running):
        _zygote_once.kill(pid)


def table_run(folder: Path, name: str, *assignments: str) -> Path:
    """A finished mlp run as the tables read it (its config.yaml and summary.json), without training."""
    run = folder / name
    run.mkdir()
    (run / "config.yaml").write_text(build_config({}, ["model.name=mlp", *assignments]).to_yaml())
    summary = dict(status="complete", model="mlp", seed=0, test_acc=0.5, data="digits")
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def notebook_cell(namespace: dict, source: str, name: str) -> None:
    """Run ``source`` as a Jupyter cell does: in ``__main__``'s namespace (the ``notebook`` fixture's),
    compiled under a file name of its own that only linecache holds (Python cannot find a notebook class's
    source by its name)."""
    source = textwrap.dedent(source)
    file = f"/ipykernel_test/{name}.py"
    linecache.cache[file] = (len(source), None, source.splitlines(True), file)
    exec(compile(source, file, "exec"), namespace)  # noqa: S102 - the test's own cell


@pytest.fixture
def notebook(monkeypatch):
    """A notebook's namespace: the ``__main__`` module's, as in Jupyter, holding ``nn`` and ``vislab``;
    the models it registered go when the test ends."""
    from vislab.models import MODELS, unregister_model

    main = types.ModuleType("__main__")
    main.nn, main.vislab = torch.nn, vislab
    monkeypatch.setitem(sys.modules, "__main__", main)
    before = set(MODELS)
    yield vars(main)
    for name in set(MODELS) - before:
        unregister_model(name)


@pytest.fixture
def pg():
    """(a PostgreSQL URL, a fresh suite name) for the shared-suite tests: skipped without
    VISLAB_TEST_POSTGRES_URL (or psycopg2); the suite's rows are deleted afterwards."""
    url = os.environ.get("VISLAB_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("VISLAB_TEST_POSTGRES_URL not set")
    psycopg2 = pytest.importorskip("psycopg2")
    name = f"t-{uuid.uuid4().hex[:8]}"
    yield url, name
    from vislab.experiments.shared.postgres import SharedStorage

    with psycopg2.connect(SharedStorage(url).dsn) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM vislab_suite WHERE name = %s", (name,))
    conn.close()


def pdflatex_log(folder: Path) -> str:
    """The log of ``folder``/main.tex compiled by pdflatex; the test fails with its end where it does not
    compile."""
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (folder / "main.log").read_text(errors="replace")
    assert done.returncode == 0, log[-2000:]
    return log
