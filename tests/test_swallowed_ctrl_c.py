"""A Ctrl-C that lands in a finaliser (Python prints "Exception ignored" and goes on) still ends the
command as interrupted: exit 130, one line saying the command went on to its end (all done), no
traceback — as when a sweep was writing its results."""

import vislab.cli as cli_module
from conftest import cli
from vislab import interrupts


def test_a_ctrl_c_swallowed_by_a_finaliser_ends_the_command_as_interrupted(capsys, monkeypatch):
    load = cli_module.load_config

    class Finalised:
        def __del__(self):  # the signal handler raising inside a finaliser, as SIGINT would
            interrupts._interrupt(2, None)

    def load_then_ctrl_c(*args, **kwargs):
        Finalised()  # collected at once: its KeyboardInterrupt is "ignored" by Python
        return load(*args, **kwargs)

    monkeypatch.setattr(cli_module, "load_config", load_then_ctrl_c)
    code, out = cli(capsys, "config", "show", "--set", "model.name=mlp")
    assert code == 130 and "interrupted: a Ctrl-C came while the command ran" in out, out
    assert "went on to its end: all it does is done" in out  # not a bare "interrupted."
    assert "Exception ignored" not in out and "model:" in out  # the command itself finished


def test_a_command_without_ctrl_c_ends_as_before(capsys):
    code, out = cli(capsys, "config", "show", "--set", "model.name=mlp")
    assert code == 0 and "interrupted" not in out, out
