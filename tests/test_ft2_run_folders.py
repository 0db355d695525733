"""A teacher's folder of students' runs: `vislab compare`, `report` and `paper` (and ``vislab.compare``)
find the runs at any depth below a folder given — a suite folder inside it too, its runs named
``carol/mlp`` —; `vislab paper` takes a suite folder among run folders; a suite's runs are named by it
whatever else is given; a run copied in part (no summary.json, no checkpoints, but metrics.jsonl's
epochs) is said to have lost its files, with a fix that works."""

import shutil
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import cli, one_line, tiny_suite
from vislab.errors import UserError
from vislab.report.plan import plan_report


@pytest.fixture(scope="module")
def made(trained, tmp_path_factory) -> dict[str, Path]:
    """The tiny runs, made once: a finished run (``trained``) and a suite of two (majority, mlp)."""
    root = tmp_path_factory.mktemp("ft2-made")
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(), sort_keys=False))
    vislab.run_suite(spec, out=root / "suite", quiet=True)
    return {"run": trained, "suite": root / "suite"}


def _layout(made: dict[str, Path], root: Path, copies: dict[str, str]) -> Path:
    """``root`` holding a copy of a made run or suite at each relative path of ``copies`` (path → kind)."""
    for rel, kind in copies.items():
        shutil.copytree(made[kind], root / rel)
    return root


def _rows(text: str) -> list[str]:
    """The run column of the first pipe table of ``text``."""
    lines = text[f"\n{text}".index("\n|") :].split("\n\n")[0].splitlines()
    return [line.strip("|").split("|")[0].strip() for line in lines[2:]]


def test_compare_report_and_paper_find_the_runs_of_a_suite_folder_inside(made, tmp_path, capsys):
    """Was: carol's suite (two runs) absent from compare's table, its notes and the report, unnamed."""
    hand2 = _layout(made, tmp_path / "hand2", {"alice": "run", "carol": "suite"})
    wanted = ["alice", "carol/majority", "carol/mlp"]
    assert list(vislab.compare(hand2)["run"]) == wanted
    code, text = cli(capsys, "compare", hand2)
    assert code == 0 and _rows(text) == wanted, text
    assert list(plan_report(hand2, log=lambda _: None).runs) == wanted  # report.html's runs
    code, text = cli(capsys, "paper", hand2, "--no-figures")
    assert code == 0, text
    assert _rows((hand2 / "paper" / "tables.md").read_text()) == wanted


def test_compare_finds_runs_two_levels_down(made, tmp_path, capsys):
    """Was: "'hand' holds no runs (no run folder in it or its sub-folders ...)", exit 2."""
    hand = _layout(made, tmp_path / "hand", {"alice/mlp": "run", "bob/mlp": "run"})
    (tmp_path / "hand" / "carl" / "empty").mkdir(parents=True)
    code, text = cli(capsys, "compare", hand)
    assert code == 0 and _rows(text) == ["alice/mlp", "bob/mlp"], text
    code, text = cli(capsys, "compare", hand / "carl")  # a tree without a run still holds none
    assert code == 2 and "holds no runs" in text, text


def test_a_folder_of_runs_two_levels_down_given_as_a_run_names_them(made, tmp_path):
    """Was: "'hand' is not a vislab run directory (it holds no config.yaml): give the folder a run was
    trained into ..."."""
    hand = _layout(made, tmp_path / "hand", {"alice/mlp": "run", "bob/mlp": "run"})
    with pytest.raises(UserError) as e:
        vislab.load_run(hand)
    said = one_line(str(e.value))
    assert f"'{(hand / 'alice' / 'mlp').as_posix()}'" in said, said
    assert f"vislab.compare('{hand.as_posix()}')" in said, said


def test_paper_takes_a_suite_folder_among_run_folders(made, tmp_path, capsys):
    """Was: "'class/s07' is not a run folder ... give run folders, or one suite folder", exit 2."""
    cls = _layout(made, tmp_path / "class", {"s01": "run", "s07": "suite"})
    code, text = cli(
        capsys, "paper", cls / "s01", cls / "s07", "--out", tmp_path / "paper", "--no-figures"
    )
    assert code == 0, text
    assert _rows((tmp_path / "paper" / "tables.md").read_text()) == [
        "s01",
        "s07/majority",
        "s07/mlp",
    ]


def test_a_suites_runs_are_named_by_it_whatever_else_is_given(made, tmp_path):
    """Was: ``majority`` bare beside ``s07/mlp`` (its name clashing with the runs given alone)."""
    root = _layout(
        made,
        tmp_path,
        {"hand/alice/mlp": "run", "hand/bob/mlp": "run", "s07": "suite", "b/s07": "suite"},
    )
    given = [root / "hand/alice/mlp", root / "hand/bob/mlp", root / "s07"]
    assert list(vislab.compare(given)["run"]) == ["alice/mlp", "bob/mlp", "s07/majority", "s07/mlp"]
    # two suites of one name: named by the folders above them
    names = list(vislab.compare([root / "s07", root / "b" / "s07"])["run"])
    assert names == [
        f"{root.name}/s07/majority",
        f"{root.name}/s07/mlp",
        "b/s07/majority",
        "b/s07/mlp",
    ]


def test_a_run_copied_in_part_is_said_to_miss_its_files_and_the_fix_works(made, tmp_path):
    """Was: "not finished (no summary.json and no checkpoint: stopped before its first, or another host
    is training it ...)" though metrics.jsonl holds its finished epoch."""
    half = tmp_path / "half"
    half.mkdir()
    for name in ("config.yaml", "metrics.jsonl"):
        shutil.copy(made["run"] / name, half / name)
    with pytest.warns(vislab.Note):
        frame = vislab.compare([made["run"], half])
    said = one_line(frame.attrs["left_out"]["half"])
    assert "summary.json and checkpoints/last.pt are missing" in said, said
    assert "metrics.jsonl records 1 finished epoch" in said and "copied in part" in said, said
    fix = f"vislab.train('{half / 'config.yaml'}', out='{half}', overwrite=True)"
    assert fix in said, said
    vislab.train(str(half / "config.yaml"), out=str(half), overwrite=True, quiet=True)
    assert "half" in list(vislab.compare([made["run"], half])["run"])
