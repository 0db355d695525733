"""Weights & Biases sweep files run as they are through Optuna (`vislab sweep FILE`): the same parameter
space, W&B's methods and early termination as Optuna's samplers and pruner, the DLVC students' files."""

import json
import math

import optuna
import pytest
import torch
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from vislab.cli import main
from vislab.config import build_config
from vislab.errors import ConfigError
from vislab.experiments.sweeps import samplers
from vislab.experiments.sweeps import space as sp
from vislab.experiments.sweeps.spec import base_tree, load_sweep
from vislab.experiments.sweeps.study import load_existing_study
from vislab.models import build_model

# A W&B sweep file as W&B's documentation writes them: constants (value:), a nested parameters: block, names
# that are vislab config keys, names W&B users write (lr, batch_size, momentum), inferred distributions.
WANDB_SWEEP = """
program: train.py
name: wb-{method}
description: a W&B sweep, as it is
method: {method}
metric:
  name: val_acc
  goal: maximize
run_cap: 2
early_terminate:
  type: hyperband
  max_iter: 2
  s: 1
  eta: 2
parameters:
  data.name: {{value: digits}}
  data.limit: {{value: 300}}
  train:
    parameters:
      epochs: {{value: 2}}
      device: {{value: cpu}}
  model.name: {{value: mlp}}
  batch_size: {{values: [16, 32]}}
  model.hidden: {{values: [[8], [16, 8]]}}
  model.dropout: {{distribution: q_uniform, min: 0.0, max: 0.5, q: 0.25}}
  train.seed: {{min: 0, max: 3}}
{continuous}
"""
CONTINUOUS = """
  lr: {distribution: log_uniform_values, min: 0.001, max: 0.1}
  momentum: {min: 0.0, max: 0.9}
"""
FINITE = """
  lr: {values: [0.01, 0.1]}
"""
SPACE = {
    "train.batch_size": CategoricalDistribution([16, 32]),
    "model.hidden": CategoricalDistribution(["[8]", "[16, 8]"]),  # lists travel as JSON text
    "model.dropout": FloatDistribution(0.0, 0.5, step=0.25),
    "train.seed": IntDistribution(0, 3),
}
SPACE_CONTINUOUS = {
    **SPACE,
    "optim.lr": FloatDistribution(0.001, 0.1, log=True),
    "optim.momentum": FloatDistribution(0.0, 0.9),
}
SPACE_FINITE = {**SPACE, "optim.lr": CategoricalDistribution([0.01, 0.1])}
# trials skip their own figures/ (most of a tiny trial's time): nothing here looks at them
NO_FIGURES = ["--set", "train.figures=false"]


def write(tmp_path, text: str, name: str = "wandb.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "method, sampler",
    [
        ("grid", optuna.samplers.GridSampler),
        ("random", optuna.samplers.RandomSampler),
        ("bayes", optuna.samplers.TPESampler),
    ],
)
def test_a_wandb_sweep_runs_through_optuna_with_the_same_space(tmp_path, capsys, method, sampler):
    grid = method == "grid"  # W&B's grid needs a finite space too
    text = WANDB_SWEEP.format(method=method, continuous=FINITE if grid else CONTINUOUS)
    spec = load_sweep(write(tmp_path, text))
    expected = SPACE_FINITE if grid else SPACE_CONTINUOUS
    assert spec.distributions == expected
    assert isinstance(samplers.build_sampler(spec, 0), sampler)
    # early_terminate hyperband, max_iter 2, s 1, eta 2 → brackets from 2 / 2^1 = 1 epoch to 2, halving
    pruner = samplers.build_pruner(spec)
    assert isinstance(pruner, optuna.pruners.HyperbandPruner)
    assert (pruner._min_resource, pruner._max_resource, pruner._reduction_factor) == (1, 2, 2)
    assert spec.base == {
        "data": {"name": "digits", "limit": 300},
        "train": {"epochs": 2, "device": "cpu"},
        "model": {"name": "mlp"},
    }
    out = tmp_path / "sw"
    args = ["sweep", str(tmp_path / "wandb.yaml"), "--out", str(out), "--no-report", *NO_FIGURES]
    assert main(args) == 0
    assert "note: 'program:' is W&B's; vislab trains each trial itself" in capsys.readouterr().err
    study = load_existing_study(f"sqlite:///{out / 'study.db'}", f"wb-{method}")
    finished = study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED))
    assert len(finished) == 2 == len(study.trials)  # run_cap: 2
    for t in finished:  # the distributions Optuna got: the file's
        assert t.distributions == expected
        summary = json.loads((out / "trials" / str(t.number) / "summary.json").read_text())
        assert summary["status"] in ("complete", "pruned")
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    # what vislab ran, as a vislab sweep file: the same space again
    assert load_sweep(out / "sweep.yaml").distributions == expected


