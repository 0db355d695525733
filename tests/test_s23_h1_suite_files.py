"""Suite files as a teacher writes them from docs/suite-files.md (session 23): keys indented wrong, the dry
run's notes, seeds: 0, a group naming a run twice, run names vislab writes, a train.seed list's hint."""

import textwrap

import pytest
import yaml

from conftest import REPO, cli, one_line, tiny_base, tiny_suite
from vislab.errors import ConfigError
from vislab.experiments.suites.spec import load_suite


def _file(tmp_path, text: str):
    path = tmp_path / "suite.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def _suite_file(tmp_path, suite: dict):
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite))
    return path


def test_groups_indented_under_runs_is_named_as_a_suite_key(tmp_path, capsys):
    path = _file(
        tmp_path,
        """\
        base: {data: {name: digits, limit: 200}, model: {name: mlp, hidden: [16]}}
        runs:
          a: {}
          b: {optim.lr: 0.01}
          groups:
            ladder: [a, b]
        """,
    )
    code, out = cli(capsys, "suite", path, "--dry-run", "--out", tmp_path / "out")
    assert code != 0
    assert "'groups' is a suite key, not a run: is it indented under runs: by mistake?" in one_line(
        out
    )
    assert "Put it at the top level of the file" in one_line(out)


def test_seeds_indented_under_runs_is_named_as_a_suite_key(tmp_path):
    path = _file(tmp_path, "runs:\n  a: {}\n  seeds: 3\n")
    with pytest.raises(ConfigError, match="'seeds' is a suite key, not a run"):
        load_suite(path)


def test_a_config_section_at_the_top_level_is_named_as_one(tmp_path, capsys):
    path = _file(
        tmp_path,
        """\
        base: {data: {name: digits, limit: 200}}
        train: {epochs: 1}
        runs: {a: {}}
        """,
    )
    code, out = cli(capsys, "suite", path, "--dry-run", "--out", tmp_path / "out")
    assert code != 0
    assert "unknown suite key 'train'" in out
    assert "'train' is a config section, not a suite key: is it meant under base:?" in one_line(out)


def test_the_dry_run_prints_each_note_once_naming_its_runs(tmp_path, capsys):
    runs = {
        "plain": {},
        "flip": {"augment.hflip.p": 0.5},
        "flip-lr": {"augment.hflip.p": 0.5, "optim.lr": 0.01},
        "idle-crop": {"augment.p": 0, "augment.crop.p": 1},
    }
    path = _suite_file(tmp_path, tiny_suite(runs=runs))
    code, out = cli(capsys, "suite", path, "--dry-run", "--out", tmp_path / "out")
    assert code == 0, out
    text = one_line(out)
    assert text.count("mirrors the digits images") == 1
    assert "note (flip, flip-lr): augment.hflip.p=0.5 mirrors the digits images" in text
    assert "note (idle-crop): augment.crop.p=1 does nothing with augment.p=0" in text
    assert "note (plain" not in text
    assert not (tmp_path / "out").exists()


def test_seeds_0_in_a_suite_file_says_how_to_write_it(tmp_path, capsys):
    path = _suite_file(tmp_path, tiny_suite(seeds=0))
    code, out = cli(capsys, "suite", path, "--dry-run", "--out", tmp_path / "out")
    text = one_line(out)
    assert code != 0
    assert "--set seeds=null" not in text
    assert "leave seeds: out of the file (or write seeds: null)" in text
    assert "--seeds N overrides the file's" in text


@pytest.mark.parametrize("seeds", [True, 1.5, "2"])
def test_seeds_must_be_a_whole_count(tmp_path, seeds):
    with pytest.raises(ConfigError, match="how many times to train each run, 1 or more"):
        load_suite(_suite_file(tmp_path, tiny_suite(seeds=seeds)))


def test_seeds_null_is_once(tmp_path):
    suite = load_suite(_suite_file(tmp_path, tiny_suite(seeds=None)))
    assert suite.seeds == 1 and suite.file_seeds is None


def test_a_group_naming_a_run_twice_is_refused(tmp_path, capsys):
    path = _suite_file(tmp_path, tiny_suite(groups={"g": ["mlp", "mlp", "majority"]}))
    code, out = cli(capsys, "suite", path, "--dry-run", "--out", tmp_path / "out")
    assert code != 0
    assert "group 'g' names 'mlp' more than once" in one_line(out)


@pytest.mark.parametrize("name", ["paper", "report.html", "results.md", "suite.json", "figures"])
def test_a_run_named_as_a_file_vislab_writes_is_refused(tmp_path, capsys, name):
    path = _suite_file(tmp_path, tiny_suite(runs={name: {}, "mlp": {}}))
    code, out = cli(capsys, "suite", path, "--dry-run", "--out", tmp_path / "out")
    assert code != 0
    assert f"suite key 'runs.{name}' is invalid" in one_line(out)
    assert "not one of the names vislab writes into a suite's folder" in one_line(out)


@pytest.mark.parametrize(
    ("seeds", "said"),
    [
        ([0, 1], "which trains train.seed and train.seed+1."),
        ([0, 1, 2], "which trains train.seed, train.seed+1 and train.seed+2."),
        ([0, 1, 2, 3], "which trains train.seed, train.seed+1, … train.seed+3."),
    ],
)
def test_a_train_seed_list_says_the_seeds_it_would_train(tmp_path, capsys, seeds, said):
    path = _suite_file(tmp_path, tiny_suite(runs={"mlp": {"train.seed": seeds}}))
    code, out = cli(capsys, "suite", path, "--dry-run", "--out", tmp_path / "out")
    assert code != 0
    assert said in one_line(out)


def test_the_docs_say_what_a_changed_epoch_count_does(tmp_path, capsys):
    """docs/suite-files.md: a changed train.epochs retrains, the old run kept beside it."""
    path = _suite_file(tmp_path, tiny_suite(base=tiny_base(train__epochs=1)))
    out = tmp_path / "out"
    assert cli(capsys, "suite", path, "--out", out, "--quiet", "--no-report")[0] == 0
    code, said = cli(capsys, "suite", path, "--out", out, "--epochs", "2", "--dry-run")
    assert code == 0, said
    assert "retrain (its folder holds it trained for train.epochs=1, not 2" in one_line(said)
    doc = one_line((REPO / "docs" / "suite-files.md").read_text())
    assert "kept beside the new one as `<run>.epochs-<E>`" in doc
    assert "is refused (`--overwrite` starts the suite over)" not in doc
