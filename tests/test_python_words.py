"""The Python API's messages in Python's words too: an error a script meets names the argument to change
beside the command's flag (``--out (Python: out=)``); ``vislab.load_config`` takes settings as
``vislab.train`` does; a run's notes reach a script as ``Note`` warnings; ``vislab.Config`` documents
itself."""

import inspect
import pydoc
import warnings
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import cli, one_line, tiny_base
from vislab.errors import ConfigError, Note, TrainingInterrupted, UserError
from vislab.experiments.suites.ending import raise_unfinished
from vislab.experiments.suites.spec import load_suite

TINY = tiny_base()
FITTED = {**TINY, "model": {"name": "majority"}}  # fitted at once: no epochs to wait for


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return vislab.train(TINY, out=tmp_path_factory.mktemp("words") / "mlp")


def raised(call, kind=UserError) -> str:
    with pytest.raises(kind) as e:
        call()
    return one_line(str(e.value))


# ------------------------------------------------------------------------------------------- export
def test_export_of_an_unknown_format_names_the_python_argument(run):
    msg = raised(lambda: run.export("onxx"))
    assert "'onxx' is not an export format: use onnx or torchscript (--format; Python: fmt=)" in msg


def test_export_over_a_file_names_force_true_and_out(run, tmp_path):
    taken = tmp_path / "model.pt"
    taken.write_text("mine")
    msg = raised(lambda: run.export("torchscript", out=taken))
    assert "already exists" in msg and "(Python: force=True, or another out=)" in msg
    assert taken.read_text() == "mine"


# ------------------------------------------------------------------------------------------- eval
def test_evaluate_with_a_data_key_left_without_its_section_names_it_with_its_section(run):
    msg = raised(lambda: run.evaluate(limit_eval=30))
    assert "'limit_eval=30' is no config key" in msg and "data__limit_eval=30" in msg
    assert "whose options cannot change" not in msg
    assert run.evaluate(data__limit_eval=30)["n"] == 30


def test_eval_command_says_the_same_with_its_own_key(run, capsys):
    code, text = cli(capsys, "eval", run.path, "--set", "limit_eval=30")
    assert code == 2 and "data.limit_eval=30 (Python: data__limit_eval=30)" in one_line(text)


# ------------------------------------------------------------------------------------ load_config
def test_load_config_takes_a_mapping_and_section_key_keywords_as_train_does(tmp_path):
    assert vislab.load_config(overrides={"optim.lr": 0.1}).optim.lr == 0.1
    cfg = vislab.load_config(optim__lr=0.2, train__epochs=3, model__name="cnn")
    assert (cfg.optim.lr, cfg.train.epochs, cfg.model.name) == (0.2, 3, "cnn")
    cfg = vislab.load_config(base=TINY, overrides=["optim.lr=0.3"], augment__hflip__p=0.5)
    assert (cfg.optim.lr, cfg.augment.hflip.p, cfg.data.limit) == (0.3, 0.5, 200)
    file = tmp_path / "c.yaml"  # the command's --set strings read as before
    file.write_text(yaml.safe_dump(TINY))
    assert vislab.load_config(file, ["optim.lr=1e-2"]).optim.lr == 0.01
    msg = raised(lambda: vislab.load_config(file, ["optim.lrr=1"]), ConfigError)
    assert f"Invalid config ({file} + --set)" in msg


def test_load_config_refuses_a_key_without_section_a_key_given_twice_and_names_its_arguments():
    assert "'lr=0.1' is no config key" in raised(lambda: vislab.load_config(lr=0.1), ConfigError)
    twice = raised(lambda: vislab.load_config(overrides=["optim.lr=1"], optim__lr=2), ConfigError)
    assert "optim.lr is given twice" in twice
    misspelt = raised(lambda: vislab.load_config(optim__lrr=1), ConfigError)
    assert "(vislab.load_config arguments)" in misspelt and "Did you mean 'optim.lr'" in misspelt


# ------------------------------------------------------------------------------------------ notes
def test_a_runs_notes_reach_a_script_as_note_warnings_quiet_or_not(tmp_path, capsys):
    for quiet in (True, False):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            vislab.train(TINY, out=tmp_path / str(quiet), schedule__gamma=0.5, quiet=quiet)
        notes = [str(w.message) for w in caught if issubclass(w.category, Note)]
        gamma = [n for n in notes if n.startswith("schedule.gamma=0.5 does nothing")]
        assert len(gamma) == 1, notes
        assert "note: schedule.gamma" not in capsys.readouterr().err  # the warning, not a line too
    # the command shows it once, as its note: line
    given = ("model.name=mlp", "model.hidden=[16]", "data.limit=200", "train.figures=false")
    sets = [a for k in (*given, "schedule.gamma=0.5") for a in ("--set", k)]
    code, text = cli(capsys, "train", "--out", tmp_path / "cli", "--epochs", "1", *sets)
    assert code == 0, text
    assert [line for line in text.splitlines() if "schedule.gamma=0.5 does nothing" in line] == [
        "note: schedule.gamma=0.5 does nothing with schedule.name=none: only the exponential and "
        "step schedules read it."
    ]