# The DLVC assignment 1 students swept with W&B: the CNN's batch size, dropout, per-layer widths and the
# augmentation probability; the ViT's 13 parameters, under the names of their code.
DLVC_CNN = """
method: random
metric: {name: Validation Accuracy, goal: maximize}
parameters:
  batch_size: {values: [128, 256, 512]}
  dropout_rate: {values: [0, 0.3, 0.5, 0.7]}
  conv_layer_1_dim: {values: [16, 32]}
  conv_layer_2_dim: {values: [32, 64]}
  conv_layer_3_dim: {values: [64, 128]}
  mlp_layer_1_dim: {values: [128, 256]}
  mlp_layer_2_dim: {values: [62, 128]}
  augmentation_ratio: {distribution: uniform, min: 0, max: 1}
"""
DLVC_VIT = """
method: random
metric: {name: Validation Accuracy, goal: maximize}
parameters:
  optimizer: {values: [AdamW, Adam]}
  scheduler: {value: ExponentialLR}
  lr: {distribution: log_uniform_values, min: 0.0001, max: 0.01}
  gamma: {distribution: uniform, min: 0.8, max: 1.0}
  patch_size: {values: [2, 4, 8]}
  embed_dim: {values: [16, 32, 64]}
  num_encoder_layers: {values: [1, 2, 4]}
  hidden_layer_depth: {values: [64, 256, 1024]}
  head_dim: {values: [8, 16]}
  num_heads: {values: [2, 4, 20]}
  dropout: {values: [0, 0.25, 0.5]}
  mlp_head_hidden_layers_depth: {values: [64, 1024]}
  batch_size: {values: [128, 256]}
  weight_decay: {values: [0, 0.0001, 0.1]}
"""


@pytest.mark.parametrize(
    "text, sets, keys",
    [
        (
            DLVC_CNN,
            ["model.preset=deep-bn", "model.convs_per_stage=1"],
            {"train.batch_size", "model.dropout", "augment.p"}
            | {"model.widths.0", "model.widths.1", "model.widths.2", "model.fc.0", "model.fc.1"},
        ),
        (
            DLVC_VIT,
            ["model.name=vit"],
            {"optim.name", "optim.lr", "schedule.gamma", "model.patch_size", "model.embed_dim"}
            | {"model.depth", "model.mlp_hidden", "model.head_dim", "model.num_heads"}
            | {"model.dropout", "model.head_hidden", "train.batch_size", "optim.weight_decay"},
        ),
    ],
)
def test_the_dlvc_students_sweep_files_run_unchanged(tmp_path, text, sets, keys):
    """Their names map to vislab keys (AdamW → adamw, ExponentialLR → exponential, a head depth → [width],
    per-layer widths → list items); every sampled trial makes a valid config and a model for CIFAR-10."""
    spec = load_sweep(write(tmp_path, text), ["data.name=cifar10", *sets])
    assert set(spec.distributions) == keys
    assert (spec.metric, spec.direction) == ("val_acc", "maximize")
    base = base_tree(spec.base, ["data.name=cifar10", *sets], "test")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        tree = json.loads(json.dumps(base))
        sp.apply_values(tree, sp.suggest(study.ask(), spec.distributions))
        cfg = build_config(tree)
        model = build_model(cfg.model.name, (3, 32, 32), 10, **cfg.model.kwargs())
        assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
        if cfg.model.name == "vit":
            assert cfg.optim.name in ("adam", "adamw") and cfg.schedule.name == "exponential"
            assert cfg.model.kwargs()["head_hidden"] in ([64], [1024])
        else:
            assert len(cfg.model.kwargs()["widths"]) == 3 and len(cfg.model.kwargs()["fc"]) == 2


@pytest.mark.slow
def test_a_students_cnn_file_trains_on_digits(tmp_path):
    """The CNN file itself, with --data/--epochs/--set for what W&B's program fixed: one trial completes."""
    out = tmp_path / "sw"
    args = ["sweep", str(write(tmp_path, DLVC_CNN)), "--data", "digits", "--epochs", "1"]
    sets = ["--set", "model.preset=deep-bn", "--set", "model.convs_per_stage=1", *NO_FIGURES]
    assert main([*args, *sets, "--trials", "1", "--out", str(out), "--no-report"]) == 0
    (trial,) = load_existing_study(f"sqlite:///{out / 'study.db'}", "wandb").trials
    assert trial.state == TrialState.COMPLETE
    cfg = yaml.safe_load((out / "trials" / "0" / "config.yaml").read_text())
    assert cfg["model"]["widths"] == [trial.params[f"model.widths.{i}"] for i in range(3)]


