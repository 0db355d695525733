"""train.seed outside 0 … 2**31 - 1 is an invalid config (exit 2, the range named), not numpy's traceback
from deep in the split; the largest seed trains."""

import pytest

import vislab
from conftest import TINY_DIGITS, cli, one_line, tiny_sets
from vislab.errors import ConfigError


@pytest.mark.parametrize("seed", ["-5", "2147483648", "4294967296"])
def test_a_seed_out_of_range_is_an_invalid_config(capsys, tmp_path, seed):
    code, out = cli(capsys, "train", "--out", tmp_path / "r", *tiny_sets(f"train.seed={seed}"))
    said = one_line(out)
    assert code == 2 and "Traceback" not in out, out
    assert "config value 'train.seed'" in said and "is invalid" in said, out
    with pytest.raises(ConfigError, match="train.seed"):
        vislab.train(out=tmp_path / "api", **(TINY_DIGITS | {"train__seed": int(seed)}))


def test_the_largest_seed_trains(tmp_path):
    run = vislab.train(out=tmp_path / "r", **(TINY_DIGITS | {"train__seed": 2**31 - 1}))
    assert run.summary["status"] == "complete"
