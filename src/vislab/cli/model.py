"""``vislab model ...``: list models, show a model's layer table, check mlp-scratch's gradients.

Commands import the layers they drive when they run ("on use" below): those load torch,
scikit-learn, matplotlib and optuna (~3 s here), which `vislab --help`, tab completion and usage
errors should not wait for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vislab.cli.options import TrustOpt
from vislab.config import parse_value
from vislab.errors import UserError

app = typer.Typer(
    no_args_is_help=True, help="Inspect models: list, layer table and costs, gradient check."
)
console = Console()
err = Console(stderr=True)

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
    """The registered models and their options (defaults); timm:<name> for any timm model."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.models import MODELS, model_kwargs

    table = Table(title="models (set options with --set model.KEY=VALUE)")
    table.add_column("name")
    table.add_column("options (default)")
    for name in sorted(MODELS):
        opts = ", ".join(f"{k}={v!r}" for k, v in model_kwargs(name).items())
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
    its token count and the attention's share of the cost."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.models.info import layer_table

    if _is_run(name, model_options=bool(set_) or input_ is not None or classes is not None):
        model, shape, title = _run_model(name, set_, input_, classes, trust_code)
    else:
        model, shape, title = _named_model(name, set_, input_, classes)
    t = layer_table(model, shape)
    console.print(
        _layer_rows(t, f"{title}: input {'×'.join(map(str, shape))} → output {t.output_shape}")
    )
    for line in _cost_lines(t, shape):
        console.print(escape(line), highlight=False, soft_wrap=True)


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


def _named_model(
    name: str, sets: list[str] | None, input_: str | None, classes: int | None
) -> tuple[Any, tuple[int, ...], str]:
    """A registry model built with seed 0 from its name and options: (model, input shape, title)."""
    # on use: torch & co. take seconds to load (module docstring)
    import torch

    from vislab.models import build_model
    from vislab.models.objects import is_users_code
    from vislab.training.checks import check_output

    shape = parse_shape(
        "3x32x32" if input_ is None else input_
    )  # "" is a bad shape, not the default
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model(name, shape, classes or 10, **parse_sets(sets))
    if is_users_code(name):  # as train does: options only its forward reads (timm's drop_rate=abc)
        check_output(model, name, shape, classes or 10, torch.device("cpu"))
    return model, shape, name


def _run_model(
    target: str, sets: list[str] | None, input_: str | None, classes: int | None, trust_code: bool
) -> tuple[Any, tuple[int, ...], str]:
    """A run's trained model, rebuilt from its checkpoint record: (model, its input shape, title)."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.predict import load_model

    options = (("--set", sets or None), ("--input", input_), ("--classes", classes))
    given = [f for f, v in options if v is not None]
    if given:
        raise UserError(
            f"{', '.join(given)}: '{target}' is a run, whose model, options, input shape and classes are "
            f"its own. Drop {' and '.join(given)}, or give a model name (e.g. `vislab model info cnn`)."
        )
    model, record = load_model(target, trust_code)
    return model, tuple(record.inputs.input_shape), f"{target} ({record.model.name})"


def _layer_rows(t: Any, title: str) -> Table:
    """The layer table: each layer's type, output shape, parameters, MACs and receptive field, then totals."""
    table = Table(title=escape(title))
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
        frozen = " (frozen)" if r.trainable < r.params else ""
        table.add_row(
            escape(r.name),
            escape(r.type),
            escape(r.output_shape),
            f"{r.params:,}{frozen}",
            f"{r.macs:,}" if r.macs else "",
            _field_text(r.field),
        )
    table.add_section()
    table.add_row("total", "", "", f"{t.totals['params']:,}", f"{t.totals['macs']:,}", "")
    return table


def _field_text(field) -> str:
    """'14, jump 2' (square) or '7×5, jump 2×1' for a conv or pool layer's receptive field; '' for others."""
    if field is None:
        return ""
    (h, w), (jh, jw) = field.size, field.jump
    if (h, jh) == (w, jw):
        return f"{h}, jump {jh}"
    return f"{h}×{w}, jump {jh}×{jw}"


def _si(n: float, unit: str) -> str:
    """23152400, 'MAC' → '23.2 MMAC'."""
    for prefix, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {prefix}{unit}"
    return f"{n:g} {unit}"


