"""The report's interactive curves (uPlot, embedded): the data they draw, and in headless Chromium the
charts render, hovering shows values, a run's button hides its curves, and no request leaves the page."""

import html
import json
import re
import subprocess

import numpy as np
import pytest

from conftest import CHROMIUM
from figures_skipped import skip_report_figures
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
    """Two runs (no figures/ of their own: the report draws its own) and their report, which draws the
    curves (the interactive charts go with them) and the panels read here (Grad-CAM, the ViT's heads, the
    mistakes); its test figures are test_report_browser's."""
    root = tmp_path_factory.mktemp("runs")
    for name, model in MODELS.items():
        sets = [
            "data.name=digits",
            "data.limit=150",
            "train.epochs=2",
            "train.figures=false",
            *model,
        ]
        args = [a for s in sets for a in ("--set", s)]
        assert main(["train", *args, "--out", str(root / name), "--quiet"]) == 0
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp, keep=("curves", "gradcam_", "vit_heads_", "mistakes_"))
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


def probe_in_chromium(page: str, tmp_path) -> dict:
    """What the page's probe script wrote into ``<pre id="probe">``, the page opened in headless chromium."""
    probe = tmp_path / "probe.html"
    probe.write_text(page)
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--disable-background-networking", "--disable-component-update", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000",
           "--run-all-compositor-stages-before-draw", "--dump-dom", probe.as_uri()]  # fmt: skip
    dom = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(html.unescape(found.group(1)))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_charts_render_hover_and_hide_a_run_in_headless_chromium(two_runs, tmp_path):
    page = (two_runs / "report.html").read_text().replace("</body>", PROBE + "</body>")
    result = probe_in_chromium(page, tmp_path)
    assert result["charts"] == 2 and result["canvases"] == 2 and result["width"] > 100
    assert result["shownBefore"] == 5  # the epoch axis and 2 runs × (train, val)
    assert any(re.fullmatch(r"\d+\.\d{4}", v) for v in result["values"]), result["values"]
    for chart in result["hidden"]:  # run b's curves hidden in both charts, run a's still shown
        assert chart == [["a", True], ["a", True], ["b", False], ["b", False]]
    assert result["requests"] == []  # nothing fetched: the library and the data are in the page


# ------------------------------------------------------------------------------------ seeds
def _seed_rows(values: list[float], epochs: int) -> list[dict]:
    """A seed's metrics: every curve at ``values[e - 1]``-ish, so that rows and seeds are far apart."""
    return [
        dict(epoch=e, train_loss=values[e - 1], val_loss=values[e - 1] + 1.0, train_acc=0.5,
             val_acc=0.4)
        for e in range(1, epochs + 1)
    ]  # fmt: skip


SEEDS = {  # row → its seeds' train losses per epoch; a-s2 stopped after epoch 2, a-s0 ran a 4th
    "a": {"a-s0": [1.5, 1.4, 1.3, 1.2], "a-s1": [2.0, 1.9, 1.8], "a-s2": [2.5, 2.4]},
    "b": {"b-s0": [0.5, 0.4, 0.3]},
}


def _seeded_histories() -> tuple[dict[str, list[dict]], dict[str, list[str]]]:
    histories = {n: _seed_rows(v, len(v)) for seeds in SEEDS.values() for n, v in seeds.items()}
    return histories, {row: list(seeds) for row, seeds in SEEDS.items()}


def _lines(panel: dict) -> dict[str, tuple[list, dict]]:
    """A panel's drawn curves (not band edges) by label: (values, series)."""
    drawn = [(s, panel["data"][i + 1]) for i, s in enumerate(panel["series"]) if not s.get("edge")]
    return {s["label"]: (values, s) for s, values in drawn}


def test_seeded_curve_data_is_a_mean_per_row_with_a_band():
    histories, rows = _seeded_histories()
    data = curve_data(histories, rows)
    assert [r["name"] for r in data["runs"]] == ["a", "b"]  # rows, not seeds
    assert [r["color"] for r in data["runs"]] == [run_style(0)[0], run_style(1)[0]]
    loss = data["panels"][0]
    lines = _lines(loss)
    assert list(lines) == ["a train", "a val", "b train", "b val"]  # one series per row and metric
    mean, series = lines["a train"]
    by_epoch = [[v[e] for v in SEEDS["a"].values() if len(v) > e] for e in range(4)]
    # each epoch's mean over the seeds that have it
    assert mean == pytest.approx([float(np.mean(v)) for v in by_epoch])
    std = [float(np.std(v, ddof=1)) if len(v) > 1 else None for v in by_epoch]
    assert series["std"][:3] == pytest.approx(std[:3]) and series["std"][3] is None
    # a band per curve of row a: its edges are mean ∓ std, hidden from the legend by their class
    assert len(loss["bands"]) == 2
    hi, lo = loss["bands"][0]["series"]
    assert loss["series"][hi - 1]["edge"] and loss["series"][lo - 1]["edge"]
    assert loss["data"][hi][:3] == pytest.approx([m + s for m, s in zip(mean, std[:3])])
    assert loss["data"][lo][:3] == pytest.approx([m - s for m, s in zip(mean, std[:3])])
    assert loss["data"][hi][3] is None  # one seed at epoch 4: no band there
    assert loss["bands"][0]["fill"].startswith(run_style(0)[0])
    assert {s["run"] for s in loss["series"] if s.get("edge")} == {"a"}  # a single seed has no band
    assert "std" not in lines["b train"][1]
    assert lines["b train"][0] == [0.5, 0.4, 0.3, None]


