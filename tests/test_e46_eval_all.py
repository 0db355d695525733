"""`vislab eval --split all` of a run trained on a part of its data (data.limit, data.limit_eval): every
sample is scored, not the run's part; a limit given with it is refused; the note on the run's own data
gives the counts the run trained and selected on (from its summary.json), in the command's and Python's
words."""

import shutil
import warnings

import pytest

import vislab
from conftest import cli, one_line, tiny_config
from vislab.errors import Note, UserError
from vislab.predict import score_split
from vislab.training.trainer import train

DIGITS = 1797  # every sample of sklearn's digits


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A tiny MLP trained 1 epoch on 20 digits, its val and test splits limited to 30 each."""
    folder = tmp_path_factory.mktemp("run") / "run"
    cfg = tiny_config(
        "data.limit=20",
        "data.limit_eval=30",
        "train.epochs=1",
        "train.batch_size=5",
        "train.figures=false",
    )
    with warnings.catch_warnings():  # its notes on so small a part: not what is tested here
        warnings.simplefilter("ignore", Note)
        train(cfg, folder, quiet=True)
    return folder


def test_split_all_scores_every_sample_not_the_runs_limited_part(run, capsys):
    with pytest.warns(Note):
        assert vislab.load_run(run).evaluate("all")["n"] == DIGITS
    code, out = cli(capsys, "eval", run, "--split", "all", "--mistakes", "0")
    assert code == 0 and f"n={DIGITS}" in out, out


@pytest.mark.parametrize("setting", ["data.limit=5", "data.limit_eval=5", "data.limit_per_class=2"])
def test_split_all_with_a_limit_given_is_refused_naming_it(run, capsys, setting):
    code, out = cli(capsys, "eval", run, "--split", "all", "--set", setting)
    said = one_line(out)
    assert code != 0 and f"'{setting}'" in said and "--split all scores every sample" in said, out
    assert "--split test --set data.limit_eval=N" in said, out
    key, value = setting.split("=")
    with pytest.raises(UserError, match=key.replace(".", r"\.")):
        vislab.load_run(run).evaluate("all", **{key.replace(".", "__"): int(value)})


def test_own_data_note_gives_the_counts_the_run_trained_and_selected_on(run, capsys):
    code, out = cli(capsys, "eval", run, "--split", "all", "--set", "data.limit=null")
    said = one_line(out)
    assert code == 0 and f"n={DIGITS}" in said, out
    assert "the 20 it trained on (train)" in said, out
    assert "the 30 it picked its best checkpoint by (val)" in said, out
    assert "--split test: the 30 it held out" in said, out


def test_own_data_note_claims_no_counts_without_the_runs_summary(run, tmp_path):
    alone = tmp_path / "best.pt"  # a checkpoint outside its run folder: no summary.json to read
    shutil.copy(run / "checkpoints" / "best.pt", alone)
    with pytest.warns(Note, match="not held-out scores") as told:
        score_split(alone, "all")
    said = one_line(str(told[0].message))
    assert "the samples it trained on (train)" in said and "it held out" in said, said
    assert not any(f"the {n} it" in said for n in (20, 30, DIGITS)), said


def test_own_data_note_gives_the_python_form_too(run):
    with pytest.warns(Note, match="not held-out scores") as told:
        vislab.load_run(run).evaluate("all")
    said = one_line(str(told[0].message))
    assert "--split all --set data.root=OTHER" in said, said
    assert 'evaluate(split="all", data__root=OTHER)' in said, said
