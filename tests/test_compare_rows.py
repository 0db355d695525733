"""`vislab compare` of several suite folders: each folder's seeds in rows of seeds (mean ± std, N), as one
folder's results.md has them, bolded and paired by the same rule; a fitted baseline's parameters said
under results.md's table and the paper's; report.html's data line says the seeds drew their own splits;
a metrics.jsonl cut short noted once by `vislab paper`."""

from pathlib import Path

import pytest
import yaml

import vislab
from conftest import cli, first_table, one_line, tiny_suite
from figures_skipped import skip_report_figures
from vislab.cli import main
from vislab.report.build import build_report


@pytest.fixture(scope="module")
def suites(tmp_path_factory) -> tuple[Path, Path]:
    """Two folders of the tiny suite (majority, mlp), 2 seeds each: ``s`` from train.seed 0, ``s2`` from
    train.seed 5."""
    root = tmp_path_factory.mktemp("compare-rows")
    spec = root / "suite.yaml"
    spec.write_text(yaml.safe_dump(tiny_suite(), sort_keys=False))
    for name, seed in (("s", 0), ("s2", 5)):
        args = ["suite", spec, "--seeds", "2", "--out", root / name, "-q", "--no-report"]
        assert main([str(a) for a in [*args, "--set", f"train.seed={seed}"]]) == 0
    return root / "s", root / "s2"


def _table(text: str) -> dict[str, dict[str, str]]:
    """The first pipe table of ``text``: run → {header: cell}."""
    lines = first_table(text)
    heads = [h.strip() for h in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    return {cells[0]: dict(zip(heads, cells)) for cells in rows}


def test_compare_of_two_suite_folders_gives_each_its_rows_of_seeds(capsys, suites):
    s, s2 = suites
    code, both = cli(capsys, "compare", s, s2)
    assert code == 0
    table = _table(both)
    assert list(table) == ["s/majority", "s/mlp", "s2/majority", "s2/mlp"]  # no s/mlp-s0 rows
    assert all(row["N"] == "2" and " ± " in row["test ACC"] for row in table.values())
    # a bold cell is a row's mean (the rule of one suite's table), never a single seed's figure
    bold = [cell for row in table.values() for cell in row.values() if "**" in cell]
    assert all(" ± " in cell for cell in bold), bold
    # like with like: s's rows hold the figures `vislab compare s` gives them
    code, alone = cli(capsys, "compare", s)
    own = _table(alone)
    for row in ("majority", "mlp"):
        figures = {h: c.replace("**", "") for h, c in own[row].items() if h != "run"}
        assert {h: table[f"s/{row}"][h].replace("**", "") for h in figures} == figures
    said = one_line(both)
    assert "Each row: mean ± std over its seeds" in said
    assert "s2/mlp vs s/mlp:" in said  # each row against the other folder's same row
    frame = vislab.compare([s, s2])
    assert list(frame["run"]) == ["s/majority", "s/mlp", "s2/majority", "s2/mlp"]
    assert list(frame["seeds"]) == [2, 2, 2, 2]


def test_a_mapping_names_a_suites_rows_of_seeds(suites):
    frame = vislab.compare({"a": suites[0]})
    assert list(frame["run"]) == ["a/majority", "a/mlp"]
    assert list(frame["seeds"]) == [2, 2]


def test_results_md_and_the_paper_say_what_a_fitted_baselines_parameters_are(
    capsys, suites, tmp_path
):
    s, _ = suites
    code, said = cli(capsys, "compare", s)
    assert code == 0 and _table(said)["majority"]["parameters"] == "10"
    assert (
        "Parameters of majority (fitted once): the values the model stores, held as buffers "
        "(majority: its class priors" in one_line(said)
    )
    code, trained_only = cli(capsys, "compare", s / "mlp-s0")
    assert code == 0 and "held as buffers" not in trained_only
    code, _ = cli(capsys, "paper", s, "--out", tmp_path / "paper", "--no-figures")
    tables = one_line((tmp_path / "paper" / "tables.md").read_text())
    assert code == 0 and "parameters of majority (fitted once): the values the model" in tables


def test_report_html_says_the_seeds_drew_their_own_splits(suites, monkeypatch):
    skip_report_figures(monkeypatch)
    page = one_line(build_report(suites[0], log=lambda _: None).read_text())
    line = page.split('<p id="data-used">', 1)[1].split("</p>", 1)[0]
    assert "The seeds of majority and mlp each drew their own train/val/test split" in line


def test_paper_notes_a_metrics_file_cut_short_once(capsys, trained, tmp_path, monkeypatch):
    # the curves read metrics.jsonl as the tables and notes do; the run's other figures read none of it
    skip_report_figures(monkeypatch, keep=("curves",))
    metrics = trained / "metrics.jsonl"
    metrics.write_text(metrics.read_text().rstrip("\n")[:-10])  # its last row cut short
    code, said = cli(capsys, "paper", trained, "--out", tmp_path / "paper")
    assert code == 0
    assert said.count("ends in a line cut short") == 1, said
    assert "ends in a line cut short" in (tmp_path / "paper" / "texts.tex").read_text()


def test_a_plain_folder_of_seed_runs_is_compared_in_rows_of_seeds_as_its_report_shows_it(
    capsys, suites, tmp_path
):
    """Runs named ``<row>-s<i>`` in a folder that is no suite's (trained one by one, or copied out of
    one): `vislab compare` gives their rows of seeds, as the folder's report does, with the figures
    the suite's own table has."""
    import shutil

    s, _ = suites
    plain = tmp_path / "runs"
    for run in ("majority-s0", "majority-s1", "mlp-s0", "mlp-s1"):
        shutil.copytree(s / run, plain / run)
    code, text = cli(capsys, "compare", plain)
    assert code == 0, text
    table, own = _table(text), _table(cli(capsys, "compare", s)[1])
    assert list(table) == ["majority", "mlp"]
    for row in ("majority", "mlp"):
        assert table[row]["N"] == "2"
        assert table[row]["test ACC"].replace("**", "") == own[row]["test ACC"].replace("**", "")
    assert list(vislab.compare(plain)["seeds"]) == [2, 2]
