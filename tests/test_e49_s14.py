"""A second look at session 14's fixes (E49): storage URLs never show a password, malformed or in libpq's
query form; `eval --split all` with data.split given says so (not that no train set is loaded); a
data.limit_eval sample smaller than the classes holds as many classes as it has samples."""

import warnings

import numpy as np
import pytest

import vislab
from conftest import cli, one_line, tiny_config
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
