"""``run.mistakes(split)``: eval's list of wrong predictions in Python — the rows of
``mistakes_<split>.csv``, which only the command wrote."""

import pandas as pd

import vislab
from conftest import cli


def test_run_mistakes_is_evals_csv_as_a_table(trained, capsys):
    run = vislab.load_run(trained)
    table = run.mistakes("val")
    code, text = cli(capsys, "eval", trained, "--split", "val", "--mistakes", "0")
    assert code == 0, text
    written = pd.read_csv(trained / "figures" / "mistakes_val.csv", keep_default_na=False)
    assert list(table.columns) == ["file", "index", "true", "predicted", "probability", "source"]
    pd.testing.assert_frame_equal(table.astype(str), written.astype(str))
    scores = run.evaluate("val")
    assert len(table) == round((1 - scores["acc"]) * scores["n"]) > 0
    assert (table["true"] != table["predicted"]).all()
    assert table["probability"].is_monotonic_decreasing  # most confident first