# ----------------------------------------------------------------------------------------- suites
def write_suite(path: Path, runs: dict) -> Path:
    path.write_text(yaml.safe_dump({"description": "words", "base": FITTED, "runs": runs}))
    return path


def test_run_suite_with_another_setting_names_the_python_arguments(tmp_path):
    spec = write_suite(tmp_path / "s.yaml", {"base": {}})
    vislab.run_suite(spec, out=tmp_path / "out", quiet=True, data__limit=150)
    msg = raised(lambda: vislab.run_suite(spec, out=tmp_path / "out", quiet=True))
    assert "(suite.json: --set data.limit=150; Python: overrides=['data.limit=150'])" in msg
    assert "another --out (Python: out=)" in msg


def test_an_interrupted_suite_says_how_to_go_on_in_python_too(tmp_path):
    suite = load_suite(write_suite(tmp_path / "s.yaml", {"base": {}}))
    msg = raised(
        lambda: raise_unfinished(suite, tmp_path, {}, "base: interrupted"), TrainingInterrupted
    )
    assert "Re-run the same `vislab suite` command (Python: the same vislab.run_suite call)" in msg


# ----------------------------------------------------------------------------------------- sweeps
SWEEP = {
    "name": "words",
    "base": FITTED,
    "space": {"data.limit": {"type": "int", "low": 50, "high": 200}},
    "sampler": "random",
}


def test_a_sweep_mapping_with_a_mistake_is_named_as_such_and_writes_nothing(tmp_path):
    bad = {**SWEEP, "space": {"data.limit": {"type": "integer"}}}
    msg = raised(lambda: vislab.sweep(bad, out=tmp_path / "new", trials=1), ConfigError)
    assert "Invalid sweep (the sweep given to vislab.sweep)" in msg and "spec.yaml" not in msg
    assert not (tmp_path / "new").exists()
    vislab.sweep(SWEEP, out=tmp_path / "sw", trials=1, quiet=True)
    before = (tmp_path / "sw" / "spec.yaml").read_text()
    raised(lambda: vislab.sweep(bad, out=tmp_path / "sw", trials=1), ConfigError)
    assert (tmp_path / "sw" / "spec.yaml").read_text() == before  # the sweep's own file kept


def test_joining_a_sweep_with_another_setting_names_the_python_arguments(tmp_path):
    vislab.sweep(SWEEP, out=tmp_path / "sw", trials=1, quiet=True)
    msg = raised(lambda: vislab.sweep(SWEEP, out=tmp_path / "sw", trials=2, train__seed=5))
    assert "another base config (train.seed: 0 → 5)" in msg
    assert "(Python: data=, epochs=, overrides= or section__key=)" in msg
    assert "--overwrite (Python: overwrite=True)" in msg


# ------------------------------------------------------------------------------------ fine-tuning
def test_a_freeze_pattern_matching_nothing_names_model_info_in_python_too(tmp_path):
    msg = raised(lambda: vislab.train(TINY, out=tmp_path / "f", train__freeze=["body.*"]))
    assert "(`vislab model info mlp` / vislab.model_info('mlp') lists its layers)" in msg


# ----------------------------------------------------------------------------------------- Config
def test_help_of_config_is_vislabs_own():
    said = inspect.getdoc(
        vislab.Config
    )  # what help() shows first (without one: pydantic's BaseModel's)
    assert (
        said.startswith("A run's whole configuration, validated")
        and "Usage Documentation" not in said
    )
    assert "vislab.load_config" in pydoc.render_doc(vislab.Config)


def test_load_config_takes_a_nested_dict_as_train_does():
    cfg = vislab.load_config({"optim": {"lr": 0.5}}, train__epochs=5)
    assert (cfg.optim.lr, cfg.train.epochs) == (0.5, 5)
    with pytest.raises(ConfigError, match=r"Invalid config \(the config dict\)"):
        vislab.load_config({"optim": {"bogus": 1}})


@pytest.mark.parametrize(
    "call, said",
    [
        (lambda out: vislab.run_suite("quickstart", out=out, jobs=0), "run_suite got jobs=0"),
        (lambda out: vislab.run_suite("quickstart", out=out, epochs=0), "run_suite got epochs=0"),
        (lambda out: vislab.sweep("dlvc-cnn", out=out, trials=0), "sweep got trials=0"),
    ],
)
def test_counts_below_one_are_refused_as_the_command_refuses_them(tmp_path, call, said):
    with pytest.raises(UserError, match=said):
        call(tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything is written