def test_unseeded_curve_data_is_unchanged():
    histories, _ = _seeded_histories()
    plain = curve_data(histories)
    assert plain == curve_data(histories, None)
    assert [r["name"] for r in plain["runs"]] == ["a-s0", "a-s1", "a-s2", "b-s0"]
    for panel in plain["panels"]:
        assert "bands" not in panel
        assert all(set(s) == {"run", "label", "color", "dashed"} for s in panel["series"])


def _fake_run(folder, name: str, values: list[float]) -> None:
    """A finished run's folder as a report reads it: summary.json and metrics.jsonl."""
    run = folder / name
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({"status": "complete", "test_acc": 0.5}))
    lines = [json.dumps(r) for r in _seed_rows(values, len(values))]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def seeded_folder(tmp_path_factory):
    """A folder of runs named ``<row>-s<i>`` (as ``vislab suite --seeds`` names them): rows cnn and
    mlp of 3 and 2 seeds, and base, a run alone."""
    root = tmp_path_factory.mktemp("seeded")
    _fake_run(root, "base", [0.2, 0.2, 0.2])
    for i, start in enumerate([1.5, 2.0, 2.5]):
        _fake_run(root, f"cnn-s{i}", [start, start - 0.1, start - 0.2])
    for i, start in enumerate([0.5, 0.6]):
        _fake_run(root, f"mlp-s{i}", [start, start, start])
    build_report(root)
    return root


def _curve_blob(page: str) -> dict:
    [blob] = re.findall(
        r'<script type="application/json" id="curve-data">(.*?)</script>', page, re.S
    )
    return json.loads(blob)


def test_seeded_report_draws_a_run_per_row(seeded_folder):
    page = (seeded_folder / "report.html").read_text()
    data = _curve_blob(page)
    assert [r["name"] for r in data["runs"]] == ["base", "cnn", "mlp"]
    assert [r["color"] for r in data["runs"]] == [run_style(i)[0] for i in range(3)]
    labels = [f"{r} {w}" for r in ("base", "cnn", "mlp") for w in ("train", "val")]
    assert list(_lines(data["panels"][0])) == labels
    assert "shaded ± 1 std" in page and ".vl-band-edge { display: none; }" in page


def test_unseeded_report_keeps_a_run_per_run(two_runs):
    page = (two_runs / "report.html").read_text()
    assert "shaded ± 1 std" not in page
    for panel in _curve_blob(page)["panels"]:
        assert "bands" not in panel and not any(s.get("edge") for s in panel["series"])


ERRORS = """<script>
window.vislabErrors = [];
window.addEventListener("error", function (e) { window.vislabErrors.push(String(e.message)); });
</script>"""

SEEDED_PROBE = """
<script>
window.addEventListener("load", function () {
  var u = window.vislabCharts[0].u, spec = window.vislabCharts[0].series;  /* the loss chart */
  var k = spec.findIndex(function (s) { return s.label === "cnn train"; }) + 1;
  function bandPixel() {  /* halfway between cnn's train mean and its upper edge, between epochs 1 and 2 */
    var mean = (u.data[k][0] + u.data[k][1]) / 2, std = (spec[k - 1].std[0] + spec[k - 1].std[1]) / 2;
    var x = Math.round(u.valToPos(1.5, "x", true)), y = Math.round(u.valToPos(mean + std / 2, "y", true));
    return Array.prototype.slice.call(u.ctx.getImageData(x, y, 1, 1).data);
  }
  u.setCursor({ left: u.valToPos(2, "x"), top: 10 });  /* hover epoch 2 */
  var rows = u.root.querySelectorAll(".u-legend tr.u-series");
  var legend = [], edges = 0;
  Array.prototype.forEach.call(rows, function (r) {
    if (getComputedStyle(r).display === "none") { edges++; return; }
    legend.push([r.querySelector(".u-label").textContent, r.querySelector(".u-value").textContent]);
  });
  var before = bandPixel();
  document.querySelector('#interactive-runs button[data-run="cnn"]').click();
  setTimeout(function () {
    var pre = document.createElement("pre");
    pre.id = "probe";
    pre.textContent = JSON.stringify({
      errors: window.vislabErrors, bands: window.vislabCharts.map(function (p) { return p.u.bands.length; }),
      legend: legend, edges: edges, before: before, after: bandPixel(),
      hidden: window.vislabCharts.map(function (p) {
        return p.series.map(function (s, i) { return [s.run, p.u.series[i + 1].show]; }); }) });
    document.body.appendChild(pre);
  }, 100);
});
</script>
"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_seeded_charts_draw_bands_in_headless_chromium(seeded_folder, tmp_path):
    page = (seeded_folder / "report.html").read_text()
    page = page.replace("<head>", "<head>" + ERRORS, 1).replace("</body>", SEEDED_PROBE + "</body>")
    result = probe_in_chromium(page, tmp_path)
    assert result["errors"] == []
    assert result["bands"] == [4, 4]  # cnn and mlp: train and val each; base (one run) none
    # the legend: a row per curve of a row (the band edges hidden), the epoch first
    assert [label for label, _ in result["legend"]] == ["epoch"] + [
        f"{r} {w}" for r in ("base", "cnn", "mlp") for w in ("train", "val")
    ]
    assert result["edges"] == 8  # 4 bands of 2 edges
    values = dict(result["legend"])
    assert re.fullmatch(r"1\.9000 ± 0\.5000", values["cnn train"]), values  # mean ± std at epoch 2
    assert re.fullmatch(r"\d+\.\d{4}", values["base train"]), values
    red, _, blue, alpha = result["before"]
    assert alpha > 0 and red > blue  # cnn's orange band
    assert result["after"][3] < result["before"][3]  # hidden with its row
    for chart in result["hidden"]:  # every curve and band edge of cnn hidden, the others shown
        assert all(shown == (run != "cnn") for run, shown in chart), chart
