"""A seeded suite's test figures are drawn per row over all its seeds (report.html and `vislab paper`):
the confusion matrix summed, per-class accuracy as the mean with ± 1 std error bars, the ROC pooled;
the mistakes gallery of the first seed, named. Unseeded suites keep a section per run."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib.figure import Figure

from vislab.cli import main
from vislab.paper_folder.build import write_paper
from vislab.report.build import build_report

SUITE = {
    "description": "seed figures test",
    "base": {
        "data": {"name": "digits", "limit": 240},
        "train": {"epochs": 1, "batch_size": 32, "device": "cpu", "seed": 0, "figures": False},
        "model": {"name": "mlp", "hidden": [16]},
    },
    "runs": {"maj": {"model.name": "majority"}, "mlp": {}},
}
ROWS = ("maj", "mlp")


def _drawn(fig: Figure) -> dict:
    """What a confusion or per-class figure shows: the cells' numbers, the bars and their error bars."""
    ax = fig.axes[0]
    cells = [t.get_text() for t in ax.texts]
    bars = [p.get_height() for p in ax.patches]
    errs = None
    for bar in (c for c in ax.containers if getattr(c, "errorbar", None) is not None):
        [lines] = bar.errorbar.lines[2]  # a vertical segment per bar: mean - std to mean + std
        errs = [float(seg[1][1] - seg[0][1]) / 2 for seg in lines.get_segments()]
    return dict(cells=cells, bars=bars, errs=errs)


def _suite(root: Path, *seeds: str) -> Path:
    """The suite trained into ROOT/seeded (with ``--seeds 2``) or ROOT/plain, without its report."""
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    out = root / ("seeded" if seeds else "plain")
    assert main(["suite", str(spec), *seeds, "--out", str(out), "-q", "--no-report"]) == 0
    return out


def _drawing(make) -> dict[str, dict]:
    """Call ``make()``; {figure stem: what it shows} of the confusion and per-class figures it saved."""
    drawn, real = {}, Figure.savefig

    def spy(fig, fname, *args, **kw):
        stem = Path(str(fname)).stem
        if stem.startswith(("confusion_", "per_class_")):
            drawn[stem] = _drawn(fig)
        return real(fig, fname, *args, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Figure, "savefig", spy)
        make()
    return drawn


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """(the seeded suite's folder, with its report.html, {figure stem: what the report's figure shows})."""
    suite = _suite(tmp_path_factory.mktemp("seeded"), "--seeds", "2")
    return suite, _drawing(lambda: build_report(suite))


def _seed_scores(suite: Path, row: str, seeds=(0, 1)) -> tuple[np.ndarray, np.ndarray]:
    """(each seed's confusion matrix, each seed's per-class recall) from its saved test predictions."""
    confusions, recalls = [], []
    for i in seeds:
        with np.load(suite / f"{row}-s{i}" / "predictions_test.npz") as f:
            probs, labels = f["probs"], f["labels"]
        cm = np.zeros((probs.shape[1],) * 2, np.int64)
        np.add.at(cm, (labels, probs.argmax(1)), 1)
        confusions.append(cm)
        with np.errstate(invalid="ignore"):
            recalls.append(np.diag(cm) / cm.sum(1))
    return np.array(confusions), np.array(recalls)


def _sections(page: str) -> dict[str, list[str]]:
    """The page's run sections: id → the captions of their figures."""
    found = re.findall(r'<details open id="run-(.*?)">(.*?)</details>', page, re.S)
    return {name: re.findall(r"<figcaption>(.*?)</figcaption>", body) for name, body in found}


def _check_numbers(shown: dict, suite: Path, row: str) -> None:
    confusions, recalls = _seed_scores(suite, row)
    cells = [int(t) for t in shown[f"confusion_{row}"]["cells"]]
    k = confusions.shape[1]
    assert np.array_equal(
        np.array(cells).reshape(k, k), confusions.sum(0)
    )  # the seeds' counts added
    bars = shown[f"per_class_{row}"]
    assert bars["bars"] == pytest.approx(np.nanmean(recalls, 0))
    assert bars["errs"] == pytest.approx(np.nan_to_num(np.std(recalls, 0, ddof=1)))


def test_report_draws_one_section_per_row_over_its_seeds(seeded):
    suite, drawn = seeded
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
        _check_numbers(drawn, suite, row)
    pngs = {p.name for p in (suite / "figures").glob("*.png")}
    assert {f"{k}_{r}.png" for k in ("confusion", "per_class", "roc") for r in ROWS} <= pngs
    assert not {p for p in pngs if re.match(r"(confusion|per_class|roc)_.*-s\d", p)}


@pytest.mark.slow  # the paper draws every figure again for a page: ~4 s on 2 busy cores
def test_paper_draws_the_same_row_figures(seeded, tmp_path, monkeypatch):
    suite, paper = seeded[0], tmp_path / "paper"
    # no mistakes gallery (a third of the paper's time; the report test checks it)
    monkeypatch.setattr("vislab.report.run_sections.mistake_section", lambda *a: None)
    drawn = _drawing(lambda: write_paper([suite], paper))
    stems = {p.stem for p in (paper / "figures").glob("*.pdf")}
    assert {f"{k}_{r}" for k in ("confusion", "per_class", "roc") for r in ROWS} <= stems
    assert not {s for s in stems if re.match(r"(confusion|per_class|roc)_.*-s\d", s)}
    tex = (paper / "figures.tex").read_text()
    for row in ROWS:
        assert f"{row}: test confusion matrix summed over 2 seeds" in tex
        assert f"{row}: test accuracy per class, the mean over 2 seeds" in tex
        _check_numbers(drawn, suite, row)


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
    # no mistakes gallery: seed 0's, whose predictions are intact, is not in question
    monkeypatch.setattr("vislab.report.run_sections.mistake_section", lambda *a: None)
    suite = tmp_path / "seeded"
    shutil.copytree(seeded[0], suite)
    (suite / "mlp-s1" / "predictions_test.npz").write_bytes(b"not an npz")
    (suite / "maj-s1" / "predictions_test.npz").unlink()
    drawn = _drawing(lambda: build_report(suite))
    page = (suite / "report.html").read_text()
    assert "mlp-s1: " in page and "predictions_test.npz not readable" in page
    assert "maj-s1: no predictions_test.npz" in page
    sections = _sections(page)
    assert any("summed over 1 seed " in c for c in sections["mlp"])
    confusions, _ = _seed_scores(suite, "mlp", seeds=(0,))
    cells = np.array([int(t) for t in drawn["confusion_mlp"]["cells"]])
    assert np.array_equal(cells.reshape(confusions.shape[1:]), confusions[0])
    assert drawn["per_class_mlp"]["errs"] is None  # one seed: no spread to draw
