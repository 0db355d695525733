"""Bad inputs through the real CLI, end to end: unknown or invalid config keys and values, bad models and
datasets, malformed --set and YAML, unreadable images and bad options for ``predict`` / ``eval``. Each gives a
message naming the culprit and an exit code, never a traceback, and leaves no empty run folder behind.
"""

from __future__ import annotations

import json

import pytest
import yaml

import vislab
from conftest import cli, one_line, tiny_base, tiny_sets
from vislab.errors import ConfigError

BAD_TRAIN_INPUTS = [
    # (id, extra CLI args, exit code, fragments of the message)
    (
        "unknown key",
        ["--set", "train.epoch=3"],
        2,
        [
            "unknown config key 'train.epoch'",
            "Did you mean 'train.epochs'",
            "Valid keys here: epochs, batch_size",
        ],
    ),
    (
        "unknown section",
        ["--set", "optimizer.lr=0.1"],
        2,
        ["unknown config key 'optimizer'", "optim"],
    ),
    (
        "wrong value type",
        ["--set", "train.epochs=abc"],
        2,
        ["'train.epochs' = 'abc' is invalid", "valid integer"],
    ),
    (
        "value out of range",
        ["--set", "optim.lr=-1"],
        2,
        ["'optim.lr' = -1 is invalid", "greater than 0"],
    ),
    (
        "bad choice",
        ["--set", "data.normalize=pca"],
        2,
        ["'data.normalize' = 'pca'", "'none', 'standard', 'zca' or 'imagenet'"],
    ),
    (
        "imagenet statistics on 2-D points",
        ["--set", "data.name=circles", "--set", "data.normalize=imagenet"],
        2,
        [
            "data.normalize=imagenet needs RGB or grey images; these samples are 2 float",
            "data.normalize=standard",
        ],
    ),
    (
        "unknown model",
        ["--set", "model.name=resnet9000"],
        2,
        ["unknown model 'resnet9000'", "Available: "],
    ),
    (
        "unknown model option",
        ["--set", "model.hiden=[8]"],
        2,
        ["model 'mlp' has no option 'model.hiden'", "Did you mean 'model.hidden'"],
    ),
    (
        "wrong model option type",
        ["--set", "model.hidden=wide"],
        2,
        ["invalid option for model 'mlp'", "model.hidden"],
    ),
    (
        "dropout out of range",
        ["--set", "model.dropout=2"],
        2,
        ["model.dropout=2 must lie in [0, 1)", "'mlp'"],
    ),
    (
        "cnn kernel size 0",
        ["--set", "model.name=cnn", "--set", "model.kernel_size=0"],
        2,
        ["model.kernel_size=0 must be at least 1", "'cnn'"],
    ),
    (
        "unknown dataset",
        ["--set", "data.name=imagenet"],
        2,
        ["unknown dataset data.name='imagenet'", "digits"],
    ),
    (
        "bad --set syntax",
        ["--set", "optim.lr"],
        2,
        ["override 'optim.lr' is not of the form key.sub=value (e.g. --set optim.lr=0.01"],
    ),
    (
        "empty key part",
        ["--set", "train..epochs=3"],
        2,
        ["config key 'train..epochs' has an empty part"],
    ),
    (
        "missing config file",
        ["--config", "no-such-config.yaml"],
        2,
        ["Config file 'no-such-config.yaml' does not exist", "fast"],
    ),
    (
        "image too small for the cnn",
        ["--set", "model.name=cnn", "--set", "model.widths=[8,8,8,8]"],
        2,
        ["too small"],
    ),
    (
        "batch larger than the data",
        ["--set", "train.batch_size=100000"],
        2,
        ["train.batch_size=100000 is larger than"],
    ),
    ("rich markup in a value", ["--set", "model.name=x[/a]"], 2, ["unknown model 'x[/a]'"]),
    (
        "NaN loss",
        ["--set", "optim.name=sgd", "--set", "optim.lr=1e12"],
        2,
        [
            "training loss became NaN/inf in epoch 1",
            "Lower optim.lr",
            "none (it diverged in the first epoch)",
        ],
    ),
]


