"""The ``vislab`` command. Exit codes: 0 success, 2 user error (message, no traceback), 1 runtime
failure, 130 interrupted (resumable); they follow the error's type (``vislab.errors``).

Commands import the layers they drive when they run ("on use" below): those load torch and, as a
command needs them, matplotlib, pandas and optuna (seconds), which `vislab --help`, tab completion and
usage errors should not wait for.
"""

from __future__ import annotations

import sys

# a Ctrl-C while the commands load (a third of a second, before main() watches for one) ends as one
# after: "interrupted.", exit 130, no traceback
try:
    import contextlib
    from pathlib import Path

    import typer

    from vislab.cli import compare as compare_cli
    from vislab.cli import data as data_cli
    from vislab.cli import experiments as experiments_cli
    from vislab.cli import explain as explain_cli
    from vislab.cli import export as export_cli
    from vislab.cli import figure as figure_cli
    from vislab.cli import lr_find as lr_find_cli
    from vislab.cli import model as model_cli
    from vislab.cli import paper as paper_cli
    from vislab.cli import predict as predict_cli
    from vislab.cli import quickstart as quickstart_cli
    from vislab.cli.endings import (
        DONE_THEN_CTRL_C,
        HOST_MEMORY,
        environment_error,
        err,
        out_of_memory,
        outcome,
        peer_gone,
    )
    from vislab.cli.options import ConfigOpt, SetOpt, TrustOpt, check_flags_and_sets
    from vislab.cli.resuming import check_resume_args, resumed_with
    from vislab.cli.stopped import Stopped, carry_interruptions
    from vislab.cli.terminal import (
        RichDisplay,
        flags_without_values,
        flow_summaries,
        notes_as_lines,
        outlets,
    )
    from vislab.config import Config, load_config
    from vislab.config.build import config_source
    from vislab.errors import VislabError
    from vislab.interrupts import hangup_as_term, take_ctrl_c, watch_ctrl_c
    from vislab.reporting import use_display
    from vislab.version import __version__
except KeyboardInterrupt:
    print("interrupted.", file=sys.stderr)
    raise SystemExit(130) from None

app = typer.Typer(
    add_completion=True,  # --install-completion, --show-completion
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["--help", "-h"]},  # every command's, its groups' too
    help="vislab: a lab bench for image classification.",
)
config_app = typer.Typer(no_args_is_help=True, help="Inspect configs.")
app.add_typer(config_app, name="config")


def _show_version(shown: bool) -> None:
    if shown:
        print(f"vislab {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        callback=_show_version,
        help="Print the version and exit.",
    ),
) -> None:
    """The options of ``vislab`` itself, before a command."""


ResumeOpt = typer.Option(
    None,
    "--resume",
    help="Continue the run in this directory, with its saved config. --set may change only where and "
    "how it runs: data.root, train.device, train.eval_batch_size, train.threads, track.*, ...",
)
OverwriteOpt = typer.Option(
    False,
    "--overwrite",
    help="Delete the run --out holds (a vislab run folder only) and start afresh.",
)
NprocOpt = typer.Option(
    1, "--nproc", min=1, help="Data-parallel processes on this machine (runs torchrun)."
)
EpochsOpt = typer.Option(
    None,
    "--epochs",
    min=1,
    help="train.epochs; with --resume, train a finished or interrupted run on to this many epochs "
    "(refused for cosine and one-cycle schedules, which spread over the total).",
)
InitFromOpt = typer.Option(
    None,
    "--init-from",
    help="Start from another run's weights (its folder or a checkpoint): train.init_from. Layers "
    "whose shapes differ (a head for other classes) are re-initialised and named.",
)


