"""Only cli/ formats for a terminal: training progress and downloads report through vislab.reporting, the
command installs rich's bars (cli/terminal.py), the Python API gets plain lines; tables travel as text
cells (TextTable) that cli/ lays out."""

from __future__ import annotations

import contextlib
import hashlib

import optuna

from vislab.cli.terminal import RichDisplay, print_table
from vislab.data.download import download
from vislab.experiments.results.table import TextTable
from vislab.experiments.sweeps.trials import best_table
from vislab.reporting import display, use_display
from vislab.training.history import EpochRow
from vislab.training.progress import Progress

ROW_1 = EpochRow(epoch=1, train_loss=0.5, train_acc=0.75, lr=None, seconds=1.0)
ROW_2 = EpochRow(2, train_loss=0.25, train_acc=0.875, lr=None, seconds=2.0, val_loss=0.3)
ROW_2.val_acc, ROW_2.val_pacc = 0.8, 0.79


class RecordedBar:
    """A LiveBar that records what it is asked to show."""

    def __init__(self):
        self.calls: list[tuple] = []

    def start(self, description: str, total: int) -> None:
        self.calls.append(("start", description, total))

    def update(self, completed: int, info: str) -> None:
        self.calls.append(("update", completed, info))

    def restart(self, description: str) -> None:
        self.calls.append(("restart", description))

    def print(self, text: str) -> None:
        self.calls.append(("print", text))

    def stop(self) -> None:
        self.calls.append(("stop",))


class RecordedDisplay:
    """A Display whose bars record; ``downloads``: (name, total, done, the chunks advanced)."""

    def __init__(self):
        self.bar = RecordedBar()
        self.downloads: list[tuple] = []

    def live_bar(self) -> RecordedBar:
        return self.bar

    @contextlib.contextmanager
    def download_bar(self, name: str, total: int | None, done: int):
        chunks: list[int] = []
        self.downloads.append((name, total, done, chunks))
        yield chunks.append


def train_two_epochs(p: Progress) -> None:
    p.line("model: mlp")
    p.start(2, 10)
    p.update(5, loss=0.5, acc=0.75, lr=1e-3)
    p.epoch_done(ROW_1)
    p.epoch_done(ROW_2)
    p.stop()


def test_progress_drives_the_installed_bar(capsys):
    shown = RecordedDisplay()
    with use_display(shown):
        p = Progress(notebook=False)
    assert display() is None  # installed only while the block ran
    assert p.interactive
    train_two_epochs(p)
    assert shown.bar.calls == [
        ("print", "model: mlp"),
        ("start", "epoch 1/2", 10),
        ("update", 5, "loss 0.5000 acc 0.7500 lr 1.00e-03"),
        ("print", "epoch 1/2  train loss 0.5000 acc 0.7500  1.0s"),
        ("restart", "epoch 2/2"),
        (
            "print",
            "epoch 2/2  train loss 0.2500 acc 0.8750  val loss 0.3000 acc 0.8000 pacc 0.7900  2.0s",
        ),
        ("stop",),
    ]
    assert capsys.readouterr() == ("", "")


def test_without_a_display_progress_prints_plain_lines(capsys):
    p = Progress(notebook=False)
    assert not p.interactive and not p.wants_update(0)
    train_two_epochs(p)
    out, err = capsys.readouterr()
    assert out == "" and "\x1b" not in err
    assert err.splitlines() == [
        "model: mlp",
        "epoch 1/2  train loss 0.5000 acc 0.7500  1.0s",
        "epoch 2/2  train loss 0.2500 acc 0.8750  val loss 0.3000 acc 0.8000 pacc 0.7900  2.0s",
    ]


def test_quiet_and_notebook_progress_leave_the_installed_bar_alone(capsys):
    shown = RecordedDisplay()
    with use_display(shown):
        quiet, notebook = Progress(quiet=True, notebook=False), Progress(notebook=True)
    assert not quiet.interactive and not notebook.interactive
    train_two_epochs(quiet)
    assert shown.bar.calls == [] and capsys.readouterr() == ("", "")


def test_a_download_reports_through_the_installed_display(tmp_path, capsys):
    data = bytes(range(256)) * 40
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    shown = RecordedDisplay()
    with use_display(shown):
        dest = download(source.as_uri(), tmp_path / "data" / "f.bin", hashlib.md5(data).hexdigest())
    assert dest.read_bytes() == data
    assert shown.downloads == [("f.bin", len(data), 0, [len(data)])]
    download(source.as_uri(), tmp_path / "data" / "g.bin")  # no display, no terminal: nothing said
    assert capsys.readouterr() == ("", "")


def test_the_command_draws_rich_bars_only_on_a_terminal(monkeypatch, capsys):
    assert RichDisplay().live_bar() is None  # stderr is captured: no terminal
    with use_display(RichDisplay()):
        assert not Progress(notebook=False).interactive
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich takes stderr for a terminal
    with use_display(RichDisplay()):
        p = Progress(notebook=False)
    assert p.interactive
    train_two_epochs(p)
    err = capsys.readouterr().err
    assert "\x1b[" in err  # drawn in place with escape codes
    assert "epoch 1/2  train loss 0.5000 acc 0.7500  1.0s" in err and "model: mlp" in err


def test_a_text_table_is_laid_out_by_the_command(capsys):
    table = TextTable(
        headers=["run", "val ACC"],
        justify=["left", "right"],
        rows=[["mlp", "0.9000"], ["majority-baseline", "0.1000"]],
        title="quickstart on digits",
        caption="Data: digits.",
    )
    print_table(table, width=160)
    lines = capsys.readouterr().out.splitlines()
    assert "quickstart on digits" in lines[0] and "Data: digits." in lines[-1]
    mlp = next(line for line in lines if "mlp" in line)
    majority = next(line for line in lines if "majority-baseline" in line)
    assert mlp.index("0.9000") == majority.index("0.1000")  # figures right-aligned in their column


def test_the_best_trials_table_ranks_complete_trials():
    study = optuna.create_study(direction="maximize", study_name="s")
    study.set_user_attr("metric", "val_pacc")
    dist = {"lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)}
    for value, lr in ((0.5, 0.1), (0.9, 0.01), (0.7, 0.001)):
        study.add_trial(
            optuna.trial.create_trial(params={"lr": lr}, distributions=dist, value=value)
        )
    study.add_trial(
        optuna.trial.create_trial(
            params={"lr": 0.2}, distributions=dist, state=optuna.trial.TrialState.FAIL
        )
    )
    table = best_table(study, 2)
    assert table.headers == ["trial", "val_pacc", "lr"]
    assert table.rows == [["1", "0.9000", "0.01"], ["2", "0.7000", "0.001"]]
    assert table.title == "study s: best 2 by val_pacc (maximize); 3 complete, 1 failed"


def test_train_quiet_prints_plain_lines_without_the_bar(capsys, monkeypatch, tmp_path):
    """`vislab train --quiet`: its help says "Plain lines, no progress bar" — the epoch and result lines,
    and the display it installs offers no bar (it printed nothing at all)."""
    from conftest import cli

    bars: list[RichDisplay] = []
    monkeypatch.setattr(RichDisplay, "live_bar", lambda self: bars.append(self))  # None: no bar
    sets = ["data.name=digits", "data.limit=200", "model.name=mlp", "train.epochs=1"]
    args = [a for s in sets for a in ("--set", s)]
    code, text = cli(capsys, "train", *args, "--out", tmp_path / "run", "--quiet")
    assert code == 0 and "epoch 1/1" in text and "done (best.pt, epoch 1): val acc" in text, text
    assert [shown.bars for shown in bars] == [False]
