"""Models: the registry that maps ``model.name`` to a builder, and every model family.

Every builder has the uniform signature ``build(input_shape, num_classes, **options) -> nn.Module``,
where ``input_shape`` is (C, H, W) for images or (D,) for feature vectors and the options come from
``model.*`` in the config; each option declares its type and bounds in that signature, so a wrong key
or value is a clear ConfigError (:mod:`vislab.models.registry`, :mod:`vislab.models.options`).

Adding a family is one file: a module that decorates its builder with :func:`register_model`, imported
in the list at the end of this file. Every family listed there is imported with this package, so a
missing or broken family fails here, loudly, instead of silently vanishing from the registry.

A user's own model needs no registration: ``model.name=path/to/file.py:Net`` or
``package.module:build`` names it (:mod:`vislab.models.user`, which also decides when a finished run's
code may be imported again).

How the trainer treats a model (fitted once, hand-written steps, ...) is declared by the model itself:
see :mod:`vislab.models.hooks`.
"""

from __future__ import annotations

from vislab.models.options import (
    Probability,
    Size,
    patch_sizes,
    pretrained_skipped,
    require_image_input,
    skip_pretrained,
)
from vislab.models.registry import (
    MODEL_PREFIXES,
    MODELS,
    build_model,
    check_model_options,
    model_kwargs,
    option_defaults,
    register_model,
    register_model_prefix,
    unregister_model,
)

# isort: split
# Every model family, one import each: importing a family registers its builders, and a family that is
# missing or cannot be imported stops this import with its own error. (timm_zoo imports timm itself only
# when a timm:<name> model is built: timm is an optional extra.)
import vislab.models.baselines  # noqa: F401
import vislab.models.cnn  # noqa: F401
import vislab.models.fast  # noqa: F401
import vislab.models.mlp  # noqa: F401
import vislab.models.resnet  # noqa: F401
import vislab.models.scratch  # noqa: F401
import vislab.models.svm  # noqa: F401
import vislab.models.timm_zoo  # noqa: F401
import vislab.models.vit  # noqa: F401

__all__ = [
    "MODELS",
    "MODEL_PREFIXES",
    "Probability",
    "Size",
    "baselines",
    "build_model",
    "check_model_options",
    "cnn",
    "fast",
    "mlp",
    "model_kwargs",
    "option_defaults",
    "patch_sizes",
    "pretrained_skipped",
    "register_model",
    "register_model_prefix",
    "require_image_input",
    "resnet",
    "scratch",
    "skip_pretrained",
    "svm",
    "timm_zoo",
    "unregister_model",
    "vit",
]