@app.command()
def train(
    config: str | None = ConfigOpt,
    set_: list[str] | None = SetOpt,
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Run directory (default runs/<model>-<data>-<time>)."
    ),
    resume: Path | None = ResumeOpt,
    overwrite: bool = OverwriteOpt,
    nproc: int = NprocOpt,
    epochs: int | None = EpochsOpt,
    init_from: Path | None = InitFromOpt,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Plain lines, no progress bar."),
    trust_code: bool = TrustOpt,
) -> None:
    """Train a model; writes config.yaml, metrics.jsonl, summary.json, checkpoints/ and figures/."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.api import train_config
    from vislab.training.launch import end_with_launcher

    end_with_launcher()  # in a --nproc worker: stop (as on SIGTERM) if the launcher dies
    if resume is not None:
        check_resume_args(resume, out, overwrite, init_from)
    set_ = [*(set_ or []), *([f"train.init_from={init_from}"] if init_from else [])]
    if epochs is not None and resume is None:
        check_flags_and_sets(set_, epochs=epochs)
        set_.append(f"train.epochs={epochs}")
    if nproc > 1:
        raise WorkersEnded(_launch(nproc, config, set_, resume, out, epochs))
    cfg = (
        checked_config(config, set_)
        if resume is None
        else resumed_with(resume, config, set_, epochs)
    )
    with use_display(RichDisplay(bars=False)) if quiet else contextlib.nullcontext():
        train_config(
            cfg,
            resume if resume is not None else out,
            resume=resume is not None,
            overwrite=overwrite,
            quiet=False,  # --quiet: the lines without the bar
            trust_code=trust_code,
            epochs=epochs if resume is not None else None,
        )


def _launch(
    nproc: int,
    config: str | None,
    set_: list[str],
    resume: Path | None,
    out: Path | None,
    epochs: int | None = None,
) -> int:
    """``--nproc``: the config checked once here (one error message, not one per rank; a resume's options
    too), then the ranks started — each runs the same command, so a resumed run's options reach them all;
    their exit code. The default folder made here is removed again, if still empty, when they fail."""
    from vislab.api import default_run_dir  # on use (module docstring)
    from vislab.training.launch import (
        check_gpu_count,
        check_launchable,
        crowded_note,
        launch_torchrun,
    )

    cfg = (
        checked_config(config, set_)
        if resume is None
        else resumed_with(resume, config, set_, epochs)
    )
    device = check_launchable(cfg, resume, nproc)
    if resume is not None and cfg is not None:  # the device it is resumed on, not the saved one
        device = cfg.train.device
    check_gpu_count(nproc, device)
    note = crowded_note(nproc, device)
    if note:
        err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    # one folder for every rank (each would name the default by its own clock)
    first = default_run_dir(cfg) if resume is None and cfg is not None and out is None else None
    code = 1
    try:
        code = launch_torchrun(nproc, sys.argv[1:], first, resume if resume is not None else out)
    finally:
        if code != 0 and first is not None:  # as one process does (api.train_config)
            with contextlib.suppress(OSError):  # an empty folder only: rmdir refuses any other
                first.rmdir()
    return code


def checked_config(config: str | None, set_: list[str]) -> Config:
    """The config of ``--config`` and ``--set``, its model's options checked here, naming where they were
    given ("Invalid config (my.yaml + --set): model 'mlp' has no option 'model.hiden'"), before any run
    folder is made or ``--nproc`` starts its ranks."""
    from vislab.models.registry import check_model_options  # on use (module docstring)

    cfg = load_config(config, set_)
    chosen = "name" in cfg.model.model_fields_set  # else the default model's, never chosen
    source = config_source(config, set_)
    check_model_options(cfg.model.name, cfg.model.kwargs(), source=source, chosen=chosen)
    return cfg


predict_cli.register(app)  # eval, predict: listed after train
quickstart_cli.register(app)


@config_app.command("show")
def config_show(config: str | None = ConfigOpt, set_: list[str] | None = SetOpt) -> None:
    """Print the resolved config (defaults ← file ← --set), the model's options with the values it uses
    (a preset's or the builder's where left unset, marked by a comment; so is the schedule's own gamma);
    the model's name and options are checked as `vislab train` checks them. Then, as `vislab train` does,
    a note for each setting that does nothing."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.api.configs import shown_config
    from vislab.config import config_notes
    from vislab.errors import show_note

    cfg = load_config(config, set_ or [])
    print(shown_config(cfg), end="")
    for note in config_notes(cfg):
        show_note(note)


# The command groups that live in their own modules: vislab data ..., vislab model ..., suite/sweep/report.
app.add_typer(data_cli.app, name="data")
app.add_typer(model_cli.app, name="model")
app.add_typer(figure_cli.app, name="figure")
experiments_cli.register(app)
export_cli.register(app)
explain_cli.register(app)
lr_find_cli.register(app)
paper_cli.register(app)
compare_cli.register(app)


flow_summaries(app)
carry_interruptions(app)
flags_without_values()

# typer ≥ 0.22 vendors click: take its exception classes from typer's public names, not from `click`
_CLICK_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class WorkersEnded(Exception):
    """``--nproc``: the workers' exit code, passed on as it is. They said what happened (a Ctrl-C too),
    whereas typer would turn a 130 into a silent Ctrl-C of the launcher's own, which main() would report."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and map errors to messages and exit codes. ``argv`` None: the process's
    own command line (the ``vislab`` script, ``python -m vislab``), which ends with the command: a Ctrl-C
    after the command is ignored (``watch_ctrl_c(last=True)``). For every command, a closed stdout or
    stderr, or one that cannot encode a character, never stops its work (``outlets``); a hang-up stops it
    as SIGTERM does (``hangup_as_term``)."""
    with outlets(), hangup_as_term():
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    """:func:`main`'s command, its errors mapped to messages and exit codes."""
    try:
        # a Ctrl-C is remembered from here on; the layers below show progress with rich's bars
        with watch_ctrl_c(last=argv is None), use_display(RichDisplay()), notes_as_lines(err):
            rv = app(args=argv, prog_name="vislab", standalone_mode=False)
            # a Ctrl-C raised inside a finaliser, which Python prints as "Exception ignored" and goes on
            # from: the command finished, but the user asked it to stop
            swallowed = take_ctrl_c()
        # typer ends a Ctrl-C that no handler of vislab's caught with 130, and says nothing
        if rv == 130:
            return outcome(KeyboardInterrupt())
        if swallowed and rv in (None, 0):  # the command went on past it to its end
            err.print(DONE_THEN_CTRL_C, soft_wrap=True)
            return 130
        if isinstance(rv, int):  # typer.Exit(code) inside a command returns its code here
            return rv
    except WorkersEnded as e:
        return e.code
    except Stopped as e:
        return outcome(e.interruption)
    except (VislabError, typer.Exit, typer.Abort, _CLICK_ERROR, KeyboardInterrupt) as e:
        return outcome(e)
    except MemoryError:
        err.print(HOST_MEMORY.format(eval=""), soft_wrap=True)
        return 1
    except OSError as e:  # the environment: full disk, read-only or forbidden path, a file where a folder should be
        code = environment_error(e, _takes_out(argv))
        if code is None:
            raise
        return code
    except RuntimeError as e:  # CUDA OOM is a RuntimeError subclass
        if peer_gone(e):
            return 130
        if not out_of_memory(e):
            raise
        return 1
    return 0


def _takes_out(argv: list[str] | None) -> bool:
    """Whether the command on the command line has an --out option (``vislab sweep FILE``: its group's
    default command, ``sweep run``)."""
    command = typer.main.get_command(app)
    for word in sys.argv[1:] if argv is None else argv:
        commands = getattr(command, "commands", {})
        sub = commands.get(word, commands.get("run") if not word.startswith("-") else None)
        if sub is None:
            break
        command = sub
    return any("--out" in getattr(p, "opts", ()) for p in getattr(command, "params", ()))


if __name__ == "__main__":
    sys.exit(main())
