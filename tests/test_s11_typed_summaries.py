"""A report's headlines of runs whose summary.json holds no test score (a run scored on no test split, a
file edited by hand): a seed run without one is left out of its row's mean ± std, which says how many
seeds were scored, and a run or row with none says "—" instead of a test ACC of 0."""

import json
import re
import shutil
from html import unescape

import pytest

from figures_skipped import skip_report_figures
from vislab.report.build import build_report

# run → its test ACC and PACC in summary.json (None: the key is not in the file)
SCORES = {
    "a-s0": (0.9, 0.7),
    "a-s1": (None, None),
    "a-s2": (0.8, 0.5),
    "b": (None, None),
    "d-s0": (None, None),
    "d-s1": (None, None),
}


@pytest.fixture(scope="module")
def headlines(trained, tmp_path_factory) -> dict[str, str]:
    """Section → its headline in report.html, of a folder of copies of one finished run with ``SCORES``
    (a seed's config.yaml with its own train.seed)."""
    folder = tmp_path_factory.mktemp("scores") / "runs"
    for name, (acc, pacc) in SCORES.items():
        shutil.copytree(trained, folder / name)
        path = folder / name / "summary.json"
        summary = json.loads(path.read_text())
        for key, value in (("test_acc", acc), ("test_pacc", pacc)):
            if value is None:
                del summary[key]
            else:
                summary[key] = value
        path.write_text(json.dumps(summary))
        if (
            "-s" in name
        ):  # seeds of a row: each its train.seed + i, as seeds are (not one run copied)
            config = folder / name / "config.yaml"
            config.write_text(config.read_text().replace("  seed: 0\n", f"  seed: {name[-1]}\n"))
            shutil.rmtree(folder / name / "checkpoints")  # which record seed 0
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp)
        page = build_report(folder, log=lambda _: None).read_text()
    return dict(re.findall(r"<summary>(\S+) — (.*?)</summary>", unescape(page)))


def test_a_seed_without_a_test_score_is_left_out_of_its_row_s_mean(headlines):
    # the mean of 0.9 and 0.8 (not of 0.9, 0 and 0.8: 0.5667), the std of those two
    assert "test ACC 0.8500 ± 0.0707 (2 of 3 scored)" in headlines["a"]
    assert "PACC 0.6000 ± 0.1414 (2 of 3 scored) over 3 seeds" in headlines["a"]


def test_a_run_or_row_without_a_test_score_says_so_instead_of_zero(headlines):
    assert "test ACC —, PACC —," in headlines["b"] and "0.0000" not in headlines["b"]
    assert "test ACC —, PACC — over 2 seeds" in headlines["d"]
