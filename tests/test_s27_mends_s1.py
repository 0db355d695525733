"""Session 27, review mends of the sweeps' mistakes: a sweep folder whose study.db is gone goes on only in
a storage that holds its study (another database is refused, read only, not given a new study); a choice
given twice as text and as a number is refused; a timeout takes at least 1 second in a sweep file as in
Python and on the command line, each count named with what it takes; benchmarks/gpu.py --models none does
not check --n against --batch."""

import shutil
import sys
from pathlib import Path

import optuna
import pytest
import yaml

import vislab
from conftest import REPO, cli, one_line, tiny_sweep
from vislab.errors import ConfigError


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished sweep folder of one trial (its own study.db) and its sweep file; tests copy it."""
    root = tmp_path_factory.mktemp("s1-sweep")
    spec = root / "tiny.yaml"
    spec.write_text(yaml.safe_dump(tiny_sweep(trials=1), sort_keys=False))
    vislab.sweep(str(spec), out=root / "sw", quiet=True)
    return root, str(spec)


def gone(finished, tmp_path) -> tuple[Path, str]:
    """A copy of the finished sweep folder whose study.db was deleted, and its sweep file."""
    out = tmp_path / "copy"
    shutil.copytree(finished[0] / "sw", out)
    (out / "study.db").unlink()
    return out, finished[1]


# ----------------------------------------------------------------------------------------------- S1a
def test_a_gone_study_db_is_not_moved_to_a_database_of_another_study(finished, tmp_path, capsys):
    """--storage naming a SQLite file that holds another study only: refused with the fixes, the file
    not given a study (read only), no trial trained or set aside."""
    out, spec = gone(finished, tmp_path)
    other = tmp_path / "other.db"
    optuna.create_study(storage=f"sqlite:///{other}", study_name="other")
    before = other.read_bytes()
    for extra in ((), ("--dry-run",)):
        code, text = cli(
            capsys, "sweep", spec, "--out", out, "--trials", 2, "--no-report",
            "--storage", f"sqlite:///{other}", *extra,
        )  # fmt: skip
        said = one_line(text)
        assert code == 2, said
        assert f"whose study database is not at '{out / 'study.db'}'" in said, said
        assert f"The storage given, sqlite:///{other}, holds no study 'tiny'." in said, said
        assert "put the database back there, or give where it is now: --storage" in said
    assert optuna.get_all_study_names(f"sqlite:///{other}") == ["other"]
    assert other.read_bytes() == before
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["0"]


def test_a_gone_study_db_is_not_moved_to_another_kind_of_database(finished, tmp_path, capsys):
    """A storage that is no plain SQLite path (here a file: URI, opened as a server's database is) is
    asked for its studies through Optuna: without the sweep's, refused as above; with it, it goes on."""
    out, spec = gone(finished, tmp_path)
    other = tmp_path / "other.db"
    optuna.create_study(storage=f"sqlite:///{other}", study_name="other")
    for db, code_wanted in ((other, 2), (finished[0] / "sw" / "study.db", 0)):
        uri = f"sqlite:///file:{db}?mode=ro&uri=true"
        code, text = cli(
            capsys, "sweep", spec, "--out", out, "--no-report", "--storage", uri, "--dry-run"
        )
        said = one_line(text)
        assert code == code_wanted, said
        assert ("holds no study 'tiny'" in said) == (code == 2), said
    assert sorted(p.name for p in (out / "trials").iterdir()) == ["0"]


def test_a_gone_study_db_goes_on_where_the_study_is_now(finished, tmp_path, capsys):
    out, spec = gone(finished, tmp_path)
    moved = tmp_path / "moved" / "study.db"
    shutil.copytree(finished[0] / "sw", moved.parent, ignore=shutil.ignore_patterns("trials"))
    code, text = cli(
        capsys, "sweep", spec, "--out", out, "--storage", f"sqlite:///{moved}", "--dry-run"
    )
    assert code == 0 and "trials the study holds: 1 complete" in text, text


# ----------------------------------------------------------------------------------------------- S1b
def test_a_choice_given_as_text_and_as_its_number_is_refused(tmp_path, capsys):
    """YAML reads 1e-3 (no dot) as text, which the trials get as 0.001: with 0.001 beside it, one choice
    given twice, refused before the dry run counts 2 trials."""
    tree = tiny_sweep()
    tree["space"] = {"optim.lr": "CHOICES"}
    text = yaml.safe_dump(tree, sort_keys=False)
    path = tmp_path / "twice.yaml"
    path.write_text(text.replace("CHOICES", "{type: categorical, choices: [1e-3, 0.001]}"))
    code, said = cli(capsys, "sweep", path, "--out", tmp_path / "sw", "--dry-run")
    said = one_line(said)
    assert code == 2 and "'space.optim.lr'" in said, said
    assert "the choices 1e-3 and 0.001 are one number, 0.001: give each choice once" in said
    assert "(remove 0.001 from choices:)" in said
    assert not (tmp_path / "sw").exists()
    tree["space"] = {"optim.lr": {"type": "categorical", "choices": [0.001, "1e-3"]}}
    with pytest.raises(ConfigError, match="the choices 0.001 and 1e-3 are one number"):
        vislab.sweep(tree, out=tmp_path / "sw", dry_run=True)
    tree["space"] = {"optim.lr": {"type": "categorical", "choices": ["1e-3", 0.01]}}
    assert vislab.sweep(tree, out=tmp_path / "sw", dry_run=True).to_train == 2


# ----------------------------------------------------------------------------------------------- S1c
def test_a_timeout_under_1_second_is_refused_in_a_file_as_in_python_and_the_cli(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(tiny_sweep(timeout=0.5), sort_keys=False))
    code, text = cli(capsys, "sweep", path, "--out", tmp_path / "sw", "--dry-run")
    said = one_line(text)
    assert code == 2, said
    assert (
        "sweep value 'timeout' = 0.5 is invalid: give the seconds after which no new trial " in said
    )
    assert "starts, at least 1 (or leave timeout: out for no time limit)" in said
    with pytest.raises(vislab.UserError) as told:
        vislab.sweep(tiny_sweep(), out=tmp_path / "sw", trials=0, timeout=0)
    assert str(told.value) == (
        "sweep got trials=0: give a whole number of at least 1; timeout=0: give seconds, at least 1."
    )
    code, text = cli(capsys, "sweep", path, "--timeout", "0.5", "--dry-run")
    assert code == 2 and "--timeout" in text, text
    assert not (tmp_path / "sw").exists()


# ----------------------------------------------------------------------------------------------- S1d
def gpu_args(monkeypatch, *argv: str):
    """benchmarks/gpu.py's flags ``argv`` as its parse_args reads them (the module dropped after)."""
    bench = str(REPO / "benchmarks")
    monkeypatch.setattr(sys, "argv", ["gpu.py", *argv])
    monkeypatch.setattr(sys, "path", [bench, *sys.path])
    modules = set(sys.modules)
    try:
        from gpu_args import parse_args

        return parse_args("gpu.py", {"n": 512, "batch": 64, "epochs": 1})
    finally:
        for name in set(sys.modules) - modules:
            if Path(getattr(sys.modules[name], "__file__", None) or "/").parent == Path(bench):
                del sys.modules[name]


def test_gpu_benchmark_with_no_model_does_not_check_n(monkeypatch, capsys):
    """--models none times the Fashion-MNIST run alone, which reads no --n: --n 100 is no mistake there,
    but still one for a model's run."""
    args = gpu_args(monkeypatch, "--device", "cpu", "--models", "none", "--n", "100")
    assert args.models == [] and args.n == 100
    with pytest.raises(SystemExit) as done:
        gpu_args(monkeypatch, "--device", "cpu", "--models", "cnn", "--n", "100")
    assert done.value.code == 2
    assert "argument --n: 100 synthetic images" in capsys.readouterr().err
