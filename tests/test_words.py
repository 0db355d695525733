"""Lists in words (vislab/words.py): the one way messages write "a, b and c" and "a, b, c and 4 more"."""

from __future__ import annotations

from pathlib import Path

from vislab.not_a_run import runs_folder_note
from vislab.words import and_list, first_few


def test_and_list_joins_the_last_with_and():
    assert and_list(["a"]) == "a"
    assert and_list(["a", "b"]) == "a and b"
    assert and_list(["a", "b", "c"]) == "a, b and c"


def test_first_few_names_the_first_and_counts_the_rest():
    names = [f"run{i}" for i in range(7)]
    assert first_few(names, 3) == "run0, run1, run2 and 4 more"
    assert first_few(names[:3], 3) == "run0, run1, run2"  # all shown: no count
    assert first_few(names[:4], 3) == "run0, run1, run2 and 1 more"
    assert first_few([], 3) == ""


def test_a_folder_of_runs_names_three_then_how_many_more(tmp_path: Path):
    """A folder given as a run names a few of its runs in the words every other list uses (it said
    "(and 2 more)" in brackets before)."""
    for name in "abcde":
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.yaml").write_text("{}\n")
    note = runs_folder_note(tmp_path)
    a, b, c = (repr(str(tmp_path / n)) for n in "abc")
    assert note is not None and note.endswith(f"e.g. {a}, {b}, {c} and 2 more.")
