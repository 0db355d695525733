"""`vislab compare` of plain folders of runs named `<row>-s<i>` (trained one by one, or copied out of a
suite), several of them or beside runs given on their own: each folder gives its rows of seeds, named by
it where several folders are given, as a suite folder's rows are; each row weighed against the best."""

import re
import shutil
from pathlib import Path

import pytest
import yaml

import vislab
from conftest import cli, first_table, one_line, tiny_suite
from vislab.cli import main
from vislab.experiments.results.spread import COMPARE

RUNS = ("majority-s0", "majority-s1", "mlp-s0", "mlp-s1")


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> tuple[Path, Path, Path]:
    """Two plain folders (no suite.json), ``seeds`` and ``seeds2``, each the 4 runs of the tiny suite with
    2 seeds (train.seed 0 and 5), and a run ``lone`` in a folder of its own."""
    root = tmp_path_factory.mktemp("e46-compare")
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(), sort_keys=False))
    for name, seed in (("s", 0), ("s2", 5)):
        args = ["suite", spec, "--seeds", "2", "--out", root / name, "-q", "--no-report"]
        assert main([str(a) for a in [*args, "--set", f"train.seed={seed}"]]) == 0
        for run in RUNS:
            shutil.copytree(root / name / run, root / f"seeds{name[1:]}" / run)
    shutil.copytree(root / "s2" / "mlp-s0", root / "other" / "lone")
    return root / "seeds", root / "seeds2", root / "other" / "lone"


def _table(text: str) -> dict[str, dict[str, str]]:
    """The first pipe table of ``text``: run → {header: cell}."""
    lines = first_table(text)
    heads = [h.strip() for h in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    return {cells[0]: dict(zip(heads, cells)) for cells in rows}


def test_two_plain_folders_of_seeds_give_each_its_rows_of_seeds_and_verdicts(capsys, plain):
    seeds, seeds2, _ = plain
    code, both = cli(capsys, "compare", seeds, seeds2)
    assert code == 0, both
    table = _table(both)
    assert list(table) == ["seeds/majority", "seeds/mlp", "seeds2/majority", "seeds2/mlp"]
    assert all(row["N"] == "2" and " ± " in row["test ACC"] for row in table.values())
    # like with like: seeds's rows hold the figures `vislab compare seeds` gives them
    alone = _table(cli(capsys, "compare", seeds)[1])
    assert list(alone) == ["majority", "mlp"]
    for row in ("majority", "mlp"):
        figures = {h: c.replace("**", "") for h, c in alone[row].items() if h != "run"}
        assert {h: table[f"seeds/{row}"][h].replace("**", "") for h in figures} == figures
    said = one_line(both)
    # one dataset: each row against the best of the table (s25: as the report and the paper pair them)
    assert f"Verdicts ({COMPARE['best'].lower()}; test ACC):" in said
    firsts = re.findall(r"\*\*all runs\*\*: (\S+) vs ", said)
    assert len(firsts) == 3 and len(set(firsts)) == 1


def test_a_run_given_beside_a_plain_folder_of_seeds_stays_a_row_of_its_own(capsys, plain):
    seeds, _, lone = plain
    code, text = cli(capsys, "compare", seeds, lone)
    assert code == 0, text
    table = _table(text)
    # the folder's rows named by it, as beside another folder (one rule: test_ft2_run_folders.py)
    assert list(table) == ["seeds/majority", "seeds/mlp", "lone"]
    assert table["seeds/mlp"]["N"] == "2" and table["lone"]["N"] == "1"


def test_a_mapping_names_each_plain_folders_rows_of_seeds(plain):
    seeds, seeds2, _ = plain
    frame = vislab.compare({"a": seeds, "b": seeds2})
    assert list(frame["run"]) == ["a/majority", "a/mlp", "b/majority", "b/mlp"]
    assert list(frame["seeds"]) == [2, 2, 2, 2]
