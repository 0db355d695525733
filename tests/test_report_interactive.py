"""The report's interactive curves (uPlot, embedded): the data they draw, and in headless Chromium the
charts render, hovering shows values, a run's button hides its curves, and no request leaves the page."""

import html
import json
import re
import subprocess

import pytest

from conftest import CHROMIUM
from vislab.cli import main
from vislab.plotting.legend import run_style
from vislab.report.build import build_report
from vislab.report.interactive import curve_data

PROBE = """
<script>
window.addEventListener("load", function () {
  var plots = window.vislabCharts || [], canvases = document.querySelectorAll("#interactive-curves canvas");
  var u = plots[0].u, shownBefore = u.series.filter(function (s) { return s.show; }).length;
  u.setCursor({ left: u.bbox.width / devicePixelRatio / 2, top: 10 });  /* hover the middle epoch */
  var values = Array.prototype.map.call(
    document.querySelectorAll("#interactive-curves .u-legend .u-value"), function (v) { return v.textContent; });
  document.querySelector('#interactive-runs button[data-run="b"]').click();
  var hidden = plots.map(function (p) {
    return p.series.map(function (s, i) { return [s.run, p.u.series[i + 1].show]; });
  });
  var pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify({
    charts: plots.length, canvases: canvases.length, width: canvases.length ? canvases[0].width : 0,
    shownBefore: shownBefore, values: values, hidden: hidden,
    requests: performance.getEntriesByType("resource").map(function (e) { return e.name; }) });
  document.body.appendChild(pre);
});
</script>
"""


def _rows(n: int, offset: float = 0.0) -> list[dict]:
    return [
        dict(
            epoch=e,
            train_loss=1 / e + offset,
            val_loss=1.2 / e + offset,
            train_acc=0.5,
            val_acc=0.4,
        )
        for e in range(1, n + 1)
    ]


def test_curve_data_aligns_epochs_and_keeps_run_colours():
    rows_b = _rows(3, 0.1)
    rows_b[1]["val_loss"] = float("nan")  # a diverged value is a gap, not invalid JSON
    data = curve_data({"a": _rows(2), "b": rows_b})
    assert [r["color"] for r in data["runs"]] == [run_style(0)[0], run_style(1)[0]]
    loss = data["panels"][0]
    assert loss["data"][0] == [1, 2, 3]
    assert loss["data"][1] == [1.0, 0.5, None]  # run a stopped at epoch 2
    assert loss["data"][4][1] is None
    assert [(s["label"], s["dashed"]) for s in loss["series"]] == [
        ("a train", False),
        ("a val", True),
        ("b train", False),
        ("b val", True),
    ]
    assert curve_data({"a": []}) is None


MODELS = {  # a CNN and a ViT, as in a comparison of the DLVC assignment
    "a": ["model.name=cnn", "model.preset=simple"],
    "b": ["model.name=vit", "model.patch_size=4", "model.embed_dim=16", "model.depth=1"],
}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name, model in MODELS.items():
        sets = ["data.name=digits", "data.limit=150", "train.epochs=2", *model]
        args = [a for s in sets for a in ("--set", s)]
        assert main(["train", *args, "--out", str(root / name), "--quiet"]) == 0
    build_report(root)
    return root


def test_report_of_a_cnn_and_a_vit_has_the_new_panels(two_runs):
    """The look-inside panels of #15 beside the interactive curves: Grad-CAM for the CNN, attention per
    head for the ViT, the most confidently wrong images for both."""
    names = {p.name for p in (two_runs / "figures").glob("*.png")}
    assert {"gradcam_a.png", "vit_heads_b.png", "mistakes_a.png", "mistakes_b.png"} <= names, names


def test_report_embeds_the_chart_library_and_its_data(two_runs):
    page = (two_runs / "report.html").read_text()
    assert "<script src" not in page and "<link" not in page
    assert 'id="curve-data"' in page and "uPlot" in page
    [blob] = re.findall(
        r'<script type="application/json" id="curve-data">(.*?)</script>', page, re.S
    )
    assert [r["name"] for r in json.loads(blob)["runs"]] == ["a", "b"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_charts_render_hover_and_hide_a_run_in_headless_chromium(two_runs, tmp_path):
    page = (two_runs / "report.html").read_text().replace("</body>", PROBE + "</body>")
    probe = tmp_path / "probe.html"
    probe.write_text(page)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-component-update", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
           "--run-all-compositor-stages-before-draw", "--dump-dom", probe.as_uri()]  # fmt: skip
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    result = json.loads(html.unescape(found.group(1)))
    assert result["charts"] == 2 and result["canvases"] == 2 and result["width"] > 100
    assert result["shownBefore"] == 5  # the epoch axis and 2 runs × (train, val)
    assert any(re.fullmatch(r"\d+\.\d{4}", v) for v in result["values"]), result["values"]
    for chart in result["hidden"]:  # run b's curves hidden in both charts, run a's still shown
        assert chart == [["a", True], ["a", True], ["b", False], ["b", False]]
    assert result["requests"] == []  # nothing fetched: the library and the data are in the page
