"""What a user sees of a grid sweep's points, eval's per-class table and lines, a sweep's figures, a preview's
captions, a suite that did not finish, the paper's two-source table header and a report's figure ranges."""

import re
import shutil

import numpy as np
import pytest
import yaml
from optuna.distributions import FloatDistribution

from conftest import cli, one_line, tiny_base
from test_tables_paper_s3 import seeded_folder
from vislab.config import AugmentConfig
from vislab.data.types import ArraySet
from vislab.errors import SuiteFailed
from vislab.experiments.records import RunOutcome
from vislab.experiments.results.reported import figure_value, mismatches
from vislab.experiments.suites.ending import raise_unfinished
from vislab.experiments.suites.spec import load_suite
from vislab.experiments.sweeps import space as sp
from vislab.experiments.sweeps.spec import load_sweep
from vislab.paper_folder.build import write_paper
from vislab.plotting import sweeps as sweep_plots
from vislab.plotting.canvas import captured_figures, plt
from vislab.report.previews import augmentation_preview
from vislab.training.rundir import RunDir
from vislab.training.summary import RunSummary


# ------------------------------------------------------------------ a grid sweep visits both ends
def test_a_grid_sweeps_float_range_with_a_step_includes_its_top_value(tmp_path):
    spec = tmp_path / "g.yaml"
    space = {"model.dropout": {"type": "float", "low": 0.0, "high": 0.5, "step": 0.25}}
    spec.write_text(
        yaml.safe_dump({"name": "g", "base": tiny_base(), "sampler": "grid", "space": space})
    )
    dists = load_sweep(spec).distributions
    assert sp.grid_of(dists) == {"model.dropout": [0.0, 0.25, 0.5]}
    assert sp.grid_size(dists) == 3
    three = {"x": FloatDistribution(0.1, 0.3, step=0.1)}
    assert sp.grid_of(three)["x"] == pytest.approx([0.1, 0.2, 0.3]) and sp.grid_size(three) == 3


# ------------------------------------------------------------------ eval's per-class table and lines
def table_rows(out: str) -> dict[str, tuple[float, int]]:
    """eval's per-class table: class → (accuracy, support)."""
    rows = re.findall(r"│ (\S+)\s+│\s+([\d.]+) │\s+(\d+) │", out)
    return {name: (float(acc), int(support)) for name, acc, support in rows}


def test_eval_support_counts_each_class_true_images_not_its_predictions(trained, capsys):
    code, out = cli(capsys, "eval", trained)
    saved = RunDir(trained).read_predictions()
    predicted = np.bincount(saved.probs.argmax(1), minlength=10)
    assert code == 0 and (predicted != np.bincount(saved.labels, minlength=10)).any()  # not perfect
    rows = table_rows(out)
    assert [support for _, support in rows.values()] == np.bincount(saved.labels).tolist(), out


def test_eval_counts_every_wrong_prediction_not_the_gallery(trained, capsys):
    code, out = cli(capsys, "eval", trained)
    csv = (trained / "figures" / "mistakes_test.csv").read_text().splitlines()
    m = re.search(r"test: acc ([\d.]+), per-class acc [\d.]+, .*loss [\d.]+, n=(\d+)", out)
    acc, n = float(m[1]), int(m[2])
    wrong = round(n * (1 - acc))
    assert code == 0 and wrong > 16  # more than the gallery shows
    assert f"every wrong prediction ({wrong}; " in one_line(out), out
    assert len(csv) - 1 == wrong  # its header, then a row per wrong prediction


def test_eval_with_set_leaves_a_damaged_predictions_file_as_it_was(trained, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    npz = run / "predictions_test.npz"
    npz.write_bytes(npz.read_bytes()[:300])
    damaged = npz.read_bytes()
    code, out = cli(capsys, "eval", run, "--set", "data.limit_eval=50")
    assert code == 0 and "again" not in out, out
    assert npz.read_bytes() == damaged  # not rewritten from the changed data


# ------------------------------------------------------------------ a sweep's figures
def drawn(draw) -> plt.Figure:
    with captured_figures() as figs:
        draw()
    [fig] = figs
    return fig


@pytest.mark.parametrize("higher_better, best", [(True, [0.5, 0.7, 0.7]), (False, [0.5, 0.5, 0.5])])
def test_the_best_so_far_line_follows_the_best_trial(tmp_path, higher_better, best):
    fig = drawn(
        lambda: sweep_plots.plot_history(
            [0, 1, 2], [0.5, 0.7, 0.6], tmp_path / "h.png", higher_better=higher_better
        )
    )
    [line] = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "best so far"]
    assert list(line.get_ydata()) == pytest.approx(best)
    plt.close(fig)


