"""A read-only ``file:`` SQLite URL is shown as typed (a trial the study database failed in is listed
interrupted: test_e43_sweeps); a NaN training loss says what is known of its cause;
``vislab predict`` of dark 16-bit PNGs says so once."""

import sqlite3

import pytest
import yaml

from conftest import cli, one_line, tiny_sets, tiny_sweep
from vislab.experiments.sweeps.study import open_storage


def _write(path, spec: dict):
    path.write_text(yaml.safe_dump(spec))
    return path


def test_a_read_only_file_url_is_shown_as_typed(tmp_path, capsys, monkeypatch):
    """``sqlite:///file:PATH?mode=ro&uri=true`` refused for writes is named as typed, not URL-encoded."""
    path = _write(tmp_path / "s.yaml", tiny_sweep(name="ro"))
    db = tmp_path / "ro.db"
    open_storage(f"sqlite:///{db}").engine.dispose()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
    url = f"sqlite:///file:{db}?mode=ro&uri=true"
    code, text = cli(capsys, "sweep", path, "--out", tmp_path / "sw", "--storage", url)
    said = one_line(text)
    assert code == 2 and f"'{url}'" in said and "%3A" not in said, said


def test_features_past_float32_are_refused_when_given_not_blamed_on_the_lr(tmp_path):
    """float64 features past float32's range (finite as given, inf as vislab stores them) are refused
    when the data are given, naming the first such sample, before any training: they made the loss NaN
    and the message said "Lower optim.lr"."""
    import numpy as np

    import vislab
    from vislab.errors import DataError

    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4))
    y = (x[:, 0] > 0).astype(int)
    x[5::4, 2] = 1e39
    with pytest.raises(DataError) as e:
        vislab.train(data=(x, y), model="mlp", model__hidden=[8], train__epochs=1,
                     out=tmp_path / "r", quiet=True)  # fmt: skip
    said = one_line(str(e.value))
    assert "past float32's range" in said and "first in sample 5" in said, said
    assert not (tmp_path / "r").exists()


# a model of the user's whose forward gives NaN for some inputs once it has been evaluated (after epoch 1):
# its weights stay finite, the lr is not the cause
NAN_NET = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.fc = nn.Linear(int(torch.tensor(input_shape).prod()), num_classes)
        self.register_buffer("armed", torch.zeros(()))
        self.register_buffer("steps", torch.zeros(()))

    def forward(self, x):
        if self.training:
            self.steps += 1
        elif self.steps > 0:
            self.armed.fill_(1.0)
        x = x.flatten(1)
        out = self.fc(x)
        bad = (self.armed > 0) & (x.sum(1, keepdim=True) > 0)
        return torch.where(bad, torch.full_like(out, float("nan")), out)
"""


def test_a_users_model_giving_nan_for_some_inputs_is_named_not_the_lr(
    tmp_path, capsys, monkeypatch
):
    """The loss turns NaN in epoch 2 because the user's model gives NaN for some inputs: with the last good
    checkpoint's weights it already does, so the message says so (how many samples) and that lowering
    the lr will not help; no advice to rerun with a lower lr."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text(NAN_NET)
    run = tmp_path / "run"
    sets = tiny_sets("train.epochs=3", "model.name=net.py:Net", drop="model.hidden=[32]")
    code, out = cli(capsys, "train", *sets, "--out", run, "-q")
    said = one_line(out)
    assert code == 2 and "became NaN/inf in epoch 2" in said, out
    assert "model 'net.py:Net' already maps" in said and "lowering optim.lr will not help" in said
    assert "Lower optim.lr" not in said and "--init-from" not in said, said
    assert f"last good checkpoint: {run / 'checkpoints' / 'last.pt'} (after epoch 1)" in said, said


def test_predict_of_dark_16_bit_pngs_says_so_once(capsys, tmp_path):
    """`vislab predict RUN FOLDER` of 16-bit PNGs holding 12-bit values (near-black as decoded) gives one
    note for the call, as an image folder gives for training; full-range ones are not counted dark."""
    import numpy as np
    from PIL import Image

    from conftest import tiny_config
    from fixtures import write_image_folder
    from vislab.training.trainer import train

    root, run = tmp_path / "images", tmp_path / "run"
    write_image_folder(root, classes=("cat", "dog"), per_class=6)
    sets = ["data.name=folder", f"data.root={root}", "data.image_size=8", "train.epochs=1"]
    train(tiny_config(*sets, "train.batch_size=4", "train.figures=false"), run, quiet=True)
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i, top in enumerate((4095, 4095, 1000, 65535)):
        values = rng.integers(0, top + 1, (8, 8)).astype(np.uint16)
        values[0, 0] = top
        Image.fromarray(values).save(photos / f"{i}.png")
    code, text = cli(capsys, "predict", run, photos)
    said = one_line(text)
    assert code == 0, text
    assert said.count("use only values up to") == 1, said  # once for the call, not per file
    assert "3 of the 4 16-bit images given use only values up to 4095 of 65535" in said, said
