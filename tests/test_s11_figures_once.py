"""A suite's per-run pictures are drawn once: its report takes a run's own figure (confusion matrix, learning
rate, gradient norms, curves with the step losses) where it is the same picture, and draws it where the run's
file is missing or stale (issue #19)."""

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

import vislab.plotting.runs as runs_plots
import vislab.plotting.steps as step_plots
from conftest import tiny_base
from vislab.api import run_suite
from vislab.report.build import build_report

# a cosine schedule (an lr figure), step losses and gradient norms: every figure a run and its report share
BASE = tiny_base(
    train__epochs=2,
    train__log_every=2,
    train__track_grad_norm=True,
    train__figures=True,
    schedule__name="cosine",
)
PAIRS = {  # the run's file → the report's file of the same picture (run "a" first: curves.png's colour 0)
    "confusion_test.png": "confusion_{}.png",
    "lr.png": "lr_{}.png",
    "grad_norms.png": "grad_norms_{}.png",
    "curves.png": "steps_{}.png",
}


SPIED = (  # (module, builder, where its title is among the positional arguments)
    (runs_plots, "confusion_figure", 2),
    (runs_plots, "curves_figure", None),
    (step_plots, "lr_figure", 2),
    (step_plots, "grad_norms_figure", 1),
)


def _spy_on(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """(builder, its title or its runs) → how many times it built a figure: the pictures drawn."""
    seen: Counter = Counter()
    for module, name, at in SPIED:
        real = getattr(module, name)

        def spy(*args, _real=real, _name=name, _at=at, **kw):
            title = args[_at] if _at is not None and len(args) > _at else kw.get("title")
            seen[_name, title or ",".join(args[0])] += 1
            return _real(*args, **kw)

        monkeypatch.setattr(module, name, spy)
    return seen


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Counter]:
    """A suite of two runs that drew their own figures, without its report, and the pictures drawn."""
    folder = tmp_path_factory.mktemp("suite")
    spec = folder / "s.yaml"
    runs = {"a": {}, "b": {"optim.lr": 0.003}}
    spec.write_text(yaml.safe_dump({"description": "figures once", "base": BASE, "runs": runs}))
    with pytest.MonkeyPatch.context() as mp:
        seen = _spy_on(mp)
        run_suite(spec, out=folder / "out", quiet=True)
    return folder / "out", seen


@pytest.fixture
def suite(trained, tmp_path) -> Path:
    """A copy of the trained suite of its own."""
    return Path(shutil.copytree(trained[0], tmp_path / "out"))


@pytest.fixture
def drawn(monkeypatch) -> Counter:
    return _spy_on(monkeypatch)


def test_a_suite_and_its_report_draw_each_run_picture_once(trained, suite, drawn):
    out, during_runs = suite, trained[1]
    build_report(out, log=lambda s: None)
    by_report = drawn
    for run in ("a", "b"):
        assert during_runs["confusion_figure", f"{run}: test"] == 1
        assert during_runs["lr_figure", f"{run}: learning rate"] == 1
        assert during_runs["grad_norms_figure", f"{run}: gradient norms (before clipping)"] == 1
        # the report's copies are the run's pictures, byte for byte; none drawn again
        for mine, theirs in list(PAIRS.items())[:3]:
            assert (out / "figures" / theirs.format(run)).read_bytes() == (
                out / run / "figures" / mine
            ).read_bytes()
    assert (out / "figures/steps_a.png").read_bytes() == (out / "a/figures/curves.png").read_bytes()
    # b's curves take b's colour of the report's curves.png: another picture than b's own, drawn
    assert (out / "figures/steps_b.png").read_bytes() != (out / "b/figures/curves.png").read_bytes()
    assert {k: n for k, n in by_report.items() if k[0] != "curves_figure"} == {}, by_report
    assert by_report["curves_figure", "a"] == 0 and by_report["curves_figure", "b"] == 1
    assert by_report["curves_figure", "a,b"] == 1  # the overlay of both runs


def test_a_report_draws_the_figures_runs_have_not(suite, drawn):
    out = suite
    for run in (
        "a",
        "b",
    ):  # as train.figures=false, or a run stopped before its figures, leaves them
        shutil.rmtree(out / run / "figures")
    (out / "a" / "figures").mkdir()
    (out / "a" / "figures" / "confusion_test.png").write_bytes(b"not a png")  # nothing to trust
    build_report(out, log=lambda s: None)
    for run in ("a", "b"):
        for theirs in PAIRS.values():
            assert (out / "figures" / theirs.format(run)).is_file(), (run, theirs)
        assert drawn["confusion_figure", f"{run}: test"] == 1
        assert drawn["lr_figure", f"{run}: learning rate"] == 1
        assert drawn["grad_norms_figure", f"{run}: gradient norms (before clipping)"] == 1
        assert drawn["curves_figure", run] == 1


def test_a_stale_or_deleted_run_figure_is_drawn_again(suite, drawn):
    out = suite
    (out / "a" / "figures" / "lr.png").unlink()  # deleted by hand
    # a: scored again after its figures were drawn (other predictions): its confusion_test.png is stale
    npz = out / "a" / "predictions_test.npz"
    with np.load(npz) as f:
        probs, labels = f["probs"], f["labels"]
    np.savez(npz, probs=np.roll(probs, 1, axis=1), labels=labels)
    build_report(out, log=lambda s: None)
    by_report = drawn
    assert by_report["confusion_figure", "a: test"] == 1
    assert by_report["lr_figure", "a: learning rate"] == 1
    assert by_report["confusion_figure", "b: test"] == 0  # b's is current: taken
    stale = (out / "a" / "figures" / "confusion_test.png").read_bytes()
    assert (out / "figures" / "confusion_a.png").read_bytes() != stale
