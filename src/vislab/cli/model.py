"""``vislab model ...``: list models, show a model's layer table, check mlp-scratch's gradients.

Commands import the layers they drive when they run ("on use" below): those load torch,
scikit-learn, matplotlib and optuna (~3 s here), which `vislab --help`, tab completion and usage
errors should not wait for.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vislab.cli.options import TrustOpt
from vislab.cli.terminal import WHOLE
from vislab.config import parse_value
from vislab.errors import UserError

if TYPE_CHECKING:
    from vislab.models.info import ModelInfo

app = typer.Typer(
    no_args_is_help=True, help="Inspect models: list, layer table and costs, gradient check."
)
# emoji off: rich turns ':Cat' in a user's model name (cat.py:Cat) into an emoji, escaped or not
console = Console(emoji=False)
err = Console(stderr=True, emoji=False)

SetOpt = typer.Option(
    None, "--set", "-s", help="A model option: key=value or model.key=value (repeatable)."
)


def parse_shape(text: str) -> tuple[int, ...]:
    """'3x32x32' → (3, 32, 32) (images, C×H×W); '2' → (2,) (feature vectors)."""
    parts = text.lower().replace("×", "x").replace(",", "x").split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) not in (1, 3) or min(shape, default=0) < 1:
        raise UserError(
            f"--input '{text}' is not a shape: give C×H×W for images (e.g. 3x32x32, 1x28x28) "
            f"or D for feature vectors (e.g. 2)."
        )
    return shape


def parse_sets(sets: list[str] | None) -> dict:
    """``--set`` assignments → model kwargs (YAML-typed values; a leading 'model.' is optional)."""
    kwargs = {}
    for s in sets or []:
        key, eq, text = s.partition("=")
        key = key.strip().removeprefix("model.")
        if not eq or not key or "." in key:
            raise UserError(
                f"--set '{s}' is not a model option of the form key=value (e.g. --set depth=6)."
            )
        if key == "name":
            raise UserError(
                "--set name=...: give the model name as the argument, e.g. `vislab model info vit`."
            )
        kwargs[key] = parse_value(text)
    return kwargs


@app.command("list")
def list_models() -> None:
    """The registered models and their options with the values they take when left unset (a preset's
    or the builder's); timm:<name> for any timm model. `vislab model info NAME` says what each option does."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.config.overrides import as_yaml
    from vislab.models import MODELS
    from vislab.models.info import resolved_options

    table = Table(title="models (set options with --set model.KEY=VALUE)")
    table.add_column("name")
    table.add_column("options (default)")
    for name in sorted(MODELS):
        opts = ", ".join(f"{k}={as_yaml(v)}" for k, (v, _) in resolved_options(name, {}).items())
        table.add_row(escape(name), escape(opts or "-"))
    table.add_row(
        "timm:<name>",
        escape(
            "pretrained=False, weights=None, any timm.create_model option "
            "(pip install 'vislab[timm]')"
        ),
    )
    console.print(table)


@app.command("info")
def info(
    name: str = typer.Argument(
        ...,
        help="Model name, e.g. vit, cnn, resnet18, mlp-scratch, timm:vit_tiny_patch16_224; or a run folder "
        "(or checkpoint file): that run's model, at its input shape.",
    ),
    set_: list[str] | None = SetOpt,
    input_: str | None = typer.Option(
        None, "--input", "-i", help="Input shape: C×H×W or D (default 3x32x32; a run: its own)."
    ),
    classes: int | None = typer.Option(
        None, "--classes", "-k", min=1, help="Number of classes (default 10; a run: its own)."
    ),
    trust_code: bool = TrustOpt,
) -> None:
    """Layer table: each layer's output shape, parameters, MACs and receptive field; totals; for a ViT
    its token count and the attention's share of the cost; then each option of the model: the value it
    uses (a preset's or the builder's where left unset), the values allowed, what it does."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.api.models import model_info
    from vislab.models import MODELS

    if _is_run(name, model_options=bool(set_) or input_ is not None or classes is not None):
        _refuse_run_options(name, set_, input_, classes)
        found = model_info(Path(name), trust_code=trust_code)
    else:
        shape = (
            None if input_ is None else parse_shape(input_)
        )  # "" is a bad shape, not the default
        found = model_info(name, shape, classes, **_options_only(parse_sets(set_)))
    _wide().print(_layer_rows(found))
    for line in found.lines():
        console.print(escape(line), highlight=False, soft_wrap=True)
    if found.name in MODELS:  # a registered model's own options (not a run's, not code of yours)
        _print_options(found.name, parse_sets(set_))
    elif note := _options_elsewhere(found.name):
        console.print(note, markup=False, highlight=False, soft_wrap=True)


def _wide() -> Console:
    """Stdout's console: a terminal's width; into a file or a pipe its natural width, names not cut."""
    return console if console.is_terminal else Console(width=WHOLE, emoji=False)


def _options_only(options: dict) -> dict:
    """``options`` (from --set), refused with a UserError when one is model info's own input shape or
    class count (``-s num_classes=5``), which its --input and --classes give."""
    flags = {"num_classes": "--classes", "input_shape": "--input"}
    for key, flag in flags.items():
        if key in options:
            example = "5" if key == "num_classes" else "1x28x28"
            raise UserError(
                f"-s {key}: {key} is no model option; model info takes it as {flag} (Python: "
                f"vislab.model_info(..., {key}=...)), as a run takes it from its data. Give {flag} "
                f"instead, e.g. {flag} {example}."
            )
    return options


def _options_elsewhere(name: str) -> str:
    """Why model ``name`` gets no options table, where its options are told: a library's (timm:NAME),
    a file's or module's model; "" for any other (a run's model prints its own options above)."""
    from vislab.models import MODEL_PREFIXES
    from vislab.models.user import is_user_reference

    prefix, _, rest = name.partition(":")
    if rest and prefix in MODEL_PREFIXES:
        return (
            f"options: {prefix}'s own keyword arguments, passed on as given; see {prefix}'s docs."
        )
    if is_user_reference(name):
        return (
            "options: a file model's constructor (or builder) arguments, as its code declares them."
        )
    return ""


def _print_options(name: str, given: dict) -> None:
    """Each option of model ``name`` as a table: the value it uses, the values allowed, what it does;
    a line saying it has none for a model without options."""
    from vislab.models.info import option_rows  # on use (module docstring)

    rows = option_rows(name, given)
    if not rows:
        console.print(f"{name} has no options.", markup=False, highlight=False, soft_wrap=True)
        return
    table = Table(title=f"options of {escape(name)} (--set KEY=VALUE)")
    for col in ("option", "value", "allowed", "what it does"):
        table.add_column(col)
    for row in rows:
        table.add_row(*map(escape, row))
    _wide().print(table)


def _is_run(name: str, model_options: bool) -> bool:
    """Whether ``name`` is a checkpoint file or a folder vislab wrote (a run; a suite or sweep, which
    loading refuses naming its runs) rather than a model name. Any other folder is no run: a name shared
    by a registered model and such a folder is the model when ``model_options`` (--set, --input,
    --classes: a run has its own) were given, else the run; a note says which was taken."""
    # on use: vislab.api loads torch & co. (module docstring)
    from vislab.api.folders import folder_kind
    from vislab.models import MODELS

    path = Path(name).expanduser()
    if path.is_file():
        return path.suffix == ".pt"
    kind = folder_kind(path)
    if kind is None or name not in MODELS:
        return kind is not None
    taken = (
        f"the model '{name}' (the options given are a model's); for the run give ./{name}"
        if model_options
        else f"the {kind} folder; for the model give --input (e.g. --input 3x32x32)"
    )
    note = f"note: '{name}' is a model name and a {kind} folder here: showing {taken}."
    err.print(note, markup=False, highlight=False, soft_wrap=True)
    return not model_options


def _refuse_run_options(
    target: str, sets: list[str] | None, input_: str | None, classes: int | None
) -> None:
    """UserError when --set, --input or --classes come with a run: its model has its own."""
    options = (("--set", sets or None), ("--input", input_), ("--classes", classes))
    given = [f for f, v in options if v is not None]
    if given:
        raise UserError(
            f"{', '.join(given)}: '{target}' is a run, whose model, options, input shape and classes are "
            f"its own. Drop {' and '.join(given)}, or give a model name (e.g. `vislab model info cnn`)."
        )


def _layer_rows(t: ModelInfo) -> Table:
    """The layer table: each layer's type, output shape, parameters, MACs and receptive field, then totals."""
    table = Table(title=escape(t.title))
    for col, justify in (
        ("layer", "left"),
        ("type", "left"),
        ("output shape", "left"),
        ("params", "right"),
        ("MACs", "right"),
        ("receptive field", "left"),
    ):
        table.add_column(col, justify=justify)
    for r in t.rows:
        # a fitted model's parameters are buffers (``ModelInfo.counts_buffers``): none is frozen
        frozen = _frozen_text(r.params, r.trainable) if not t.counts_buffers else ""
        table.add_row(
            escape(r.name),
            escape(r.type),
            escape(r.output_shape),
            f"{r.params:,}{frozen}",
            f"{r.macs:,}" if r.macs else "",
            _field_text(r.field),
        )
    table.add_section()
    table.add_row("total", "", "", f"{t.params:,}", f"{t.macs:,}", "")
    return table


def _frozen_text(params: int, trainable: int) -> str:
    """' (frozen)' after a row's parameter count when none of them trains, ' (800 frozen)' when some do."""
    if trainable >= params:
        return ""
    return " (frozen)" if trainable == 0 else f" ({params - trainable:,} frozen)"


def _field_text(field) -> str:
    """'14, jump 2' (square) or '7×5, jump 2×1' for a conv or pool layer's receptive field; '' for others."""
    if field is None:
        return ""
    (h, w), (jh, jw) = field.size, field.jump
    if (h, jh) == (w, jw):
        return f"{h}, jump {jh}"
    return f"{h}×{w}, jump {jh}×{jw}"


@app.command("gradcheck")
def gradcheck(
    name: str = typer.Argument(
        "mlp-scratch",
        help="A model with hand-written gradients: mlp-scratch, or your own (file.py:Net) with a "
        "hand_written_gradients hook.",
    ),
    set_: list[str] | None = SetOpt,
    input_: str = typer.Option(
        "2",
        "--input",
        "-i",
        help="Input shape: D (2) or C×H×W (a model that takes images: give one).",
    ),
    classes: int = typer.Option(3, "--classes", "-k", min=2),
    batch: int = typer.Option(16, "--batch", "-b", min=1),
    seed: int = typer.Option(0, "--seed"),
    tol: float = typer.Option(1e-6, "--tol", help="Largest relative error accepted."),
) -> None:
    """Hand-written backprop vs torch.autograd in float64; exit code 1 if an error exceeds --tol."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.api.models import gradcheck as check_gradients

    shape = parse_shape(input_)
    options = parse_sets(set_)
    _refuse_own_settings(options, set_ or [])
    check = check_gradients(name, shape, classes, batch=batch, seed=seed, tol=tol, **options)
    table = Table(title=f"{check.model}: hand-written gradients vs autograd (float64)")
    table.add_column("parameter")
    symbols = check.symbols or {}
    if symbols:  # the model's own names of its parameters (W_h, b_h, ...)
        table.add_column("symbol")
    table.add_column("relative error", justify="right")
    for key, error in check.relative_errors.items():
        table.add_row(escape(key), *([escape(symbols[key])] if symbols else []), f"{error:.2e}")
    console.print(table)
    style = "green" if check.passed else "bold red"
    console.print(escape(check.verdict()), style=style, highlight=False)
    if not check.passed:
        raise typer.Exit(1)


# gradcheck's own settings, which --set (a model's options) cannot give: each its command option
_GRADCHECK_FLAGS = {
    "seed": "--seed",
    "batch": "--batch",
    "tol": "--tol",
    "num_classes": "--classes",
    "input_shape": "--input",
}


def _refuse_own_settings(options: dict, sets: list[str]) -> None:
    """UserError for a ``--set`` of one of gradcheck's own settings (``--set seed=1``), naming its
    option (``--seed 1``): --set gives the model's options."""
    for key, flag in _GRADCHECK_FLAGS.items():
        if key in options:
            typed = next(
                s for s in sets if s.partition("=")[0].strip().removeprefix("model.") == key
            )
            value = typed.partition("=")[2].strip()
            raise UserError(
                f"--set {typed.strip()}: {key} is the command's own setting, not a model option "
                f"(--set gives the model's options): give {flag} {value}."
            )
