"""A key set twice is refused, never silently resolved: `--epochs 1 --set train.epochs=3` trained 1 epoch in
`vislab train` (the flag won) and 3 in a sweep (the --set won); `vislab.sweep` takes ``section__key=``
settings as `vislab.train` and `vislab.run_suite` do."""

import pytest
import yaml

import vislab
from conftest import cli, one_line

SPEC = {
    "name": "tiny",
    "base": {
        "data": {"name": "digits", "limit": 400},
        "model": {"name": "mlp", "hidden": [8]},
        "train": {"epochs": 2, "batch_size": 64, "device": "cpu", "figures": False},
    },
    "space": {"optim.lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}},
    "sampler": "random",
    "seed": 0,
}


@pytest.fixture
def sweep_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(SPEC))
    return path


@pytest.mark.parametrize(
    "command, flag, given",
    [
        (["train", "-q", "--set", "data.name=digits"], "--epochs 1", "train.epochs=3"),
        (["suite", "quickstart", "-q"], "--epochs 1", "train.epochs=3"),
        (["suite", "quickstart", "-q"], "--data digits", "data.name=circles"),
        (["sweep", "SWEEP", "--trials", "1"], "--epochs 1", "train.epochs=3"),
        (["sweep", "SWEEP", "--trials", "1"], "--data digits", "data.name=circles"),
    ],
)
def test_a_flag_and_a_set_of_one_key_are_refused_before_anything_trains(
    command, flag, given, tmp_path, capsys, sweep_file
):
    out = tmp_path / "out"
    args = [sweep_file if a == "SWEEP" else a for a in command]
    code, text = cli(capsys, *args, *flag.split(), "--set", given, "--out", out)
    key = given.split("=")[0]
    assert code == 2, text
    assert f"{flag} and --set {given} both set {key}: give one of them." in one_line(text)
    assert not out.exists()


def test_sweep_takes_section_key_settings_and_refuses_a_key_twice(tmp_path):
    study = vislab.sweep(SPEC, out=tmp_path / "sw", trials=1, epochs=1, data__limit=120, quiet=True)
    assert study.trials[0].state.name == "COMPLETE"
    run = vislab.load_run(tmp_path / "sw" / "trials" / "0")
    assert run.config.data.limit == 120 and run.summary["epochs_run"] == 1
    with pytest.raises(vislab.UserError, match="epochs=1 and train.epochs=2 both set train.epochs"):
        vislab.sweep(SPEC, out=tmp_path / "sw2", trials=1, epochs=1, train__epochs=2, quiet=True)
    with pytest.raises(vislab.UserError, match="sweep got width=3, which is no argument of it"):
        vislab.sweep(SPEC, out=tmp_path / "sw3", trials=1, width=3, quiet=True)


def test_a_flag_and_a_set_that_agree_are_taken(tmp_path, capsys):
    sets = ["data.name=digits", "data.limit=100", "model.name=mlp", "train.figures=false"]
    args = [a for s in sets for a in ("--set", s)]
    code, text = cli(capsys, "train", "-q", *args, "--epochs", "1", "--set", "train.epochs=1",
                     "--out", tmp_path / "r")  # fmt: skip
    assert code == 0, text
    assert vislab.load_run(tmp_path / "r").summary["epochs_run"] == 1
