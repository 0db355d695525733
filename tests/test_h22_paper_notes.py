"""A paper's notes as a reader meets them: each note the runs gave said once with the runs that gave it
(results.md alike), the data and settings said once in texts.tex rather than under every table, long
settings free to break at the margin, a kept epoch missing from metrics.jsonl noted, and a main.tex the
user kept told which of its \\input's and \\ref's a rebuild renamed (old → new)."""

import json
from pathlib import Path

from conftest import one_line, table_run
from vislab.experiments.results.texts import notes_markdown
from vislab.paper_folder.build import write_paper
from vislab.training.summary import RunSummary

SETTING = "train.epochs=1: the schedule does nothing"
FLIP = "augment.hflip.p=0.5 mirrors the digits"


def noted_run(folder: Path, name: str, notes: list[str], epochs: int = 2, best: int = 1) -> Path:
    """A finished mlp run that gave ``notes`` as it trained, with ``epochs`` rows of metrics.jsonl and
    ``best`` the epoch whose weights were kept."""
    folder.mkdir(parents=True, exist_ok=True)
    run = table_run(folder, name, "data.name=digits")
    summary = json.loads((run / "summary.json").read_text())
    summary.update(notes_given=notes, best_epoch=best, n_train=300, n_val=100, n_test=100)
    (run / "summary.json").write_text(json.dumps(summary))
    rows = [
        dict(epoch=e, train_loss=1 / e, train_acc=0.5, val_loss=1 / e, val_acc=0.5, lr=0.01)
        for e in range(1, epochs + 1)
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run


def unbroken(tex: str) -> str:
    return one_line(tex).replace("\\_", "_")


def test_each_note_is_said_once_with_the_runs_that_gave_it(tmp_path):
    runs = tmp_path / "runs"
    noted_run(runs, "a", [SETTING, FLIP])
    noted_run(runs, "b", [SETTING, FLIP])
    noted_run(runs, "c", [SETTING, FLIP])
    noted_run(runs, "d", [SETTING])
    write_paper([runs], out=tmp_path / "paper", figures=False, log=lambda _: None)
    tex = (tmp_path / "paper" / "texts.tex").read_text()
    notes = tex[tex.index("\\section*{Notes}") :]
    assert notes.count("\\item") == 2, notes
    said = unbroken(notes)
    assert f"{SETTING} (every run)" in said and f"{FLIP} (every run but d)" in said
    assert (
        "{\\sloppy\\begin{itemize}" in notes
    )  # a long setting goes to the next line, not past the margin
    summaries = {
        n: RunSummary.from_json(json.loads((runs / n / "summary.json").read_text())) for n in "abcd"
    }
    md = notes_markdown(summaries)
    assert md.count("\n- ") == 2
    assert f"- {SETTING} (every run)\n" in md and f"- {FLIP} (every run but d)\n" in md
    del summaries["c"]
    assert f"- {FLIP} (runs: a and b)\n" in notes_markdown(summaries)


def test_the_data_and_settings_are_said_once_not_under_every_table(tmp_path):
    runs = tmp_path / "runs"
    noted_run(runs, "a", [])
    noted_run(runs, "b", [], best=2)
    paper = tmp_path / "paper"
    write_paper([runs], out=paper, figures=False, log=lambda _: None)
    tables = one_line((paper / "tables.tex").read_text())
    assert "Data: digits" not in tables
    assert tables.count(
        "Data and how the runs were made: see ``Data and runs'' on page~\\pageref{sec:runs}."
    ) == tables.count("\\begin{table}")
    assert one_line((paper / "texts.tex").read_text()).count("Data: digits") == 1
    assert one_line((paper / "tables.md").read_text()).count("Data: digits") == 1


def test_a_kept_epoch_missing_from_metrics_jsonl_is_in_the_notes(tmp_path):
    runs = tmp_path / "runs"
    noted_run(runs, "ok", [])
    cut = noted_run(runs, "cut", [], epochs=2, best=3)  # its third row lost
    paper = tmp_path / "paper"
    write_paper([runs], out=paper, figures=False, log=lambda _: None)
    assert "(see the notes)" in (paper / "tables" / "cut_epochs.tex").read_text()
    tex = (paper / "texts.tex").read_text()
    said = unbroken(tex[tex.index("\\section*{Notes}") :])
    assert (
        f"cut: epoch 3, whose weights were kept (best.pt), has no row in {cut}/metrics.jsonl"
        in said
    )
    assert "tables/cut_epochs.tex" in said
    assert "ok: epoch" not in said


def test_a_kept_main_tex_is_told_what_a_rebuild_renamed(tmp_path):
    qs, extra, paper = tmp_path / "qs", tmp_path / "extra", tmp_path / "paper"
    noted_run(qs, "cnn", [])
    noted_run(qs, "mlp", [])
    noted_run(extra, "wide", [])
    write_paper([qs], out=paper, figures=False, log=lambda _: None)
    assert (paper / "tables" / "cnn_epochs.tex").is_file()
    main = paper / "main.tex"
    mine = "See Table~\\ref{tab:epochs-cnn} and \\ref{tab:accuracy}.\n\\input{tables/cnn_epochs}\n"
    mine += "% \\input{tables/mlp_epochs} a comment: not looked at\n"
    main.write_text(main.read_text().replace("\\maketitle\n", "\\maketitle\n" + mine))
    said: list[str] = []
    write_paper([qs, extra], out=paper, figures=False, log=said.append, keep_main=True)
    assert main.read_text().count("\\input{tables/cnn_epochs}") == 1  # the user's, kept
    [note] = [line for line in said if "no longer has" in line]
    assert "\\input{tables/cnn_epochs} → tables/qs_cnn_epochs" in note
    assert "\\ref{tab:epochs-cnn} → tab:epochs-qs-cnn" in note
    assert "tab:accuracy" not in note and "mlp_epochs" not in note
    assert "edit these in main.tex" in note


def test_a_title_given_beside_a_kept_main_tex_is_said_unused(tmp_path):
    qs, paper = tmp_path / "qs", tmp_path / "paper"
    noted_run(qs, "cnn", [])
    write_paper([qs], out=paper, figures=False, log=lambda _: None)
    main = paper / "main.tex"
    main.write_text(main.read_text().replace("\\maketitle\n", "\\maketitle\nMy own words.\n"))
    said: list[str] = []
    write_paper([qs], out=paper, figures=False, log=said.append, keep_main=True, title="New")
    assert any("--title (Python: title=) is not used" in line for line in said), said
    assert "My own words." in main.read_text()
    quiet: list[str] = []
    write_paper([qs], out=paper, figures=False, log=quiet.append, keep_main=True)
    assert not any("--title" in line for line in quiet)
