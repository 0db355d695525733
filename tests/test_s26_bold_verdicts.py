"""The bold and the verdict hints of the comparison tables (session 26, Fix A): a row whose summary.json
was edited by hand is never bold, the honest rows are bolded among themselves as if it were not there,
alike in `vislab compare`, report.html and the paper's tables (the per-class table too); and a verdict
without a spread because a row's seeds differ in settings says so, not "train with --seeds 2"."""

import json
import re
import shutil
from html import unescape
from pathlib import Path

import pytest
import yaml

from conftest import cli, one_line, table_run, tiny_sets, tiny_suite
from figures_skipped import skip_report_figures
from vislab.cli import main
from vislab.experiments.results.cells import bold_cells
from vislab.experiments.results.spread import Spread, group_verdicts
from vislab.report.build import build_report


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """Three tiny 1-epoch digits runs of one split: ``narrow`` (mlp [16]), ``wide`` (mlp [64]) and
    ``majority``."""
    root = tmp_path_factory.mktemp("s26-bold") / "runs"
    for name, model in (("narrow", "model.hidden=[16]"), ("wide", "model.hidden=[64]")):
        assert main(["train", *tiny_sets(model), "--out", str(root / name), "-q"]) == 0
    majority = tiny_sets("model.name=majority", drop="model.hidden=[32]")
    assert main(["train", *majority, "--out", str(root / "majority"), "-q"]) == 0
    return root


def _markdown_bold(text: str) -> dict[str, set[tuple[str, str]]]:
    """Each Markdown pipe table's bold cells, (run, column header), by its columns' headers."""
    out: dict[str, set[tuple[str, str]]] = {}
    lines = [line for line in text.splitlines() if line.startswith("|")]
    heads = [i for i, line in enumerate(lines) if line.startswith("| run |")]
    for at in heads:
        header = [c.strip() for c in lines[at].strip("|").split("|")]
        cells = out.setdefault(" ".join(header[1:4]), set())
        for line in lines[at + 2 :]:
            if line.startswith("| run |") or "---" in line:
                break
            row = [c.strip() for c in line.strip("|").split("|")]
            cells |= {(row[0], h) for h, c in zip(header, row) if c.startswith("**")}
    return out


def _all_bold(tables: dict[str, set[tuple[str, str]]]) -> set[tuple[str, str]]:
    return set().union(*tables.values())


def _html_bold(page: str) -> set[tuple[str, str]]:
    """The results table's bold cells of report.html, (run, column header)."""
    table = page.split('id="results"', 1)[1].split("</table>", 1)[0]
    heads = [unescape(h) for h in re.findall(r"<th data-key=\"[^\"]+\">([^<]*)</th>", table)]
    out = set()
    for run, row in re.findall(r'<tr data-run="([^"]+)">(.*?)</tr>', table, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        out |= {(run, h) for h, c in zip(heads, cells) if "<strong>" in c}
    return out


def _bold_everywhere(capsys, monkeypatch, folder: Path, out: Path) -> tuple[set, set, str, str]:
    """The bold cells (run, header) of `vislab compare FOLDER` (its results table and its per-class
    table), report.html's results table, and the paper's tables.md (results tables and per-class)."""
    code, text = cli(capsys, "compare", folder)
    assert code == 0, text
    shown = _markdown_bold(text)
    per_class = {k for k in shown if k.startswith("0 1")}
    compare_main = _all_bold({k: v for k, v in shown.items() if k not in per_class})
    compare_classes = _all_bold({k: shown[k] for k in per_class})
    skip_report_figures(monkeypatch)
    page = build_report(folder, log=lambda _: None).read_text()
    code, said = cli(capsys, "paper", folder, "--out", out, "--no-figures")
    assert code == 0, said
    paper = _all_bold(_markdown_bold((out / "tables.md").read_text()))
    class_heads = {str(i) for i in range(10)}
    paper_main = {(r, h) for r, h in paper if h not in class_heads}
    paper_classes = {(r, h) for r, h in paper if h in class_heads}
    assert compare_main == _html_bold(page) == paper_main
    assert compare_classes == paper_classes
    return compare_main, compare_classes, text, said


def test_a_doubted_row_is_never_bold_and_the_honest_rows_are_bolded_among_themselves(
    capsys, monkeypatch, runs, tmp_path
):
    edited = shutil.copytree(runs, tmp_path / "edited")
    summary = json.loads((edited / "wide" / "summary.json").read_text())
    (edited / "wide" / "summary.json").write_text(json.dumps({**summary, "test_acc": 0.99}))
    honest = shutil.copytree(runs, tmp_path / "honest", ignore=shutil.ignore_patterns("wide"))
    main_bold, class_bold, text, _ = _bold_everywhere(capsys, monkeypatch, edited, tmp_path / "p1")
    assert "wide: test_acc 0.9900 (predictions_test.npz:" in one_line(text)
    assert not {cell for cell in main_bold | class_bold if cell[0] == "wide"}
    # as if the doubted row were not there: the bold of the honest rows alone
    alone_main, alone_classes, _, _ = _bold_everywhere(capsys, monkeypatch, honest, tmp_path / "p2")
    assert main_bold == alone_main and class_bold == alone_classes
    assert ("narrow", "test ACC") in main_bold  # 0.99 is no best: narrow beats majority's 0.1


def _seed_folder(root: Path) -> Path:
    """A folder of runs named as seeds, without training: ``a-s0`` (train.epochs 1) and ``a-s1``
    (train.epochs 3: trained on by hand), ``b-s0`` and ``b-s1`` alike."""
    folder = root / "seeds"
    folder.mkdir()
    for name, seed, epochs, acc in (
        ("a-s0", 0, 1, 0.50),
        ("a-s1", 1, 3, 0.60),
        ("b-s0", 0, 1, 0.40),
        ("b-s1", 1, 1, 0.45),
    ):
        sets = (f"train.seed={seed}", f"train.epochs={epochs}", "data.split_seed=0")  # one test set
        run = table_run(folder, name, *sets)
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "seed": seed, "test_acc": acc}))
    return folder


