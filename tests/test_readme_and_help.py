"""What the README promises of the first commands a user runs: `vislab quickstart`'s table says what each
row was, its options have help texts, `vislab data info NAME` takes a --set that agrees with NAME."""

import typer

from figures_skipped import skip_report_figures
from vislab.cli import app, main
from vislab.cli.terminal import fit_table, print_markdown


def run(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_quickstart_table_names_each_rows_model_seed_and_changed_settings(
    capsys, tmp_path, monkeypatch
):
    skip_report_figures(monkeypatch)  # its report: tests/test_reported.py
    code, out, _ = run(capsys, "quickstart", "--out", tmp_path, "--epochs", "1", "--quiet")
    assert code == 0
    assert out.strip() == (tmp_path / "results.md").read_text().strip()  # as `vislab suite` prints
    assert (
        "| run | model | seed | " in out and "model.hidden" in out
    )  # a column, or a line under it
    for name in ("majority", "mlp", "cnn"):
        assert f"| {name} | {name} | 0 |" in out


def test_quickstart_options_say_what_they_do():
    command = typer.main.get_command(app).commands["quickstart"]
    helps = {p.opts[0]: p.help for p in command.params if p.opts[0] != "--help"}
    assert set(helps) == {"--out", "--epochs", "--quiet"}
    assert all(len(text or "") > 20 for text in helps.values()), helps


TABLE = [
    "| run | model | seed | train ACC | val ACC | test ACC | test loss | parameters |",
    "|---|---|---|---:|---:|---:|---:|---:|",
    "| majority | majority | 0 | 0.1017 | 0.0988 | 0.1000 | 2.3027 | 10 |",
    "| cnn | cnn | 0 | 0.6507 | **0.9259** | 0.9167 \\| x | **0.2618** | 229,730 |",
]


def test_a_results_table_fits_the_terminal_in_blocks_of_columns(capsys, monkeypatch):
    """`vislab suite`, `quickstart` and `compare` print results.md: on a 60-column terminal its table
    comes in blocks of aligned columns, each starting with the run, no cell lost or cut."""
    text = "# suite t\n\n" + "\n".join(TABLE) + "\n\nIn bold, the best."
    print_markdown(text)  # into a pipe: as it is
    assert capsys.readouterr().out.strip() == text
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich: stdout is a terminal
    monkeypatch.setenv("COLUMNS", "60")
    print_markdown(text)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "# suite t" and lines[-1] == "In bold, the best."
    assert all(len(line) <= 60 for line in lines)
    blocks = "\n".join(lines[2:-2]).split("\n\n")
    assert len(blocks) > 1
    for block in blocks:  # each block a table of its own, starting with the run
        rows = block.splitlines()
        assert [r.split("|")[1].strip() for r in rows] == ["run", "--------", "majority", "cnn"]
        assert len({len(r) for r in rows}) == 1  # aligned
    cells = " ".join(lines)
    for cell in ("229,730", "**0.9259**", "0.9167 \\| x", "train ACC", "parameters"):
        assert cells.count(cell) == 1, cell
    assert fit_table(TABLE, 200)[2].startswith("| majority | majority | 0    |    0.1017 |")


def test_data_info_takes_a_set_that_agrees_with_name(capsys):
    code, out, err = run(capsys, "data", "info", "digits", "--set", "data.name=digits")
    assert code == 0, err
    assert "digits" in out and "total" in out
    code, _, err = run(capsys, "data", "info", "digits", "--set", "data.name=circles")
    assert code == 2
    assert "NAME digits and --set data.name=circles both set data.name" in err