def test_the_most_important_parameter_is_the_top_bar(tmp_path):
    values = {"optim.lr": 0.7, "model.dropout": 0.2, "train.batch_size": 0.1}
    fig = drawn(lambda: sweep_plots.plot_bars(values, tmp_path / "b.png"))
    ax = fig.axes[0]
    bars = sorted(ax.patches, key=lambda p: p.get_y())  # bottom to top
    labels = {round(t, 3): lab.get_text() for t, lab in zip(ax.get_yticks(), ax.get_yticklabels())}
    top = bars[-1]
    assert labels[round(top.get_y() + top.get_height() / 2, 3)] == "optim.lr"
    assert top.get_width() == pytest.approx(0.7)
    plt.close(fig)


# ------------------------------------------------------------------ a preview's captions
def test_a_preview_with_another_seed_captions_each_image_with_its_own_class():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 60)
    x = np.zeros((60, 4, 4, 1), np.uint8)
    x[:, :, :, 0] = np.arange(60)[:, None, None]  # each image's pixels say which image it is
    names = ["cat", "dog", "fish"]
    preview = augmentation_preview(ArraySet(x, y), AugmentConfig(), 12, 1, 3, names)
    shown = preview.rows[0][:, 0, 0, 0]
    assert preview.labels == [names[y[i]] for i in shown]


# ------------------------------------------------------------------ a suite with an interrupted run
def test_a_suite_with_an_interrupted_run_does_not_end_as_finished(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({"base": tiny_base(), "runs": {"a": {}, "b": {}}}))
    outcomes = {
        "a": RunOutcome(status="complete"),
        "b": RunOutcome(status="interrupted", message="stopped"),
    }
    with pytest.raises(SuiteFailed) as e:
        raise_unfinished(load_suite(spec), tmp_path, outcomes, None)
    assert e.value.exit_code != 0 and "1 of 2 runs" in str(e.value) and "b:" in str(e.value)


# ------------------------------------------------------------------ a run's own split under reported:
def test_a_runs_own_split_size_wins_over_its_sources():
    reported = {
        "sources": {
            "A": {"title": "A", "data": "d", "split": {"train": 5000, "val": 1000, "test": 10000}}
        },
        "runs": {"net": {"A": {"where": "Table 1", "test_acc": "0.7", "split": {"test": 1000}}}},
    }
    run = RunSummary.from_json(
        dict(status="complete", data="cifar10", n_train=5000, n_val=1000, n_test=1000)
    )
    assert mismatches(reported, {"net": run}) == []  # measured as its own entry says
    small = RunSummary.from_json(
        dict(status="complete", data="cifar10", n_train=5000, n_val=1000, n_test=500)
    )
    [note] = mismatches(reported, {"net": small})
    assert "5k train / 1k val / 1k test" in note, note


# ------------------------------------------------------------------ the paper's header of two sources
TWO_SOURCES = {
    "sources": {
        "paper_a": {"title": "A paper", "data": "digits test set"},
        "paper_b": {"title": "B paper", "data": "digits test set"},
    },
    "runs": {
        "mlp": {
            "paper_a": {"where": "Table 1", "test_acc": "0.9"},
            "paper_b": {"where": "Table 2", "test_acc": "0.8"},
        }
    },
}


def test_a_figures_rule_spans_its_own_columns_in_the_papers_table(tmp_path):
    out, _ = seeded_folder(tmp_path, TWO_SOURCES)
    write_paper([out], out=tmp_path / "paper")
    tex = (tmp_path / "paper" / "tables.tex").read_text()
    first = tex.split("\\end{table}")[0]
    align = re.search(r"\\begin\{tabular\}\{([^}]*)\}", first)[1]
    top = first.split("\\toprule\n")[1].split(" \\\\\n")[0].split(" & ")
    spans, col = [], 1
    for cell in top:
        n = int(m[1]) if (m := re.match(r"\\multicolumn\{(\d+)\}", cell)) else 1
        if n > 1:
            spans.append(f"{col}-{col + n - 1}")
        col += n
    rules = re.findall(r"\\cmidrule\(lr\)\{(\d+-\d+)\}", first)
    assert spans and rules == spans, first
    assert col - 1 == len(re.findall(r"[lcr]", align))  # the header fills the table's columns


# ------------------------------------------------------------------ a report's range as a number
def test_a_reported_range_sorts_by_its_middle():
    assert figure_value("0.75–0.78") == pytest.approx(0.765)
    assert figure_value("0.8") == pytest.approx(0.8)