def test_names_vislab_cannot_map_are_all_listed_with_the_closest_key(tmp_path, capsys):
    text = DLVC_VIT + "  number_hidden_layers: {values: [1, 2]}\n  embedding_dims: {values: [8]}\n"
    out = tmp_path / "sw"
    assert main(["sweep", str(write(tmp_path, text)), "--out", str(out), "--no-report"]) == 2
    err = capsys.readouterr().err
    assert "2 parameter(s) name no vislab config key" in err and "Traceback" not in err, err
    assert (
        "'number_hidden_layers'" in err
        and "'embedding_dims' — closest vislab key: model.embed_dim" in err
    )
    assert not (out / "trials").exists()


@pytest.mark.parametrize(
    "entry, expected",
    [
        ({"values": ["sgd", "adam"]}, CategoricalDistribution(["sgd", "adam"])),
        ({"min": 1, "max": 5}, IntDistribution(1, 5)),  # W&B infers int_uniform from integer bounds
        ({"min": 0.1, "max": 1}, FloatDistribution(0.1, 1.0)),  # ... and uniform from a float one
        ({"distribution": "int_uniform", "min": 2, "max": 8}, IntDistribution(2, 8)),
        ({"distribution": "uniform", "min": 0, "max": 1}, FloatDistribution(0.0, 1.0)),
        (
            {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.1},
            FloatDistribution(1e-4, 0.1, log=True),
        ),
        (  # log_uniform's bounds are natural logarithms
            {"distribution": "log_uniform", "min": -2, "max": 0},
            FloatDistribution(math.exp(-2), 1.0, log=True),
        ),
        (  # q_uniform: the multiples of q in [min, max]
            {"distribution": "q_uniform", "min": 0.05, "max": 0.3, "q": 0.1},
            FloatDistribution(0.1, 0.3, step=0.1),
        ),
        (
            {"distribution": "q_uniform", "min": 16, "max": 128, "q": 16},
            IntDistribution(16, 128, step=16),
        ),
        (
            {"distribution": "q_log_uniform_values", "min": 1, "max": 64},
            IntDistribution(1, 64, log=True),
        ),
        (
            {
                "distribution": "categorical_w_probabilities",
                "values": [1, 2],
                "probabilities": [0.9, 0.1],
            },
            CategoricalDistribution([1, 2]),
        ),
    ],
)
def test_each_wandb_distribution_becomes_its_optuna_distribution(tmp_path, entry, expected):
    # an option of a timm model: any value makes a config (timm checks its options when it builds)
    parameters = {"model.name": {"value": "timm:resnet18"}, "model.option": entry}
    text = yaml.safe_dump({"method": "random", "parameters": parameters})
    spec = load_sweep(write(tmp_path, text))
    assert spec.distributions == {"model.option": expected}
    assert ("probabilities" in entry) == any("probabilities" in n for n in spec.notes)


@pytest.mark.parametrize(
    "entry, fragment",
    [
        ({"distribution": "normal", "mu": 0, "sigma": 1}, "'normal' has no Optuna equivalent"),
        ({"distribution": "inv_log_uniform_values", "min": 1, "max": 9}, "no Optuna equivalent"),
        ({"distribution": "beta", "a": 2, "b": 2}, "'beta' has no Optuna equivalent"),
        ({"distribution": "q_log_uniform_values", "min": 1, "max": 64, "q": 2}, "step 1"),
        ({"distribution": "uniform", "min": 0}, "needs 'min:' and 'max:'"),
        ({"distribution": "gaussian", "min": 0, "max": 1}, "'distribution'"),
        ({"values": [1], "mni": 0}, "Did you mean 'min'"),
    ],
)
def test_what_optuna_cannot_sample_is_a_clear_error(tmp_path, entry, fragment):
    text = yaml.safe_dump({"method": "random", "parameters": {"dropout": entry}})
    with pytest.raises(ConfigError) as e:
        load_sweep(write(tmp_path, text))
    assert "'dropout'" in str(e.value) and fragment in str(e.value), str(e.value)


def test_the_sweep_level_keys(tmp_path):
    """metric name and goal (W&B's default goal: minimize), run_cap, the keys vislab ignores, W&B's own
    mistakes and what has no vislab equivalent."""
    one = {"lr": {"values": [0.1, 0.01]}}
    spec = load_sweep(
        write(
            tmp_path,
            yaml.safe_dump(
                {
                    "method": "bayes",
                    "metric": {"name": "val/loss", "target": 0.1},
                    "command": ["${env}", "python", "${program}", "${args}"],
                    "entity": "dlvc_group",
                    "parameters": one,
                    "run_cap": 7,
                }
            ),
        )
    )
    assert (spec.metric, spec.direction, spec.trials) == ("val_loss", "minimize", 7)
    assert spec.sampler == "tpe" and spec.pruner == "none"
    notes = " | ".join(spec.notes)
    assert "'command:' is W&B's" in notes and "'entity:'" in notes and "target" in notes
    assert "no 'goal:'" in notes and "minimize" in notes
    mistakes = [
        ({"method": "random", "metric": {"name": "test_acc"}, "parameters": one}, "never on test"),
        ({"method": "random", "paramters": one}, "Did you mean 'parameters'"),
        ({"method": "annealing", "parameters": one}, "'method'"),
        ({"method": "custom", "parameters": one}, "method: custom"),
        ({"method": "random", "parameters": {"lr": {"value": 0.1}}}, "nothing to search"),
    ]
    for tree, fragment in mistakes:
        with pytest.raises(ConfigError) as e:
            load_sweep(write(tmp_path, yaml.safe_dump(tree)))
        assert fragment in str(e.value) and "wandb.yaml" in str(e.value), str(e.value)


