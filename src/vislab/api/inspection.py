"""Looking at data and a model before training: a preview of the data (originals, augmented or normalised
copies) and the LR range test — what ``vislab data preview`` and ``vislab lr-find`` do, as values."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from vislab.api.configs import ConfigLike, make_config
from vislab.arguments import checked
from vislab.config.build import Caller

# The data, plotting and trainer set-up modules are imported by the functions that use them ("on use"
# below): they load matplotlib, which `import vislab.api` should not wait for (see its __init__).
if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from vislab.training.lr_finding import LRFinding

_FIGURE = "it writes nothing: save the Figure it returns with .savefig('{name}.png')"
PREVIEW_DATA = Caller(
    "vislab.preview_data",
    ("data", "show", "n", "copies", "config"),
    {
        "out": _FIGURE.format(name="preview"),
        "epochs": "it trains nothing",
        "steps": "it trains nothing",
        "model": "it shows data only",
    },
)
LR_FIND = Caller(
    "vislab.lr_find",
    ("config", "model", "data", "start_lr", "end_lr", "steps"),
    {
        "epochs": "it takes optimizer steps, not epochs: give steps=N (200 unless given)",
        "out": "it writes nothing: save its figure with .plot().savefig('lr_find.png')",
        "lr": "the range test sweeps the learning rate itself, so optim__lr is not read: give "
        "start_lr= and end_lr= (1e-07 and 10 unless given)",
    },
)


@checked
def preview_data(
    data: Any = None,
    *,
    show: str = "augmented",
    n: int | None = None,
    copies: int | None = None,
    config: ConfigLike = None,
    **overrides: Any,
) -> Figure:
    """A grid of ``n`` training images of ``data`` (one per class first, labelled; None: one of each
    class, 8 at least, 20 at most; the first ``n`` classes where the data has more), then ``copies`` (default 3) rows of
    augmented copies (``augment__*`` overrides), or with ``show="normalized"`` the same images after
    ``data__normalize`` (standard or zca, fitted on train) — as ``vislab data preview``.
    2-D feature data (``"circles"``): a scatter of the train points, coloured by class.

    ``data``: a dataset name or numpy arrays ``(x, y[, class_names])``, as :func:`vislab.train` takes;
    ``config`` and ``overrides`` (``section__key=value``) as there too.

    >>> vislab.preview_data("cifar10", augment__crop__p=1, augment__hflip__p=0.5)
    >>> vislab.preview_data("digits", show="normalized", data__normalize="zca")
    """
    # on use (see the imports)
    from vislab.plotting.canvas import drawn_figure
    from vislab.report.previews import preview_drawer

    cfg = make_config(config, data=data, overrides=overrides, caller=PREVIEW_DATA)
    return drawn_figure(preview_drawer(cfg, show, n, copies))


@checked
def lr_find(
    config: ConfigLike = None,
    *,
    model: str | Callable[..., torch.nn.Module] | None = None,
    data: Any = None,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 200,
    **overrides: Any,
) -> LRFinding:
    """The LR range test (Smith) of ``vislab lr-find``: ``steps`` optimizer steps on the model and data
    as :func:`vislab.train` builds them (seeded by ``train__seed``), the lr growing exponentially from
    ``start_lr`` to ``end_lr``, stopped when the loss diverges. Nothing is written.

    Returns the lrs, losses and smoothed losses of the steps taken, the ``suggestion`` (an ``optim.lr``;
    ``settings``: the keys to train with — with ``optim__head_lr`` both rates at their ratio, or the head's
    alone where only the head trains) and ``.plot()`` → Figure. ``config``, ``model``, ``data`` and
    ``overrides`` as :func:`vislab.train`.

    >>> f = vislab.lr_find(model="cnn", data="digits", optim__name="adam", steps=100)
    >>> vislab.train(model="cnn", data="digits", optim__name="adam", optim__lr=f.suggestion)
    """
    # on use (see the imports)
    from vislab.training.lr_find import lr_find as range_test
    from vislab.training.lr_finding import RangeTest

    test = RangeTest(start_lr, end_lr, steps)  # checks the range before any work
    cfg = make_config(config, model=model, data=data, overrides=overrides, caller=LR_FIND)
    return range_test(cfg, test)