@pytest.mark.parametrize(
    "name, args, exit_code, fragments", BAD_TRAIN_INPUTS, ids=[c[0] for c in BAD_TRAIN_INPUTS]
)
def test_bad_train_inputs_through_the_cli(capsys, tmp_path, name, args, exit_code, fragments):
    run = tmp_path / "run"
    # (an mlp option)
    base = tiny_sets(drop="model.hidden=[32]" if "model.name=cnn" in args else None)
    code, out = cli(capsys, "train", *base, *args, "--out", run, "-q")
    assert code == exit_code, out
    for f in fragments:
        assert f in one_line(out), (f, out)
    assert not (run / ".lock").exists()
    if name == "NaN loss":
        assert json.loads((run / "summary.json").read_text())["status"] == "diverged"
    elif name != "batch larger than the data":
        assert not run.exists()  # failed before writing anything: no empty run folder left behind


def test_failed_start_keeps_a_folder_the_user_made(capsys, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    code, _ = cli(capsys, "train", *tiny_sets(), "--set", "model.dropout=2", "--out", mine, "-q")
    assert code == 2 and mine.is_dir()


def test_bad_yaml_config_file(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [digits\nmodel: {name: mlp}\n")
    code, out = cli(capsys, "train", "--config", bad, "--out", tmp_path / "run", "-q")
    assert code == 2 and f"Config file '{bad}' is not valid YAML" in one_line(out), out


def test_predict_and_eval_bad_inputs(capsys, tmp_path, trained, digit_png):
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    fake = tmp_path / "fake.png"
    fake.write_bytes(digit_png.read_bytes()[:40])  # a truncated PNG
    odd = tmp_path / "photo[red].png"  # rich markup in a file name
    odd.write_bytes(digit_png.read_bytes())
    code, out = cli(
        capsys, "predict", trained, digit_png, notes, tmp_path / "missing.png", fake, odd, "-k", "2"
    )
    assert code == 2, out
    lines = out.strip().splitlines()
    assert len(lines) == 6 and "weights: best.pt, epoch 1" in lines, out  # 5 images, the weights
    assert any(line.startswith(f"{digit_png}: ") and "error" not in line for line in lines), out
    # predicted, name intact
    assert any(line.startswith(f"{odd}: ") and "error" not in line for line in lines), out
    assert any(
        f"{notes}: error:" in line and "is not a readable image" in line for line in lines
    ), out
    assert any("missing.png: error:" in line and "does not exist" in line for line in lines), out
    assert any(f"{fake}: error:" in line and "not a readable image" in line for line in lines), out
    code, out = cli(capsys, "eval", trained, "--split", "validation")
    assert code == 2 and "split must be train, val or test, not 'validation'" in out


def test_a_batch_larger_than_the_train_split_names_each_process_share(capsys):
    """One process: the split's size; under --nproc N (here a stand-in for rank 0 of 2): each process's
    share, and that train.batch_size is per process (it said the whole split 'per process')."""
    from types import SimpleNamespace

    import torch

    from conftest import tiny_config
    from vislab.errors import UserError
    from vislab.training import parts as setup
    from vislab.training.runtime import Distributed

    code, text = cli(capsys, "train", *tiny_sets("train.batch_size=1000"))
    assert code == 2 and "train.batch_size=1000 is larger than the train split" in one_line(text)
    cfg = tiny_config("train.batch_size=200")  # 300 training samples: 150 in each share of 2
    data, network = setup.build_parts(cfg, torch.device("cpu"), Distributed())
    two = SimpleNamespace(rank=0, world=2)
    with pytest.raises(UserError, match=r"\(150 samples in each of its 2 processes' shares; "):
        setup._build_loaders(cfg, data.splits, data.spec, data.train.device, two, network)


@pytest.mark.parametrize(
    ("argv", "fix"),
    [
        (["report", "RUN"], "copy the folder somewhere writable and run the command on the copy"),
        (["eval", "RUN"], "choose another --out"),
    ],
)
def test_an_unwritable_folder_is_named_with_a_fix_the_command_has(
    capsys, monkeypatch, tmp_path, argv, fix
):
    """`vislab report` has no --out: its message must not offer one; an atomic write's temporary file
    is named as the folder it was written into."""
    import errno

    import vislab.predict as predict
    import vislab.report.build as build

    def refused(*args, **kwargs):
        raise PermissionError(
            errno.EACCES, "Permission denied", str(tmp_path / "figures" / ".tmp-1-ab.png")
        )

    monkeypatch.setattr(build, "build_report", refused)
    monkeypatch.setattr(predict, "evaluate_checkpoint", refused)
    code, text = cli(capsys, *[a.replace("RUN", str(tmp_path)) for a in argv])
    assert code == 2 and fix in one_line(text)  # a path the user chose, as paper's --out
    assert f"cannot write '{tmp_path / 'figures'}/'" in one_line(text) and ".tmp-" not in text


@pytest.mark.parametrize(
    "argv",
    [
        ["figure", "pos-embed", "--length", "8", "--dim", "4"],
        ["data", "preview", "digits"],
        ["lr-find", "--set", "data.name=digits", "--set", "model.name=mlp", "--steps", "10"],
    ],
)
def test_a_figure_out_under_a_file_is_refused_before_any_work(capsys, tmp_path, argv):
    """--out a-file/x.png: a file where a folder should be made — exit 2 naming it, before lr-find runs
    its steps (it raised FileExistsError with a traceback after them)."""
    (tmp_path / "a-file").write_text("x")
    code, out = cli(capsys, *argv, "--out", tmp_path / "a-file" / "x.png")
    assert code == 2 and f"'{tmp_path / 'a-file'}' is a file, not a folder" in one_line(out), out
    assert "LR range test" not in out


@pytest.mark.parametrize("nproc", [[], ["--nproc", "2"]])
def test_a_model_option_typo_in_a_config_file_names_the_file_before_anything_is_made(
    capsys, tmp_path, nproc
):
    """`vislab train --config my.yaml` (one process, or --nproc: checked once, before the ranks start)
    with a misspelt model option: the message names the file, as a suite's or sweep's does."""
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(tiny_base(model__hiden=[16])))
    out = tmp_path / "run"
    code, text = cli(capsys, "train", "--config", path, "--out", out, *nproc)
    said = one_line(text)
    assert code == 2, text
    assert f"Invalid config ({path}): model 'mlp' has no option 'model.hiden'" in said, said
    assert "Did you mean 'model.hidden'?" in said and not out.exists()
    code, text = cli(capsys, "train", "--config", path, "--set", "model.hidden=[8]", "--out", out)
    assert code == 2 and f"Invalid config ({path} + --set)" in one_line(text), text


def test_an_unknown_model_in_a_config_file_names_the_file_from_the_command_and_python(
    capsys, tmp_path
):
    """`model.name: mlpp` in my.yaml, or a misspelt option of it given to vislab.train(config=...): the
    error names the file, as its other config errors do."""
    path = tmp_path / "my.yaml"
    path.write_text(yaml.safe_dump(tiny_base(model__name="mlpp")))
    code, text = cli(capsys, "train", "--config", path, "--out", tmp_path / "run")
    said = one_line(text)
    assert code == 2 and f"Invalid config ({path}): unknown model 'mlpp'" in said, said
    path.write_text(yaml.safe_dump(tiny_base(model__hiden=[8])))
    with pytest.raises(
        ConfigError, match=r"my\.yaml \+ vislab\.train arguments\):\s+model 'mlp' has no"
    ):
        vislab.train(config=path, out=tmp_path / "run2")
    assert not (tmp_path / "run2").exists()