_HINT = (
    "no spread to compare with: the seeds a-s0, a-s1 differ in train.epochs (a-s0 1, a-s1 3), so they "
    "are not averaged: to average them, train each again with one config and a train.seed of its own "
    "(vislab train --config FOLDER/<run>/config.yaml --set train.seed=S --out FOLDER/<row>-s<i> "
    "--overwrite)."
)


@pytest.mark.filterwarnings("ignore:b-s[01]")  # "no predictions_test.npz": runs not trained
def test_a_verdict_on_seeds_that_differ_in_settings_names_the_settings(
    capsys, monkeypatch, tmp_path
):
    folder = _seed_folder(tmp_path)
    code, text = cli(capsys, "compare", folder)
    assert code == 0, text
    verdicts = [line for line in one_line(text).split("- **")[1:] if " vs " in line]
    assert verdicts and all(_HINT in line for line in verdicts if "a-s" in line.split(":")[1]), text
    assert "--seeds 2" not in text
    skip_report_figures(monkeypatch)
    page = one_line(unescape(build_report(folder, log=lambda _: None).read_text()))
    assert _HINT in page and "--seeds 2" not in page


def test_the_seeds_hint_stays_for_a_row_of_one_seed():
    found = group_verdicts({"g": ["a", "b-s0", "b-s1"]}, {"a": [0.5], "b-s0": [0.4], "b-s1": [0.6]})
    assert [v.sentence().endswith("(train with --seeds 2 or more).") for v in found["g"]] == [
        True,
        True,
    ]
    why = {"b-s0": "the seeds b-s0, b-s1 differ in optim.lr (b-s0 0.1, b-s1 0.01)"}
    told = group_verdicts(
        {"g": ["a", "b-s0"]}, {"a": [0.5, 0.6], "b-s0": [0.4]}, unlike={**why, "b-s1": why["b-s0"]}
    )
    assert (
        told["g"][0]
        .sentence()
        .endswith(
            "no spread to compare with: the seeds b-s0, b-s1 differ in optim.lr (b-s0 0.1, b-s1 0.01)."
        )
    )


@pytest.mark.filterwarnings("ignore:b-s[01]")
def test_the_papers_verdict_says_the_fix_itself(capsys, tmp_path):
    """The paper has no note "Not averaged as seeds": its verdicts carry the fix themselves."""
    folder = _seed_folder(tmp_path)
    code, said = cli(capsys, "paper", folder, "--out", tmp_path / "p", "--no-figures")
    assert code == 0, said
    tables = one_line((tmp_path / "p" / "tables.md").read_text())
    assert _HINT in tables and "Not averaged as seeds" not in tables
    texts = one_line((tmp_path / "p" / "texts.tex").read_text())
    assert "train each again with one config and a train.seed of its own" in texts
    assert "Not averaged" not in texts