def _cost_lines(t, shape: tuple[int, ...]) -> list[str]:
    """The lines under the table: parameters, MACs, receptive fields, a ViT's tokens and attention."""
    macs = t.totals["macs"]
    weights = t.totals["weights"]
    lines = [
        f"parameters: {t.totals['params']:,} (trainable {t.totals['trainable']:,}; weights {weights:,} "
        f"+ 1-D biases and scales {t.totals['params'] - weights:,}), buffers: {t.totals['buffers']:,} values"
    ]
    if not t.note:  # else no forward pass ran: nothing was counted
        lines.append(
            f"MACs per image: {macs:,} ({_si(macs, 'MAC')} = {_si(2 * macs, 'FLOP')}): the "
            f"multiply-accumulates of convolutions, matrix products and attention, by torch's flop "
            f"counter; element-wise layers (activations, norms, pooling) cost none"
        )
    if any(r.field for r in t.rows):
        lines.append(
            "receptive field: the input pixels one output unit sees; jump: input pixels between "
            "neighbouring units (the product of the strides so far)"
            + (
                f"; a field wider than the {shape[-2]}×{shape[-1]} input reaches into the padding"
                if any(max(r.field.size) > max(shape[-2:]) for r in t.rows if r.field)
                else ""
            )
        )
    if t.attention:
        lines += _attention_lines(t.attention, macs)
    if t.note:
        lines.append(f"note: {t.note}")
    return lines


def _attention_lines(a, total_macs: int) -> list[str]:
    tokens = f"tokens: {a.tokens}"
    if a.grid:
        gh, gw = a.grid
        extra = a.extra_tokens
        tokens += f" = {gh}×{gw} patches of {a.patch[0]}×{a.patch[1]}"
        tokens += (
            " + 1 class token"
            if extra == 1
            else f" + {extra} prefix tokens (class, distillation or register)"
            if extra
            else " (no class token)"
        )
    share = 100 * a.macs / max(total_macs, 1)
    mixing = 100 * a.mixing_macs / max(total_macs, 1)
    return [
        tokens,
        f"attention: {a.macs:,} MACs ({share:.1f} % of the total), of which Q·Kᵀ and A·V "
        f"{a.mixing_macs:,} ({mixing:.1f} %), the part that grows with tokens² "
        f"(the rest: the Q, K, V and output projections, linear in tokens)",
    ]


@app.command("gradcheck")
def gradcheck(
    name: str = typer.Argument(
        "mlp-scratch", help="The model with hand-written gradients (mlp-scratch)."
    ),
    set_: list[str] | None = SetOpt,
    input_: str = typer.Option("2", "--input", "-i", help="Input shape: D (2) or C×H×W."),
    classes: int = typer.Option(3, "--classes", "-k", min=2),
    batch: int = typer.Option(16, "--batch", "-b", min=1),
    seed: int = typer.Option(0, "--seed"),
    tol: float = typer.Option(1e-6, "--tol", help="Largest relative error accepted."),
) -> None:
    """Hand-written backprop vs torch.autograd in float64; exit code 1 if an error exceeds --tol."""
    # on use: torch & co. take seconds to load (module docstring)
    from vislab.models.gradcheck import gradcheck_mlp_scratch

    if not tol > 0:  # NaN too: no error is within it
        raise UserError(f"--tol {tol:g}: give a positive tolerance, e.g. --tol 1e-6.")
    if name != "mlp-scratch":
        raise UserError(
            f"model '{name}' has no hand-written gradients to check: only mlp-scratch has "
            f"(`vislab model gradcheck mlp-scratch`)."
        )
    errors = gradcheck_mlp_scratch(parse_shape(input_), classes, batch, seed, **parse_sets(set_))
    table = Table(title="mlp-scratch: hand-written gradients vs autograd (float64)")
    table.add_column("parameter")
    table.add_column("relative error", justify="right")
    for key, err in errors.items():
        table.add_row(key, f"{err:.2e}")
    console.print(table)
    worst = max(errors.values())
    ok = worst <= tol
    console.print(
        f"max relative error {worst:.2e} {'<=' if ok else '>'} {tol:g}: "
        f"{'[green]OK[/]' if ok else '[bold red]FAILED[/]'}"
    )
    if not ok:
        raise typer.Exit(1)
