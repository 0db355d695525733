"""A seeded suite's test figures are drawn per row over all its seeds in report.html (`vislab paper`'s:
test_paper.py): the confusion matrix summed, per-class accuracy as the mean with ± 1 std error bars, the
ROC pooled; the mistakes gallery of the first seed, named. Unseeded suites keep a section per run."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib.figure import Figure

from conftest import tiny_base, tiny_suite
from figures_skipped import skip_report_figures
from fixtures import made_once
from seed_scores import check_row_numbers, drawn, seed_scores
from vislab.cli import main
from vislab.report.build import build_report

SUITE = tiny_suite(
    description="seed figures test",
    base=tiny_base(data__limit=240, train__seed=0),
    runs={"maj": {"model.name": "majority"}, "mlp": {}},
)
ROWS = ("maj", "mlp")


def _suite(root: Path, *seeds: str) -> Path:
    """The suite trained into ROOT/seeded (with ``--seeds 2``) or ROOT/plain, without its report."""
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    out = root / ("seeded" if seeds else "plain")
    assert main(["suite", str(spec), *seeds, "--out", str(out), "-q", "--no-report"]) == 0
    return out


def _drawing(make) -> dict[str, dict]:
    """Call ``make()``; {figure stem: what it shows} of the confusion and per-class figures it saved."""
    shown, real = {}, Figure.savefig

    def spy(fig, fname, *args, **kw):
        stem = Path(str(fname)).stem
        if stem.startswith(("confusion_", "per_class_")):
            shown[stem] = drawn(fig)
        return real(fig, fname, *args, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Figure, "savefig", spy)
        make()
    return shown


def _make_seeded(root: Path) -> dict[str, dict]:
    """The seeded suite in ROOT/seeded with its report; {figure stem: what the report's figure shows}."""
    suite = _suite(root, "--seeds", "2")
    return _drawing(lambda: build_report(suite))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """(the seeded suite's folder, with its report.html, {figure stem: what the report's figure shows}).
    The tests only read it: under pytest-xdist it is made once for all workers."""
    root, shown = made_once(tmp_path_factory, "test_seed_figures", _make_seeded)
    return root / "seeded", shown


def _sections(page: str) -> dict[str, list[str]]:
    """The page's run sections: id → the captions of their figures."""
    found = re.findall(r'<details open id="run-(.*?)">(.*?)</details>', page, re.S)
    return {name: re.findall(r"<figcaption>(.*?)</figcaption>", body) for name, body in found}


def test_report_draws_one_section_per_row_over_its_seeds(seeded):
    suite, shown = seeded
    sections = _sections((suite / "report.html").read_text())
    assert list(sections) == list(ROWS)  # rows, not seed runs
    for row in ROWS:
        captions = sections[row]
        confusion = [c for c in captions if "confusion matrix" in c]
        per_class = [c for c in captions if "accuracy per class" in c]
        roc = [c for c in captions if "ROC" in c]
        assert len(confusion) == len(per_class) == len(roc) == 1, captions
        assert all("over 2 seeds" in c for c in confusion + per_class + roc), captions
        assert "summed" in confusion[0] and "± 1 std" in per_class[0] and "pooled" in roc[0]
        mistakes = [c for c in captions if "wrong" in c or "confused" in c]
        assert mistakes and mistakes[0].startswith(f"{row}, seed 0 ({row}-s0): ")
        check_row_numbers(shown, suite, row)
    pngs = {p.name for p in (suite / "figures").glob("*.png")}
    assert {f"{k}_{r}.png" for k in ("confusion", "per_class", "roc") for r in ROWS} <= pngs
    assert not {p for p in pngs if re.match(r"(confusion|per_class|roc)_.*-s\d", p)}


def test_unseeded_suite_keeps_a_section_and_figures_per_run(tmp_path):
    plain = _suite(tmp_path)
    page = build_report(plain).read_text()
    sections = _sections(page)
    assert list(sections) == list(ROWS)
    for row in ROWS:
        assert [c.split(":")[0] for c in sections[row]] == [
            row
        ] * 4  # confusion, per-class, ROC, mistakes
        assert not any("seed" in c for c in sections[row])
    pngs = sorted(p.name for p in (plain / "figures").glob("*.png"))
    per_run = [f"{k}_{r}.png" for k in ("confusion", "mistakes", "per_class", "roc") for r in ROWS]
    assert pngs == sorted(["curves.png", "samples_1.png", *per_run])
    assert "seed-note" not in page


def test_a_seed_without_readable_predictions_is_left_out_with_a_note(seeded, tmp_path, monkeypatch):
    # the figures over the seeds only: the mistakes gallery is seed 0's, whose predictions are intact
    skip_report_figures(monkeypatch, keep=("confusion_", "per_class_"))
    suite = tmp_path / "seeded"
    shutil.copytree(seeded[0], suite)
    (suite / "mlp-s1" / "predictions_test.npz").write_bytes(b"not an npz")
    (suite / "maj-s1" / "predictions_test.npz").unlink()
    shown = _drawing(lambda: build_report(suite))
    page = (suite / "report.html").read_text()
    assert "mlp-s1: " in page and "predictions_test.npz&#39; cannot be read" in page
    assert "vislab eval" in page  # the fix: eval writes the file again
    assert "maj-s1: no predictions_test.npz" in page
    sections = _sections(page)
    assert any("of one seed run, mlp-s0 " in c for c in sections["mlp"])  # its other unread
    confusions, _ = seed_scores(suite, "mlp", seeds=(0,))
    cells = np.array([int(t) for t in shown["confusion_mlp"]["cells"]])
    assert np.array_equal(cells.reshape(confusions.shape[1:]), confusions[0])
    assert shown["per_class_mlp"]["errs"] is None  # one seed: no spread to draw