def _verdicts(capsys, folder: Path) -> list[str]:
    """The verdicts of `vislab compare FOLDER`, each on one line (the rule under them left out)."""
    code, text = cli(capsys, "compare", folder)
    assert code == 0, text
    said = one_line(text).split("- **")[1:]
    return [line.split(" Difference = ")[0].strip() for line in said if " vs " in line]


@pytest.mark.filterwarnings("ignore:[ab]-s[01]")
def test_seeds_that_share_a_seed_are_told_to_take_a_seed_of_their_own(capsys, tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    for name, seed, acc in (
        ("a-s0", 0, 0.5),
        ("a-s1", 0, 0.6),
        ("b-s0", 0, 0.4),
        ("b-s1", 1, 0.45),
    ):
        run = table_run(folder, name, f"train.seed={seed}", "data.split_seed=0")
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "seed": seed, "test_acc": acc}))
    verdicts = _verdicts(capsys, folder)
    fix = (
        "the seeds a-s0, a-s1 share train.seed 0, so they are not averaged: to average them, train all "
        "but one of those sharing a train.seed again with a train.seed of its own (vislab train "
        "--config FOLDER/<run>/config.yaml --set train.seed=S --out FOLDER/<run> --overwrite)."
    )
    assert verdicts and all(fix in line for line in verdicts), verdicts
    assert not [line for line in verdicts if "alike" in line or "one config" in line]


@pytest.mark.filterwarnings("ignore:[abc]")
def test_a_verdict_says_the_cause_of_each_row(capsys, tmp_path):
    """a-s1 (its seeds not averaged) vs c (one run): both rows' causes."""
    folder = _seed_folder(tmp_path)
    table_run(folder, "c", "train.seed=0", "train.epochs=1", "data.split_seed=0")
    against_c = [line for line in _verdicts(capsys, folder) if " vs c:" in line]
    assert len(against_c) == 1
    assert against_c[0].endswith(
        _HINT.removesuffix(".") + "; c has one seed (train with --seeds 2 or more)."
    ), against_c


def test_a_verdict_joins_seeds_not_averaged_and_runs_missing():
    why = "the seeds a-s0, a-s1 share train.seed 0, so they are not averaged"
    found = group_verdicts(
        {"g": ["a-s1", "b"]},
        {"a-s1": [0.6], "b": [0.4, 0.5]},
        compare="baseline",
        missing={"b": ["b-s2"]},
        unlike={"a-s1": why},
    )
    assert (
        found["g"][0]
        .sentence()
        .endswith(
            f"no spread to compare with: {why}; b-s2 has no result (failed, stopped or its folder "
            "removed); re-run the same vislab suite command, without --only if it had one (Python: "
            "only=), to train it."
        )
    )


@pytest.mark.filterwarnings("ignore:[ab]-s[012]")
def test_the_verdicts_and_the_note_tell_seeds_apart_alike(capsys, monkeypatch, tmp_path):
    """A failed seed is in no table: neither the note nor the verdicts compare its settings."""
    folder = _seed_folder(tmp_path)
    run = table_run(folder, "a-s2", "train.seed=2", "optim.lr=0.5", "data.split_seed=0")
    (run / "summary.json").write_text(json.dumps({"status": "failed", "model": "mlp", "seed": 2}))
    verdicts = _verdicts(capsys, folder)
    assert verdicts and all(_HINT in line for line in verdicts), verdicts
    skip_report_figures(monkeypatch)
    page = one_line(unescape(build_report(folder, log=lambda _: None).read_text()))
    code, said = cli(capsys, "paper", folder, "--out", tmp_path / "p", "--no-figures")
    assert code == 0, said
    tables = one_line((tmp_path / "p" / "tables.md").read_text())
    for text in (page, tables):
        assert _HINT in text and "optim.lr" not in text


