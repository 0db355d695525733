"""A run, suite or sweep started in a vislab folder of another kind is refused before anything is written:
a run trained into a suite's folder wrote its config.yaml, checkpoints and summary.json among the suite's
own files (and its table then read the folder as a run)."""

from pathlib import Path

import pytest

import vislab
from conftest import TINY_DIGITS
from vislab.errors import UserError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _suite_folder(path: Path) -> Path:
    path.mkdir()
    (path / "suite.json").write_text("{}")
    (path / "results.md").write_text("a suite's table\n")
    return path


def _run_folder(path: Path) -> Path:
    (path / "checkpoints").mkdir(parents=True)
    (path / "config.yaml").write_text("model: {name: mlp}\n")
    (path / "summary.json").write_text('{"status": "complete"}')
    return path


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.mark.parametrize(
    "make, start, kind, found",
    [
        (
            _suite_folder,
            lambda out: vislab.train(out=out, quiet=True, **TINY_DIGITS),
            "run",
            "suite",
        ),
        (
            _run_folder,
            lambda out: vislab.run_suite("quickstart", out=out, epochs=1),
            "suite",
            "run",
        ),
        (
            _suite_folder,
            lambda out: vislab.sweep(EXAMPLES / "wandb-sweep.yaml", out=out, trials=1, epochs=1),
            "sweep",
            "suite",
        ),
    ],
)
def test_a_folder_of_another_kind_is_refused_and_left_as_it_was(tmp_path, make, start, kind, found):
    folder = make(tmp_path / "there")
    before = _names(folder)
    with pytest.raises(UserError) as refused:
        start(folder)
    text = " ".join(str(refused.value).split())
    assert f"'{folder}' holds a vislab {found}, and a {kind} writes its own files" in text, text
    assert f"--out {tmp_path / f'there-{kind}'}" in text, text
    assert _names(folder) == before
