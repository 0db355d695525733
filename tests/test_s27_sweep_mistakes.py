"""Session 27, sweeps fed mistakes: a one-value range is one value and a choice given twice is refused (the
dry run's count and the real run agree; a worker stops after a few repeats in a row); a SQLite URL whose
absolute path lost a slash, or a bare path, is named with the URL meant; a sweep folder whose study.db is
gone or empty is refused, not trained again from scratch, and reading never makes its tables; trials: 0 and
timeout: 0 in a sweep file are refused; a sweep file given to `sweep show` and a sweep folder given to
`vislab sweep` are named as such."""

import shutil

import optuna
import pytest
import yaml
from optuna.distributions import FloatDistribution

import vislab
from conftest import cli, one_line, tiny_base, tiny_sweep
from vislab.errors import ConfigError, Note
from vislab.experiments.sweeps.objective import Objective
from vislab.experiments.sweeps.runner import MAX_REPEATS_IN_A_ROW, _work
from vislab.experiments.sweeps.spec import sweep_of

ONE_LR = {"optim.lr": {"type": "float", "low": 0.01, "high": 0.01}}


def write(path, tree) -> str:
    path.write_text(yaml.safe_dump(tree, sort_keys=False))
    return str(path)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished sweep folder of one trial (its own study.db) and its sweep file; tests copy it."""
    root = tmp_path_factory.mktemp("s27-sweep")
    spec = write(root / "tiny.yaml", tiny_sweep(trials=1))
    vislab.sweep(spec, out=root / "sw", quiet=True)
    return root, spec


def copied(finished, tmp_path):
    root, spec = finished
    out = tmp_path / "copy"
    shutil.copytree(root / "sw", out)
    return out, spec


# ------------------------------------------------------------------------------------------------ M1
def test_a_one_value_range_is_one_value_in_the_dry_run_and_the_run(tmp_path):
    """low == high: one combination, so 1 trial of the 3 asked, said by the dry run and the run alike;
    nothing is drawn again, and a second run says every combination is taken."""
    spec, out, said = tiny_sweep(space=ONE_LR), tmp_path / "sw", []
    plan = vislab.sweep(spec, out=out, trials=3, dry_run=True)
    assert plan.to_train == 1 and plan.trials == 1, plan.lines()
    assert any("the space holds 1 combination, fewer than the 3 trials" in n for n in plan.notes)
    study = vislab.sweep(spec, out=out, trials=3, log=said.append)
    assert [t.state.name for t in study.trials] == ["COMPLETE"], said
    assert not any("same values as trial" in line for line in said), said
    assert any("so the sweep trains 1 trial, each combination once" in line for line in said), said
    with pytest.warns(Note, match="every combination of its space is taken"):
        vislab.sweep(spec, out=out, trials=3, log=said.append)


def test_a_choice_given_twice_is_refused_naming_it(tmp_path, capsys):
    space = {"model.hidden.0": {"type": "categorical", "choices": [16, 16, 32]}}
    path = write(tmp_path / "dup.yaml", tiny_sweep(space=space))
    code, text = cli(capsys, "sweep", path, "--out", tmp_path / "sw", "--dry-run")
    said = one_line(text)
    assert code == 2 and "'space.model.hidden.0'" in said, said
    assert "the choice 16 is given twice: give each choice once" in said
    assert not (tmp_path / "sw").exists()
    # true is no 1: both stay
    sweep = sweep_of(
        tiny_sweep(space={"train.figures": {"type": "categorical", "choices": [True, False]}}),
        tmp_path / "t.yaml",
    )
    assert sweep.distributions["train.figures"].choices == (True, False)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")  # PartialFixedSampler
def test_a_worker_stops_after_a_few_repeats_in_a_row_saying_why(tmp_path):
    """A sampler that keeps drawing trained values of a continuous space: MAX_REPEATS_IN_A_ROW repeats, then
    the worker stops, said; not 100 lines."""
    sweep = sweep_of(
        tiny_sweep(space={"optim.lr": {"type": "float", "low": 1e-3, "high": 0.1}}),
        tmp_path / "t.yaml",
    )
    fixed = optuna.samplers.PartialFixedSampler({"optim.lr": 0.01}, optuna.samplers.RandomSampler())
    study = optuna.create_study(direction="maximize", sampler=fixed)
    study.add_trial(
        optuna.trial.create_trial(
            params={"optim.lr": 0.01},
            distributions={"optim.lr": FloatDistribution(1e-3, 0.1)},
            value=0.5,
        )
    )
    said: list[str] = []
    objective = Objective(sweep, tiny_base(), tmp_path / "trials", 5, True, said.append)
    _work(study, objective, 5, None, said.append)
    assert sum("same values as trial 0" in line for line in said) == MAX_REPEATS_IN_A_ROW == 10
    assert said[-1].startswith(
        "note: the sampler drew values drawn before 10 times in a row; stopping with 1 of the 5 trials"
    ), said[-1]
    assert not (tmp_path / "trials").exists()


# ------------------------------------------------------------------------------------------------ M2
def test_an_absolute_path_missing_its_fourth_slash_is_named(tmp_path, capsys, monkeypatch):
    """sqlite:///tmp/... run from a folder without tmp/: the URL meant has four slashes (run and show);
    a bare path gets its URL form."""
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "tiny.yaml", tiny_sweep())
    shared = tmp_path / "shared" / "study.db"
    typed = f"sqlite://{shared}"  # three slashes: the path reads as relative
    for args in (
        ("sweep", path, "--storage", typed),
        ("sweep", "show", "--storage", typed, "--study", "tiny"),
    ):
        code, text = cli(capsys, *args)
        said = one_line(text)
        assert code == 2, said
        assert f"An absolute path needs four slashes: --storage sqlite:///{shared}" in said, said
        assert "mkdir" not in said
    code, text = cli(capsys, "sweep", path, "--storage", str(shared), "--dry-run")
    said = one_line(text)
    assert (
        code == 2
        and f"--storage takes a database URL: for that SQLite file, --storage sqlite:///{shared}"
        in said
    ), said
    assert not (tmp_path / "runs").exists() and not (tmp_path / "tmp").exists()


# ------------------------------------------------------------------------------------------------ M3
def test_a_sweep_folder_whose_study_db_is_gone_is_refused(finished, tmp_path, capsys):
    """COPY/study.db deleted: the run and its dry run refuse, naming the fixes, and train nothing; the
    database given where it is now goes on; --overwrite starts over."""
    out, spec = copied(finished, tmp_path)
    (out / "study.db").unlink()
    for extra in ((), ("--dry-run",)):
        code, text = cli(capsys, "sweep", spec, "--out", out, "--trials", 2, "--no-report", *extra)
        said = one_line(text)
        assert code == 2, said
        assert (
            f"whose study database is not at '{out / 'study.db'}', where its sweep.json records it"
            in said
        )
        assert "put the database back there, or give where it is now: --storage" in said
        assert "--overwrite (Python: overwrite=True; deletes its trials)" in said
    assert not (out / "study.db").exists() and sorted(
        p.name for p in (out / "trials").iterdir()
    ) == ["0"]
    moved = finished[0] / "sw" / "study.db"  # where the study is now
    code, text = cli(
        capsys, "sweep", spec, "--out", out, "--storage", f"sqlite:///{moved}", "--dry-run"
    )
    assert code == 0 and "trials the study holds: 1 complete" in text, text


def test_an_empty_study_db_is_named_damaged_and_left_empty(finished, tmp_path, capsys):
    """A 0-byte study.db: sweep show and the run name it damaged, with the fixes; it stays 0 bytes."""
    out, spec = copied(finished, tmp_path)
    (out / "study.db").write_bytes(b"")
    for args in (
        ("sweep", "show", out, "--no-report"),
        ("sweep", spec, "--out", out, "--no-report"),
    ):
        code, text = cli(capsys, *args)
        said = one_line(text)
        assert code == 2 and "is damaged (an empty file)" in said, said
        assert f"--out {out} --overwrite" in said
        assert (out / "study.db").stat().st_size == 0
    (out / "study.db").unlink()
    shutil.copy(finished[0] / "tiny.yaml", out / "study.db")  # text: no database
    code, text = cli(capsys, "sweep", "show", out, "--no-report")
    assert code == 2 and "is damaged (file is not a database)" in one_line(text), text


# ------------------------------------------------------------------------------------------------ M4
@pytest.mark.parametrize("key, value", [("trials", 0), ("timeout", 0)])
def test_trials_or_timeout_of_0_in_a_sweep_file_is_refused(tmp_path, capsys, key, value):
    path = write(tmp_path / "t.yaml", tiny_sweep(**{key: value}))
    code, text = cli(capsys, "sweep", path, "--out", tmp_path / "sw", "--dry-run")
    said = one_line(text)
    assert code == 2 and f"sweep value '{key}' = 0 is invalid: give" in said, said
    assert f"(or leave {key}: out for" in said and "null turns it off" not in said
    with pytest.raises(ConfigError, match=f"sweep value '{key}' = 0 is invalid"):
        vislab.sweep(tiny_sweep(**{key: value}), out=tmp_path / "sw2", dry_run=True)


# ------------------------------------------------------------------------------------------------ M6
def test_a_sweep_file_given_to_show_and_a_folder_given_to_run_are_named(finished, tmp_path, capsys):
    root, spec = finished
    code, text = cli(capsys, "sweep", "show", spec)
    said = one_line(text)
    assert (
        code == 2 and f"'{spec}' is a sweep file, but sweep show takes the sweep's folder" in said
    ), said
    code, text = cli(capsys, "sweep", "show", root / "sw" / "sweep.yaml")
    assert code == 2 and f"vislab sweep show {root / 'sw'}." in one_line(text), text
    sw = root / "sw"
    code, text = cli(capsys, "sweep", sw)
    said = one_line(text)
    assert code == 2 and f"'{sw}' is a sweep folder, not a sweep file" in said, said
    assert (
        f"vislab sweep show {sw}; to add trials, vislab sweep {sw / 'sweep.yaml'} --out {sw}"
        in said
    )
    (tmp_path / "empty").mkdir()
    code, text = cli(capsys, "sweep", tmp_path / "empty")
    assert code == 2 and "is a folder, not a sweep file: give a sweep YAML" in one_line(text), text


@pytest.mark.parametrize("timeout", [0, float("nan")])
def test_a_timeout_of_0_from_python_is_refused_as_the_file_and_command_refuse_it(tmp_path, timeout):
    with pytest.raises(vislab.UserError, match="timeout=.*: give seconds, at least 1"):
        vislab.sweep("dlvc-cnn", data="digits", timeout=timeout, out=tmp_path / "sw")
    assert not (tmp_path / "sw").exists()