# ---------------------------------------------------- one seed of a suite trained on by hand (Fix P)
@pytest.fixture(scope="module")
def resumed(tmp_path_factory) -> Path:
    """A suite (majority, mlp, wide; 2 seeds; group models in that order, compare previous) whose
    mlp-s0 was trained on by hand (``vislab train --resume S/mlp-s0 --epochs 2``)."""
    root = tmp_path_factory.mktemp("s26-resumed")
    suite = tiny_suite(runs__wide={"model.hidden": [32]}, seeds=2, compare="previous")
    suite["groups"] = {"models": ["majority", "mlp", "wide"]}
    (root / "suite.yaml").write_text(yaml.safe_dump(suite))
    out = root / "S"
    # no report of its own: each test builds the one it reads
    assert main(["suite", str(root / "suite.yaml"), "--out", str(out), "-q", "--no-report"]) == 0
    assert main(["train", "--resume", str(out / "mlp-s0"), "--epochs", "2", "-q"]) == 0
    return out


def test_a_group_member_whose_seeds_are_not_averaged_keeps_its_verdicts(
    capsys, monkeypatch, resumed, tmp_path
):
    """Each pair the suite asks for (mlp vs majority, wide vs mlp), with why mlp has no spread; no
    wide vs majority; alike in compare, report.html and the paper."""
    why = (
        "no spread to compare with: the seeds mlp-s0, mlp-s1 differ in train.epochs (mlp-s0 2, "
        "mlp-s1 1), so they are not averaged: to average them, run the suite again"
    )
    verdicts = _verdicts(capsys, resumed)
    assert [v.split(": ", 2)[1] for v in verdicts] == ["mlp vs majority", "wide vs mlp"], verdicts
    assert all(why in v for v in verdicts), verdicts
    skip_report_figures(monkeypatch)
    page = one_line(unescape(build_report(resumed, log=lambda _: None).read_text()))
    code, said = cli(capsys, "paper", resumed, "--out", tmp_path / "p", "--no-figures")
    assert code == 0, said
    tables = one_line((tmp_path / "p" / "tables.md").read_text())
    for text in (page, tables):
        assert f"mlp vs majority: {why}" in text and f"wide vs mlp: {why}" in text
        assert "wide vs majority" not in text


def _means(text: str) -> dict[str, dict[str, float]]:
    """Run → column header → the mean its cell shows, of `vislab compare`'s first table."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    out = {}
    for line in lines[2:]:
        if line.startswith("| run |"):
            break
        row = [c.strip().split(" ")[0].strip("*") for c in line.strip("|").split("|")]
        out[row[0]] = {h: float(c) for h, c in zip(header, row) if re.fullmatch(r"\d\.\d{4}", c)}
    return out


def test_no_bold_value_is_beaten_or_tied_by_another_row(capsys, monkeypatch, resumed, tmp_path):
    main_bold, _, text, _ = _bold_everywhere(capsys, monkeypatch, resumed, tmp_path / "p")
    means = _means(text)
    for run, head in main_bold:
        mine = means[run][head]
        others = [m[head] for r, m in means.items() if r != run and head in m]
        assert all(o > mine if "loss" in head else o < mine for o in others), (run, head, means)


def test_bold_is_never_given_a_value_a_row_of_another_test_set_beats_or_ties():
    """wide (2 seeds, each its own split) beats majority beyond the spread; mlp-s0, a row of one test
    set, shows a higher test ACC: no bold. Its val ACC lower than wide's: wide's stays bold."""
    own, one = "digits\x00test set own 1", "digits\x00test set 1"
    rows = [
        {"run": "majority", "test_acc": Spread([0.10, 0.10]), "val_acc": Spread([0.10, 0.11])},
        {"run": "wide", "test_acc": Spread([0.94, 0.95]), "val_acc": Spread([0.94, 0.95])},
        {"run": "mlp-s0", "test_acc": 0.95, "val_acc": 0.90},
    ]
    cols = [("test_acc", "test ACC"), ("val_acc", "val ACC")]
    assert bold_cells(rows, cols, [own, own, one]) == {(1, "val_acc")}
    tied = [*rows[:2], {"run": "mlp-s0", "test_acc": 0.945, "val_acc": 0.9}]
    assert bold_cells(tied, cols, [own, own, one]) == {(1, "val_acc")}
    # a row of another dataset, or of a test set not known, is no rival
    assert bold_cells(rows, cols, [own, own, "circles"]) == {(1, "test_acc"), (1, "val_acc")}
    unknown = "digits\x00test set unknown mlp-s0"
    assert bold_cells(rows, cols, [own, own, unknown]) == {(1, "test_acc"), (1, "val_acc")}
