"""Data notes a careful student found wrong: tiny data.split sizes blamed on the class names, a
data.limit_eval above the splits' sizes said nothing, and `data preview`'s help hiding that -n cuts the
classes of the originals row."""

import re

from conftest import cli, one_line


def _notes(text: str) -> list[str]:
    """The notes of a command's output, each on one line."""
    return [one_line(n) for n in re.split(r"(?m)^note: ", text)[1:]]


# ------------------------------------------------------------------ 1. tiny data.split sizes
def test_tiny_split_sizes_are_blamed_not_the_class_names(capsys):
    code, out = cli(capsys, "data", "info", "digits", "--set", "data.split=[5,5,5]")
    said = one_line(out)
    assert code == 0, out
    assert "class names" not in said, (
        said
    )  # digits holds all 10 classes: the 15 drawn missed 3 and 9
    assert "no split holds '3', '9' at all" in said, said
    assert "data.split=[5, 5, 5] draws too few samples for the 10 classes" in said, said
    # one fix for every split, in both notes, not one per split that leaves the others short
    fix = "--set data.split=[100,11,11] / data__split=[100, 11, 11]"  # digits' rarest class: 174 of 1797
    assert [fix in n for n in _notes(out)] == [True, True], _notes(out)
    assert "give test at least" not in said and "give val at least" not in said


def test_the_sizes_offered_hold_every_class_in_every_split(capsys):
    code, out = cli(capsys, "data", "info", "digits", "--set", "data.split=[100,11,11]")
    assert code == 0 and "note" not in out, out
    rows = [line.split("│")[2:5] for line in out.splitlines() if re.match(r"│ \d ", line)]
    assert len(rows) == 10 and all(int(n) > 0 for row in rows for n in row), out


# ------------------------------------------------------------------ 3. data.limit_eval above the splits
def test_a_limit_eval_above_the_splits_is_noted_once(capsys):
    code, out = cli(capsys, "data", "info", "digits", "--set", "data.limit_eval=500")
    notes = _notes(out)
    assert code == 0 and len(notes) == 1, out
    (note,) = notes
    assert (
        "data.limit_eval=500 asks for more samples than val and test hold (val 162, test 180)"
        in (note)
    )
    assert "--set data.limit_eval=180 / data__limit_eval=180" in note, note


def test_a_limit_eval_that_samples_a_split_says_nothing(capsys):
    code, out = cli(capsys, "data", "info", "digits", "--set", "data.limit_eval=170")
    assert code == 0 and "note" not in out, out  # val's 162 kept, test sampled to 170


# ------------------------------------------------------------------ 4. data preview -n
def test_preview_help_says_n_cuts_the_classes(capsys):
    code, out = cli(capsys, "data", "preview", "--help")
    said = one_line(out.replace("│", " "))
    assert code == 0, out
    assert "default: one of each class, 8 at least, 20 at most" in said, said
    assert "with more classes than N it shows the first N only" in said, said


def test_the_default_preview_labels_every_class(capsys, tmp_path, grid_rows):
    """Its originals row held 8 images, so digits' 8 and 9 (CIFAR-10's ship and truck) never showed."""
    code, out = cli(capsys, "data", "preview", "digits", "--out", tmp_path / "p.png")
    assert code == 0, out
    assert sorted(grid_rows["labels"][:10]) == [str(k) for k in range(10)], grid_rows["labels"]
    code, out = cli(capsys, "data", "preview", "digits", "-n", "4", "--out", tmp_path / "q.png")
    assert code == 0 and len(grid_rows["labels"]) == 4, grid_rows["labels"]


def test_the_sizes_offered_fit_the_data_and_its_rarest_class():
    """The review: 100 samples of 10 classes got [100,10,10] (120 samples); classes of 500, 500, 500, 10
    and 10 got [50,5,5], whose stratified draw still holds no sample of the rare ones."""
    import numpy as np

    from vislab.data.split_notes import _split_fix

    small = np.full(10, 10)
    assert "too few for that" in _split_fix([5, 3, 3], 10, small)
    rare = np.array([500, 500, 500, 10, 10])
    said = _split_fix([3, 2, 2], 5, rare)
    sizes = [int(v) for v in said.split("[")[1].split("]")[0].split(",")]
    assert all(n * 10 / rare.sum() >= 1 for n in sizes) and sum(sizes) <= rare.sum(), said


def test_eval_of_test_refuses_another_data_limit_but_takes_the_runs_own(capsys, trained):
    """data.limit keeps a part of the train split only: eval of test said nothing and scored the same
    images. Another value is refused, naming data.limit_eval; the run's own (300 here) goes through."""
    code, text = cli(capsys, "eval", trained, "--set", "data.limit=20", "--mistakes", "0")
    said = one_line(text)
    assert code == 2 and "--set data.limit_eval=20" in said and "Traceback" not in text, said
    assert cli(capsys, "eval", trained, "--set", "data.limit=300", "--mistakes", "0")[0] == 0
    assert cli(capsys, "eval", trained, "--split", "train", "--set", "data.limit=20")[0] == 0


def test_eval_of_test_given_a_null_data_limit_is_told_to_leave_it_out(capsys, trained):
    code, text = cli(capsys, "eval", trained, "--set", "data.limit=null", "--mistakes", "0")
    said = one_line(text)
    assert code == 2 and "Leave it out" in said and "limit_eval=null" not in said, said