@pytest.mark.parametrize(
    "early_terminate, pruner",
    [
        (
            {"type": "hyperband", "min_iter": 3},
            (3, "auto", 3),
        ),  # eta 3 by default; up to the run's end
        ({"type": "hyperband", "min_iter": 2, "eta": 2, "max_iter": 16}, (2, 16, 2)),
        ({"type": "hyperband", "max_iter": 27, "s": 2}, (3, 27, 3)),  # 27 / 3^2
    ],
)
def test_hyperband_becomes_optunas_hyperband_pruner(tmp_path, early_terminate, pruner):
    tree = {
        "method": "random",
        "early_terminate": early_terminate,
        "parameters": {"lr": {"values": [1]}},
    }
    got = samplers.build_pruner(load_sweep(write(tmp_path, yaml.safe_dump(tree))))
    assert isinstance(got, optuna.pruners.HyperbandPruner)
    assert (got._min_resource, got._max_resource, got._reduction_factor) == pruner


def test_hyperband_settings_optuna_cannot_follow_are_refused(tmp_path):
    for et, fragment in (
        ({"type": "hyperband", "min_iter": 1, "eta": 2.5}, "whole reduction factor"),
        ({"type": "hyperband", "eta": 3}, "min_iter:, or max_iter: and s:"),
    ):
        tree = {"method": "random", "early_terminate": et, "parameters": {"lr": {"values": [1]}}}
        with pytest.raises(ConfigError, match=fragment):
            load_sweep(write(tmp_path, yaml.safe_dump(tree)))


def test_a_list_item_needs_the_items_before_it():
    tree = {"model": {"name": "cnn"}}
    sp.apply_values(tree, {"model.widths.1": 64, "model.widths.0": 32})
    assert tree["model"]["widths"] == [32, 64]
    sp.apply_values(tree, {"model.widths.1": 128})  # an item of the list the base holds
    assert tree["model"]["widths"] == [32, 128]
    with pytest.raises(ConfigError, match=r"'model.fc.1' is swept but 'model.fc' has no item 0"):
        sp.apply_values(tree, {"model.fc.1": 64})


def test_the_same_space_as_wandbs_own_optuna_mapping(tmp_path):
    """W&B's SDK maps a sweep's parameters to Optuna distributions too: vislab's agree (on its names)."""
    wandb_optuna = pytest.importorskip("wandb.sdk.sweeps.scheduler.optuna")
    params = yaml.safe_load(WANDB_SWEEP.format(method="random", continuous=CONTINUOUS))[
        "parameters"
    ]
    searched = {k: v for k, v in params.items() if "value" not in v and "parameters" not in v}
    del searched[
        "model.hidden"
    ]  # list choices: W&B's mapping keeps them as lists, vislab as JSON text
    theirs = wandb_optuna.search_space_from_sweep_config(searched)
    ours = load_sweep(write(tmp_path, WANDB_SWEEP.format(method="random", continuous=CONTINUOUS)))
    names = {"lr": "optim.lr", "batch_size": "train.batch_size", "momentum": "optim.momentum"}
    assert len(theirs) == 5
    for name, dist in theirs.items():
        assert ours.distributions[names.get(name, name)] == dist, name


def test_a_grid_over_a_continuous_range_is_refused_in_wandbs_words(tmp_path):
    """method: grid with a uniform parameter: the fix named is W&B's (values:, q_uniform), not vislab's
    spec syntax ("type: categorical with choices, or a step:")."""
    params = {"lr": {"min": 0.001, "max": 0.1}, "dropout": {"values": [0.0, 0.5]}}
    text = yaml.safe_dump({"method": "grid", "parameters": params})
    with pytest.raises(ConfigError) as e:
        load_sweep(write(tmp_path, text))
    said = str(e.value)
    assert (
        "method: grid goes through every value of each parameter, and optim.lr is a continuous"
        in said
    )
    assert (
        "values: [...], or distribution: q_uniform" in said and "type: categorical" not in said
    ), said
