"""The HTML report: self-contained (no network), every figure decodes, and in a real headless Chromium
the table rows are there, the header click sorts them, and every embedded image has a natural size."""

import base64
import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from PIL import Image

from conftest import CHROMIUM
from figures_skipped import skip_report_figures
from fixtures import made_once
from vislab.cli import main
from vislab.experiments.suites.spec import load_suite

PROBE = """
<script>
window.addEventListener("load", function () {
  var table = document.getElementById("results"), heads = table.tHead.rows[0].cells, col = -1;
  for (var i = 0; i < heads.length; i++) if (heads[i].getAttribute("data-key") === "params") col = i;
  heads[col].click();  /* first click: descending */
  var rows = table.tBodies[0].rows, order = [];
  for (var r = 0; r < rows.length; r++) order.push([rows[r].getAttribute("data-run"),
                                                    parseFloat(rows[r].cells[col].getAttribute("data-sort"))]);
  var imgs = document.images, ok = 0;
  for (var k = 0; k < imgs.length; k++) if (imgs[k].complete && imgs[k].naturalWidth > 0) ok++;
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({order: order, ok: ok, total: imgs.length,
                                    marker: document.body.getAttribute("data-images-ok")});
  document.body.appendChild(pre);
});
</script>
"""


# the report's figures: curves (all runs, the group), previews; the test figures of each run; Grad-CAM on a
# few test images for the CNN (captum, the test extra)
FIGURES = (
    ["curves.png", "curves_mlps.png", "samples_1.png", "augment_1.png"]
    + [
        f"{kind}_{run}.png"
        for run in ("mlp", "cnn", "wide")
        for kind in ("confusion", "per_class", "roc", "mistakes")
    ]
    + ["gradcam_cnn.png"]
)


def _make_suite(tmp: Path) -> dict:
    """A suite of three runs in TMP/out, with its report."""
    spec = tmp / "s.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "description": "report test",
                "base": {
                    "data": {"name": "digits", "limit": 200},
                    # the runs' own figures/ are not the report's
                    "train": {"epochs": 2, "batch_size": 32, "device": "cpu", "figures": False},
                    "model": {"name": "mlp", "hidden": [16]},
                },
                "runs": {
                    "mlp": {},
                    "cnn": {
                        "model.name": "cnn",
                        "model.widths": [8],
                        "model.fc": [16],
                        "augment.crop.p": 1.0,
                        "augment.crop.padding": 1,
                    },
                    "wide": {"model.hidden": [64]},
                },
                "groups": {"mlps": ["mlp", "wide"]},
            },
            sort_keys=False,
        )
    )
    assert main(["suite", str(spec), "--out", str(tmp / "out"), "-q"]) == 0
    return {}


@pytest.fixture(scope="module")
def suite_report(tmp_path_factory):
    """The suite folder of :func:`_make_suite`. The tests only read it: under pytest-xdist it is made once
    for all workers (the first to need it makes it while the others wait)."""
    tmp, _ = made_once(tmp_path_factory, "test_report_browser", _make_suite)
    return tmp / "out"


def test_report_is_self_contained_and_figures_decode(suite_report):
    page = (suite_report / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<link" not in page and "<script src" not in page
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    for name in FIGURES:
        assert (suite_report / "figures" / name).is_file(), name
    assert len(uris) == len(FIGURES)
    for uri in uris:
        with Image.open(io.BytesIO(base64.b64decode(uri))) as img:
            img.load()
            assert img.format == "PNG" and img.width > 50 and img.height > 50
    for run in load_suite(suite_report.parent / "s.yaml").runs:
        assert f'data-run="{run}"' in page


def test_report_command_rebuilds_it(suite_report, tmp_path, monkeypatch):
    suite = tmp_path / "suite"  # a copy: the other tests read the fixture's report
    shutil.copytree(suite_report, suite)
    (suite / "report.html").unlink()
    skip_report_figures(monkeypatch)  # what is checked is the page the command writes
    assert main(["report", str(suite), "--title", "again"]) == 0
    assert "<title>again</title>" in (suite / "report.html").read_text()
    assert main(["report", str(suite / "nope")]) == 2


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_report_in_headless_chromium(suite_report, tmp_path):
    page = (suite_report / "report.html").read_text().replace("</body>", PROBE + "</body>")
    probe = tmp_path / "probe.html"
    probe.write_text(page)
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=10000",
        "--run-all-compositor-stages-before-draw",
        "--dump-dom",
        probe.as_uri(),
    ]
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    result = json.loads(html.unescape(found.group(1)))
    assert result["total"] == page.count("<img ") == len(FIGURES)
    assert result["ok"] == result["total"]
    assert result["marker"] == str(result["total"])  # the page's own load-time count agrees
    runs = [r for r, _ in result["order"]]
    assert sorted(runs) == ["cnn", "mlp", "wide"]
    params = [p for _, p in result["order"]]
    assert params == sorted(params, reverse=True)
