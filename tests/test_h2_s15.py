"""``vislab.compare``'s DataFrame is results.csv as pandas reads it back (a model option the row's model
lacks: an empty cell, NaN, not the text tables' ``n/a``; a numeric option's column stays numeric), and
eval's refusal of a folder of images without class folders names the run's own path in its Python fix."""

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import vislab
from conftest import cli, one_line, tiny_base
from vislab.errors import UserError

# a CNN with options an MLP and the majority baseline lack (a number, a flag, a word) beside an MLP with
# its own list: 4 settings differ, so the tables for people show them as columns
SUITE = {
    "base": tiny_base(),
    "runs": {
        "majority": {"model.name": "majority"},
        "mlp": {},
        "cnn": {
            "model.name": "cnn",
            "model.preset": "simple",
            "model.kernel_size": 5,
            "model.batchnorm": True,
        },
    },
}


@pytest.fixture(scope="module")
def suite(tmp_path_factory) -> Path:
    """The folder of SUITE, trained (a second or two)."""
    root = tmp_path_factory.mktemp("mixed")
    spec, out = root / "mixed.yaml", root / "out"
    spec.write_text(yaml.safe_dump(SUITE, sort_keys=False))
    vislab.run_suite(spec, out=out, quiet=True)
    return out


def test_compare_is_results_csv_read_back_dtypes_included(suite):
    table = vislab.compare(suite)
    written = pd.read_csv(suite / "results.csv")
    pd.testing.assert_frame_equal(table, written)  # before: "n/a" in model.kernel_size, an object
    kernel = table.set_index("run")["model.kernel_size"]
    assert pd.api.types.is_numeric_dtype(kernel)  # a number: mean(), comparisons work
    assert kernel["cnn"] == 5 and kernel[["majority", "mlp"]].isna().all()
    flags = table.set_index("run")["model.batchnorm"]
    assert flags["cnn"] == True and flags[["majority", "mlp"]].isna().all()  # noqa: E712
    assert table.set_index("run").loc["mlp", "model.hidden"] == "[16]"  # as results.csv has it
    assert "n/a" not in (suite / "results.csv").read_text()


def test_the_text_tables_keep_n_a_for_an_option_the_model_lacks(suite):
    md = (suite / "results.md").read_text()
    assert "| model.batchnorm | model.hidden | model.kernel_size | model.preset |" in md, md
    assert "| mlp | mlp | 0 | n/a | [16] | n/a | n/a |" in md, md
    assert "| cnn | cnn | 0 | true | n/a | 5 | simple |" in md, md  # a boolean as YAML spells it
    said = one_line(md)
    assert "mlp: model.batchnorm, model.kernel_size, model.preset; cnn: model.hidden)" in said, md


def test_compare_is_the_commands_csv_read_back(suite, tmp_path, capsys):
    runs = [suite / "mlp", suite / "cnn"]
    code, said = cli(capsys, "compare", *runs, "--csv", tmp_path / "two.csv")
    assert code == 0 and "| mlp | mlp | 0 | n/a | [16] | n/a | n/a |" in said, said
    table = vislab.compare(runs)
    pd.testing.assert_frame_equal(table, pd.read_csv(tmp_path / "two.csv"))
    assert np.isnan(table.set_index("run").loc["mlp", "model.kernel_size"])


# ---------------------------------------------------------------- eval of a folder without classes
@pytest.fixture
def flat(trained, tmp_path) -> Path:
    """A folder of two PNG images and no class folders."""
    from PIL import Image

    folder = tmp_path / "flat"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(folder / f"{i}.png")
    return folder


def test_the_python_fix_names_the_run_as_it_was_given(trained, flat, monkeypatch):
    monkeypatch.chdir(trained.parent)
    with pytest.raises(UserError) as e:
        vislab.load_run(trained.name).evaluate("all", data__root=str(flat))
    said = one_line(str(e.value))
    assert f"(Python: vislab.load_run('{trained.name}').predict_files('{flat}'))" in said, said
    assert "RUN" not in said  # before: load_run(RUN), the word, not the run
    with pytest.raises(UserError) as e:
        vislab.load_run(trained.name).evaluate("all", checkpoint="last", data__root=str(flat))
    assert f"predict_files('{flat}', checkpoint='last'))" in one_line(str(e.value))


def test_the_commands_message_names_the_run_of_a_checkpoint_file(trained, flat, capsys):
    last = trained / "checkpoints" / "last.pt"
    code, out = cli(capsys, "eval", last, "--split", "all", "--set", f"data.root={flat}")
    said = one_line(out)
    assert code != 0 and f"vislab predict {last} {flat} --csv" in said, out
    assert f"vislab.load_run('{trained}').predict_files('{flat}', checkpoint='last')" in said, out
    lone = flat.parent / "model.pt"  # a checkpoint file of no run: no run to load from Python
    shutil.copy(last, lone)
    code, out = cli(capsys, "eval", lone, "--split", "all", "--set", f"data.root={flat}")
    said = one_line(out)
    assert code != 0 and f"vislab predict {lone} {flat} --csv predictions.csv." in said, out
    assert "load_run" not in said, out
