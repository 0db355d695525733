"""The command in scripts and shells: a closed pipe or an output that cannot encode a character never stops the
work; --version, -h and shell completion; SIGHUP stops a training as SIGTERM does; flags show no value in
help; no live bar on a terminal that cannot redraw."""

import io
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import typer

from conftest import REPO, cli
from fixtures import KILL_ARGS, PY
from vislab.cli import app, main
from vislab.cli.terminal import Outlet, RichBar, RichDisplay
from vislab.interrupts import hangup_as_term
from vislab.version import __version__

ENV = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")

# a child's stdout (and with "2", its stderr) on a pipe whose reader is gone
CLOSED = "import os\nr, w = os.pipe()\nos.close(r)\nfor fd in {fds}: os.dup2(w, fd)\nos.close(w)\n"
EVAL_FILES = ("confusion_test.png", "mistakes_test.csv", "per_class_test.csv", "confusion_test.csv")


def _wait(zygote, pid: int) -> int:
    code = zygote.wait(pid, 60)
    assert code is not None, "the command did not end"
    return code


def test_a_closed_pipe_on_stdout_stops_nothing_and_python_says_nothing_at_exit():
    # `vislab --version | grep -q x`: the reader gone before the command wrote
    proc = subprocess.Popen(
        [PY, "-m", "vislab", "--version"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=ENV,
        cwd=REPO,
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 0, err
    assert err == ""  # no "Exception ignored ... BrokenPipeError"


def test_eval_into_a_closed_pipe_writes_all_its_files(zygote, trained, tmp_path):
    figures = trained / "figures"
    for name in EVAL_FILES:
        (figures / name).unlink(missing_ok=True)
    log = tmp_path / "stderr.log"
    pid = zygote.start(["eval", trained, "--mistakes", "0"], log, pre=CLOSED.format(fds="(1,)"))
    assert _wait(zygote, pid) == 0, log.read_text()
    assert all((figures / name).is_file() for name in EVAL_FILES)
    assert "Error" not in log.read_text()


def test_training_into_a_closed_pipe_trains_to_its_end(zygote, tmp_path):
    # `vislab train ... 2>&1 | head -2`: both streams gone
    run = tmp_path / "run"
    pid = zygote.start(
        [*KILL_ARGS, "--set", "data.limit=100", "--out", run],
        tmp_path / "log",
        pre=CLOSED.format(fds="(1, 2)"),
    )
    assert _wait(zygote, pid) == 0
    assert json.loads((run / "summary.json").read_text())["status"] == "complete"


def test_eval_on_an_ascii_stdout_replaces_what_it_cannot_encode(zygote, trained, tmp_path):
    # PYTHONIOENCODING=ascii, a cp1252 log: "true → predicted" is written "true ? predicted"
    (trained / "figures" / "per_class_test.csv").unlink(missing_ok=True)
    log = tmp_path / "out.log"
    pre = "import sys\nsys.stdout.reconfigure(encoding='ascii')\nsys.stderr.reconfigure(encoding='ascii')"
    pid = zygote.start(["eval", trained, "--mistakes", "0"], log, pre=pre)
    code, text = _wait(zygote, pid), log.read_text()
    assert code == 0, text
    assert "true ? predicted" in text and "UnicodeEncodeError" not in text
    assert (trained / "figures" / "per_class_test.csv").is_file()


def test_an_outlet_writes_unencodable_characters_as_question_marks():
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="cp1252")
    Outlet(stream).write("6 → 5: 15\n")
    stream.flush()
    assert raw.getvalue() == b"6 ? 5: 15\n"


def test_an_outlet_drops_what_follows_a_closed_pipe():
    r, w = os.pipe()
    os.close(r)
    outlet = Outlet(open(w, "w", encoding="utf-8"))  # noqa: SIM115 - the outlet is the test's subject
    try:
        assert outlet.write("x" * 100_000) == 100_000  # more than a pipe's buffer: written now
        outlet.write("later\n")
        outlet.flush()
    finally:
        outlet.stream.close()


def test_version_is_printed_and_pyproject_agrees(capsys):
    pyproject = (REPO / "pyproject.toml").read_text()  # tomllib: Python 3.11 on
    assert re.findall(r'(?m)^version = "(.*)"$', pyproject) == [__version__] == ["0.2.0"]
    code, out = cli(capsys, "--version")
    assert (code, out) == (0, f"vislab {__version__}\n")


def _commands(command: typer.main.TyperGroup, path: tuple[str, ...] = ()):
    for name, sub in getattr(command, "commands", {}).items():
        yield (*path, name)
        yield from _commands(sub, (*path, name))


def test_dash_h_is_help_for_every_command(capsys):
    commands = list(_commands(typer.main.get_command(app)))
    assert ("sweep", "show") in commands and ("train",) in commands
    for command in commands:
        code, out = cli(capsys, *command, "-h")
        assert code == 0 and "Usage: vislab " + " ".join(command) in one_spaced(out), command


def one_spaced(text: str) -> str:
    return " ".join(text.split())


def test_help_shows_no_value_after_a_flag(capsys):
    code, out = cli(capsys, "compare", "-h")
    assert code == 0
    force = next(line for line in out.splitlines() if "--force" in line)
    assert "<bool>" not in out and "<" not in force
    assert "<path>" in next(line for line in out.splitlines() if "--csv" in line)


def test_shell_completion_prints_a_script_and_completes_commands(capsys, monkeypatch):
    code, out = cli(capsys, "-h")
    assert "--install-completion" in out and "--show-completion" in out
    monkeypatch.setenv("_VISLAB_COMPLETE", "source_bash")
    with pytest.raises(SystemExit) as ended:
        main([])
    assert ended.value.code == 0
    assert "complete -o default -F _vislab_completion vislab" in capsys.readouterr().out
    monkeypatch.setenv("_VISLAB_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", "vislab tr")
    monkeypatch.setenv("COMP_CWORD", "1")
    with pytest.raises(SystemExit):
        main([])
    assert capsys.readouterr().out.split() == ["train"]


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP here")
def test_a_hang_up_stops_training_resumably_as_sigterm_does(zygote, tmp_path):
    run, log = tmp_path / "run", tmp_path / "log"
    args = [a if a != "train.epochs=3" else "train.epochs=200" for a in KILL_ARGS]
    # a fresh shell's disposition, whatever the test runner's (nohup)
    pre = "import signal\nsignal.signal(signal.SIGHUP, signal.SIG_DFL)"
    pid = zygote.start([*args, "--out", run], log, pre=pre)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (log.exists() and "epoch 1/200" in log.read_text()):
        time.sleep(0.05)
    os.kill(pid, signal.SIGHUP)
    assert _wait(zygote, pid) == 130, log.read_text()
    assert json.loads((run / "summary.json").read_text())["status"] == "interrupted"
    assert f"vislab train --resume {run}" in one_spaced(log.read_text())


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP here")
def test_an_ignored_hang_up_stays_ignored():
    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # nohup
    try:
        with hangup_as_term():
            assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, old)


@pytest.mark.parametrize(("term", "bar"), [("dumb", False), ("xterm-256color", True)])
def test_a_terminal_that_cannot_redraw_gets_no_bar(monkeypatch, capsys, term, bar):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich: stderr is a terminal
    monkeypatch.delenv("TTY_INTERACTIVE", raising=False)
    monkeypatch.setenv("TERM", term)
    assert isinstance(RichDisplay().live_bar(), RichBar) is bar
    with RichDisplay().download_bar("data.tar.gz", 10, 0) as advance:
        advance(5)
    err = capsys.readouterr().err
    assert "downloading data.tar.gz" in err  # a bar, or one plain line where none can be drawn
    assert (err.strip() == "downloading data.tar.gz") is not bar


def test_the_entry_point_puts_the_streams_back(capsys):
    before = sys.stdout, sys.stderr
    cli(capsys, "--version")
    assert (sys.stdout, sys.stderr) == before
