"""What the docs promise, checked by a reader following them (E50): a data.root the run's data source never
reads (digits, circles, arrays from Python) is noted at training and refused by eval (it scored the run's
own test set and named the files as other data's); the sample W&B sweep's adam-or-adamw choice is one."""

from pathlib import Path

import pytest

import vislab
from conftest import cli, one_line, tiny_config
from vislab.config import build_config
from vislab.config.notes import config_notes
from vislab.errors import UserError
from vislab.experiments.sweeps.spec import base_tree, load_sweep
from vislab.training.trainer import train

REPO = Path(__file__).resolve().parents[1]


def test_a_data_root_digits_never_read_is_noted_at_training():
    said = one_line(" ".join(config_notes(tiny_config("data.root=/nonexist"))))
    assert "data.root=/nonexist does nothing with data.name=digits" in said, said
    assert "come with scikit-learn" in said, said
    assert not [n for n in config_notes(tiny_config()) if "data.root" in n]


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("e50") / "run"
    train(tiny_config("train.epochs=1"), run, quiet=True)
    return run


def test_eval_refuses_a_data_root_its_data_source_never_reads(digits_run, capsys):
    code, said = cli(capsys, "eval", digits_run, "--set", "data.root=/nonexist")
    said = one_line(said)
    assert code == 2 and "'data.root=/nonexist' changes nothing here" in said, said
    assert "--set data.name=folder --set data.root=DIR" in said, said
    assert not list(digits_run.glob("**/*nonexist*"))  # no file named as other data's
    with pytest.raises(UserError, match="changes nothing here"):
        vislab.load_run(digits_run).evaluate(data__root="data/other")


def test_the_sample_wandb_sweeps_adam_and_adamw_differ():
    sweep = load_sweep(REPO / "examples" / "wandb-sweep.yaml")
    for name in ("adam", "adamw"):
        cfg = build_config(base_tree(sweep.base, [f"optim.name={name}"], "test"))
        assert not [n for n in config_notes(cfg) if "is Adam" in n], name
