"""FO1's patch (outside its area): `vislab compare` of a --narrow sweep lists its narrowed stage's trials,
and the paper's "Set per run" names every setting the table gives per run (a sweep's model.dropout)."""

import vislab
from conftest import tiny_base
from vislab.config import build_config
from vislab.experiments.results.folders import runs_of
from vislab.experiments.results.provenance import recipe_sentence
from vislab.training.summary import RunSummary

LR = {"optim.lr": {"type": "float", "low": 0.01, "high": 0.1, "log": True}}


def test_the_runs_of_a_narrowed_sweep_include_its_narrow_stage(tmp_path):
    spec = {"base": tiny_base(train__threads=1), "space": LR, "sampler": "random", "seed": 0}
    out = tmp_path / "sw"
    vislab.sweep(spec, out=out, trials=2, narrow=1, narrow_trials=1, quiet=True)
    runs = runs_of(out)
    assert {"trial-0", "trial-1", "narrow/trial-0"} <= set(runs), runs
    assert runs["narrow/trial-0"] == out / "narrow" / "trials" / "0"


def test_set_per_run_names_a_swept_model_option_but_not_the_options_of_other_models():
    def config(**changes):
        return build_config(tiny_base(**changes), source="test")

    summaries = {"a": RunSummary(), "b": RunSummary()}
    same_model = {"a": config(model__dropout=0.1), "b": config(model__dropout=0.4, optim__lr=0.1)}
    said = recipe_sentence(same_model, summaries)
    assert (
        "Set per run (the table's settings give each run's): learning rate, model.dropout." in said
    )
    other_models = {"a": config(), "b": config(model={"name": "cnn", "widths": [4]}, optim__lr=0.1)}
    said = recipe_sentence(other_models, summaries)
    assert said.endswith("Set per run (the table's settings give each run's): learning rate."), said
