"""A second look at session 14's fixes (E49): storage URLs never show a password, malformed or in libpq's
query form; `eval --split all` with data.split given says so (not that no train set is loaded); a
data.limit_eval sample smaller than the classes holds as many classes as it has samples; a NaN loss
names a user's model that gives NaN in training mode only, and blames the lr (not the forward) for
vislab's own model whose weights blew up."""

import warnings

import numpy as np
import pytest

import vislab
from conftest import cli, one_line, tiny_config, tiny_sets
from vislab.config import build_config
from vislab.data import load_splits
from vislab.errors import Note
from vislab.experiments.databases import public_url
from vislab.training.trainer import train


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://user:s3cret@host:notaport/db", "postgresql://user:***@host:notaport/db"),
        ("postgresql://user:p@ss@host/db", "postgresql://user:***@host/db"),
        ("postgresql://user:a/b@host/db", "postgresql://user:***@host/db"),
        (
            "postgresql:///db?user=u&password=s3cret&host=h",
            "postgresql:///db?user=u&password=***&host=h",
        ),
        (
            "sqlite:///file:/a@b/ro.db?mode=ro&uri=true",
            "sqlite:///file:/a@b/ro.db?mode=ro&uri=true",
        ),
        ("postgresql://user@host/db", "postgresql://user@host/db"),
    ],
)
def test_a_storage_url_is_shown_as_typed_without_its_password(url, shown):
    assert public_url(url) == shown


def test_a_suite_database_url_that_cannot_be_parsed_hides_its_password(capsys, tmp_path):
    url = "postgresql://u:s3cret@localhost:notaport/db"
    code, said = cli(capsys, "suite", "quickstart", "--storage", url, "--out", tmp_path / "s")
    assert code != 0 and "s3cret" not in said and "u:***@localhost:notaport" in said, said


def test_split_all_with_data_split_given_says_it_was_given(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)
        train(tiny_config("data.limit=null", "train.epochs=1"), tmp_path / "run", quiet=True)
    with pytest.warns(Note) as told:
        n = vislab.load_run(tmp_path / "run").evaluate("all", data__split=[1000, 300, 200])["n"]
    said = one_line(" ".join(str(w.message) for w in told))
    assert n == 1500 and "keeps 1500 of the 1797 samples" in said, said
    assert "(given here)" in said and "leave data.split out" in said, said
    assert "no train set to split otherwise" not in said, said


def test_a_limit_eval_below_the_classes_draws_as_many_classes_as_samples():
    cfg = build_config({"data": {"name": "digits", "limit_eval": 5}}).data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        splits = load_splits(cfg, 0)
    assert len(splits.test) == len(splits.val) == 5
    assert len(set(splits.test.y)) == len(set(splits.val.y)) == 5  # was 4 (class 7 twice)
    said = [str(w.message) for w in caught if "limit_eval" in str(w.message)]
    assert said and "--set data.limit_eval=10" in said[0], said
    assert np.isin(splits.test.y, np.arange(10)).all()


# a user's model that gives NaN, for inputs of positive sum, only in training mode and only after the
# first epoch's 9 steps (300 digits at batch 32): eval mode, as the epoch-end scores see it, stays finite
NAN_IN_TRAINING = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, input_shape, num_classes):
        super().__init__()
        self.fc = nn.Linear(int(torch.tensor(input_shape).prod()), num_classes)
        self.register_buffer("steps", torch.zeros(()))

    def forward(self, x):
        x = x.flatten(1)
        out = self.fc(x)
        if not self.training:
            return out
        self.steps += 1
        bad = (self.steps > 9) & (x.sum(1, keepdim=True) > 0)
        return torch.where(bad, torch.full_like(out, float("nan")), out)
"""


def test_a_users_model_giving_nan_only_in_training_mode_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.py").write_text(NAN_IN_TRAINING)
    sets = tiny_sets("train.epochs=3", "model.name=net.py:Net", drop="model.hidden=[32]")
    code, out = cli(capsys, "train", *sets, "--out", tmp_path / "run", "-q")
    said = one_line(out)
    assert code == 2 and "became NaN/inf in epoch 2" in said, said
    assert "model 'net.py:Net' already maps" in said and "in training mode" in said, said
    assert "Lower optim.lr" not in said, said


def test_a_builtin_model_whose_weights_blew_up_is_told_to_lower_the_lr(tmp_path, capsys):
    """vislab's own MLP at lr 1e6: the loss explodes, then turns NaN — the lr, not the forward, is
    blamed, with the advice to start again from the last good weights at a lower lr."""
    sets = tiny_sets("optim.name=sgd", "optim.lr=1e6", "train.epochs=4", "model.hidden=[16]",
                     "data.limit=null", "train.batch_size=64", drop="data.limit=300")  # fmt: skip
    code, out = cli(capsys, "train", *sets, "--out", tmp_path / "run", "-q")
    said = one_line(out)
    assert code == 2 and "became NaN/inf" in said, said
    assert "Lower optim.lr" in said and "already maps" not in said, said
