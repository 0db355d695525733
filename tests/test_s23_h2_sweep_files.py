"""Sweep files as a teacher writes them from docs/sweep-files.md: a sweep key indented under space: or
base: is named as such, numbers YAML reads as text (1e-3) are numbers, an int entry takes whole numbers,
and a sweep's report and paper say what it searched; a report's model-figure heading names what it holds."""

import csv

import pytest
import yaml

import vislab
from conftest import cli, one_line, tiny_base
from figures_skipped import skip_report_figures
from vislab.errors import ConfigError
from vislab.experiments.sweeps.spec import load_sweep
from vislab.report.model_figures import model_heading

pytestmark = pytest.mark.filterwarnings("ignore:parameter importances appear")

BASE = yaml.safe_dump({"base": tiny_base()}, sort_keys=False)


def sweep_file(tmp_path, text: str):
    """A sweep file of the tiny base and ``text`` (YAML, as a user types it)."""
    path = tmp_path / "s.yaml"
    path.write_text(BASE + text)
    return path


@pytest.mark.parametrize(
    "text, key, section",
    [
        ("space:\n  optim.lr: {type: float, low: 0.001, high: 0.1}\n  metric: val_acc\n", "metric", "space"),
        ("space:\n  optim.lr: {type: float, low: 0.001, high: 0.1}\n  seed: 0\n", "seed", "space"),
    ],
)  # fmt: skip
def test_a_sweep_key_indented_under_space_is_named(tmp_path, capsys, text, key, section):
    code, said = cli(capsys, "sweep", sweep_file(tmp_path, text), "--out", tmp_path / "out")
    assert code == 2
    assert f"'{key}' is a sweep key: indented under {section}:?" in one_line(said)
    assert f"put {key}: at the top level of the sweep file" in one_line(said)
    assert not (tmp_path / "out" / "trials").exists()


def test_a_sweep_key_indented_under_base_is_named(tmp_path):
    text = "  sampler: random\nspace:\n  optim.lr: {type: float, low: 0.001, high: 0.1}\n"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"base": tiny_base()}) + text)
    with pytest.raises(ConfigError) as e:
        load_sweep(path)
    assert "'sampler' is a sweep key: indented under base:?" in one_line(str(e.value))


def test_a_config_section_at_the_top_level_is_named(tmp_path, capsys):
    text = "train: {epochs: 1}\nspace:\n  optim.lr: {type: float, low: 0.001, high: 0.1}\n"
    code, said = cli(capsys, "sweep", sweep_file(tmp_path, text), "--out", tmp_path / "out")
    assert code == 2
    assert "'train' is a config section: under base:? Fix: indent train: under base:" in one_line(
        said
    )


def test_numbers_yaml_reads_as_text_are_the_keys_numbers(tmp_path):
    """YAML reads 1e-3 (no dot) as a string: for a numeric key it is the number, as low:/high: are; a
    string key's choices stay strings."""
    space = "space:\n  optim.lr: {type: categorical, choices: [1e-3, 1e-2]}\n"
    space += "  optim.name: {type: categorical, choices: [sgd, adam]}\n"
    sweep = load_sweep(sweep_file(tmp_path, space))
    assert sweep.distributions["optim.lr"].choices == (0.001, 0.01)
    assert sweep.distributions["optim.name"].choices == ("sgd", "adam")
    assert sweep.as_file()["space"]["optim.lr"]["choices"] == [0.001, 0.01]


@pytest.mark.parametrize(
    "entry, culprit",
    [("low: 16.5, high: 64", "low: 16.5"), ("low: 16, high: 64, step: 2.5", "step: 2.5")],
)
def test_an_int_entry_takes_whole_numbers(tmp_path, capsys, entry, culprit):
    text = f"space:\n  train.batch_size: {{type: int, {entry}}}\n"
    code, said = cli(capsys, "sweep", sweep_file(tmp_path, text), "--out", tmp_path / "out")
    assert code == 2
    assert f"a type: int entry takes whole numbers, but {culprit} is not one" in one_line(said)
    assert "space.train.batch_size" in said


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A 2-trial sweep with a description and text-read numbers, its report and paper written."""
    tmp = tmp_path_factory.mktemp("searched")
    text = "description: Two learning rates of a tiny MLP.\nspace:\n"
    text += "  optim.lr: {type: categorical, choices: [1e-3, 1e-1]}\n"
    text += "  train.batch_size: {type: int, low: 16, high: 32, step: 16}\n"
    text += "sampler: random\nseed: 0\ntrials: 2\nmetric: val_acc\n"
    with pytest.MonkeyPatch.context() as mp:
        skip_report_figures(mp)  # the report's texts are what is read
        study = vislab.sweep(sweep_file(tmp, text), out=tmp / "sw", report=True, quiet=True)
    paper = vislab.paper(tmp / "sw", out=tmp / "paper", log=None, figures=False)
    return study, tmp / "sw", paper


def test_the_trials_record_the_numbers_they_trained_with(searched):
    study, folder, _ = searched
    with open(folder / "trials.csv") as f:
        lrs = [row["optim.lr"] for row in csv.DictReader(f)]
    assert len(lrs) == 2 and set(lrs) <= {"0.001", "0.1"}
    assert isinstance(study.best_params["optim.lr"], float)


def test_a_sweeps_report_and_paper_say_what_it_searched(searched):
    study, folder, paper = searched
    best = study.best_trial
    page = one_line((folder / "report.html").read_text())
    texts = one_line((paper / "texts.tex").read_text()).replace("\\_", "_")
    for said in (page, texts):
        assert "Two learning rates of a tiny MLP." in said
        assert "sampler random (seed=0)" in said
        assert "2 complete" in said
        assert "optim.lr: one of 0.001, 0.1" in said
        assert "train.batch_size: int from 16 to 32 in steps of 16" in said
        assert f"trial {best.number}," in said
    assert "val_acc</b> (maximize)" in page
    assert "val_acc (maximize)" in texts
    lr = best.params["optim.lr"]
    assert f"with optim.lr = {lr:g}, train.batch_size = {best.params['train.batch_size']}" in texts


def test_the_model_figures_heading_names_what_it_holds():
    def of(*names):
        return model_heading([{"name": "r", "figures": [{"name": n} for n in names]}])

    assert of("gradcam_cnn.png") == "Model figures: Grad-CAM maps"
    assert of("vit_pos_v.png", "vit_attention_v.png", "vit_heads_v.png", "gradcam_v.png") == (
        "Model figures: positional embeddings, attention maps, Grad-CAM maps"
    )
    assert of("boundary_mlp.png") == "Model figures: decision boundaries"
