"""`timm:<name>`: any model of the timm library (optional extra ``pip install 'vislab[timm]'``).

``timm.create_model(name, num_classes=K, in_chans=C, img_size=(H, W) for models that take one, **kwargs)``;
every other ``model.*`` key is passed through to timm (e.g. ``model.patch_size=4``, ``model.depth=6``,
``model.drop_path_rate=0.1``), and one timm rejects is a ConfigError. ``model.img_size`` replaces the
images' size (it must then match them, see ``data.resize``); the data sets the classes and channels.

``pretrained: true`` loads weights from the local caches only — the Hugging Face hub cache
(``~/.cache/huggingface/hub``) or torch hub's ``checkpoints/`` folder — and ``weights: FILE`` from a
file; nothing is downloaded (the hub is put offline while timm loads). timm itself adapts the weights
to the new classifier, channel count and image size (RDFIA 1-e fine-tunes ImageNet ViTs on MNIST).

Every model whose class timm defines gets ``TimmHooks`` from ``hooks_of``: a timm ViT (attention
modules in its blocks, a fixed patch grid) offers its attention maps, token grid and position embedding
to ``vislab explain`` and the report; any other timm model Grad-CAM on its last stage's feature map. Every
one names its classifier head (``optim.head_lr``) as timm's ``get_classifier()`` returns it.
"""

from __future__ import annotations

import contextlib
import difflib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.nn as nn

from vislab.errors import ConfigError, UserError, show_note
from vislab.models.hooks import BoundHooks, TokenGrid, register_library_hooks
from vislab.models.options import (
    input_words,
    patch_sizes,
    pretrained_skipped,
    require_image_input,
    resize_hint,
    size_setting,
)
from vislab.models.registry import COPIES_WEIGHTS, WeightOptions, register_model_prefix
from vislab.models.weights import WEIGHTS_WIN, check_architecture, read_state_dict, shown_names

INSTALL = "pip install 'vislab[timm]'"
COPIES_WEIGHTS["timm:"] = WeightOptions(published="pretrained", file="weights")


@contextlib.contextmanager
def hub_offline() -> Iterator[None]:
    """HF_HUB_OFFLINE=1 for the duration (environment and huggingface_hub's already-read constant)."""
    old_env = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        # huggingface_hub comes with the optional timm extra: absent, there is no constant to set.
        from huggingface_hub import constants
    except ImportError:
        constants = None
    old_const = getattr(constants, "HF_HUB_OFFLINE", None)
    if constants is not None:
        constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        if old_env is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old_env
        if constants is not None:
            constants.HF_HUB_OFFLINE = old_const


def cached_weights(name: str) -> tuple[Path | None, list[str]]:
    """The local file of timm's default pretrained weights for ``name``, and the places searched."""
    # timm and huggingface_hub are the optional timm extra: imported only when its weights are looked up.
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    if cfg is None:
        raise UserError(
            f"timm has no pretrained weights for '{name}'. Use model.pretrained=false, or another "
            f"model (timm.list_models(pretrained=True) lists those with weights)."
        )
    searched: list[str] = []
    if cfg.hf_hub_id:
        from huggingface_hub import constants, try_to_load_from_cache  # optional, see above

        repo = cfg.hf_hub_id
        names = [cfg.hf_hub_filename, "model.safetensors", "pytorch_model.bin"]
        for filename in dict.fromkeys(names):
            if filename:
                found = try_to_load_from_cache(repo, filename)
                if isinstance(found, str) and Path(found).is_file():
                    return Path(found), searched
        searched.append(_hub_searched(Path(constants.HF_HUB_CACHE), repo))
    if cfg.url:
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(cfg.url).name
        if path.is_file():
            return path, searched
        searched.append(f"{path} (from {cfg.url})")
    return None, searched


def _hub_searched(cache: Path, repo: str) -> str:
    """Where the hub ``cache`` keeps ``repo``'s weights, in words; a snapshot without the ``refs/main``
    that names it (the hub, offline, reads no other) is said, with the command that names it."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    where = f"{folder}/snapshots/<commit>/model.safetensors with refs/main naming <commit>"
    snapshots = sorted(p.parent.name for p in folder.glob("snapshots/*/*") if p.is_file())
    if not snapshots or (folder / "refs" / "main").is_file():
        return f"{where} (Hugging Face repo '{repo}')"
    return (
        f"{where} (Hugging Face repo '{repo}'; found snapshots/{snapshots[-1]}/ but no refs/main, which "
        f"tells the hub which snapshot to use: mkdir -p '{folder}/refs' && echo -n {snapshots[-1]} > "
        f"'{folder}/refs/main')"
    )


@register_model_prefix("timm")
def build_timm(
    name: str,
    input_shape: tuple[int, ...],
    num_classes: int,
    pretrained: bool = False,
    weights: str | None = None,
    **kwargs: Any,
) -> nn.Module:
    """``timm:<name>`` — a timm model for this data; weights only from local files (see module docstring)."""
    timm = _import_timm(name)
    if not isinstance(pretrained, bool):
        raise ConfigError(f"model.pretrained={pretrained!r} must be true or false.")
    if not timm.is_model(name):
        raise ConfigError(_unknown_model(timm, name))
    c, h, w = require_image_input(f"timm:{name}", input_shape)
    if "in_chans" in kwargs:
        raise ConfigError(
            f"model.in_chans: vislab gives timm:{name} the data's channel count ({c}). Remove it."
        )
    wanted = not pretrained_skipped() and (pretrained or weights is not None)
    file = _weights_file(name, weights, pretrained) if wanted else None
    overlay = dict(file=str(file), custom_load=file.suffix == ".npz") if file is not None else None
    extra = dict(pretrained=True, pretrained_cfg_overlay=overlay) if file is not None else {}
    base = dict(num_classes=num_classes, in_chans=c, img_size=(h, w))
    with hub_offline(), _quiet_loading():
        model = _create(timm, name, {**base, **extra}, kwargs, file)
    _check_input_size(model, name, h, w)
    _check_patches(model, name, h, w)
    if file is not None and file.suffix != ".npz":
        _load_matching(model, file, name)
    return model


def _unknown_model(timm: ModuleType, name: str) -> str:
    """Why timm has no model ``name``: its names that differ only in case, else close ones; how to list them."""
    names, low = timm.list_models(), name.lower()
    near = [n for n in names if n.lower() == low] or difflib.get_close_matches(low, names, n=3)
    hint = f" Did you mean {', '.join(f'timm:{n}' for n in near)}?" if near else ""
    pattern = f"*{name.lower()}*"
    listing = f"'{pattern}'" if timm.list_models(pattern) else ""
    return (
        f"timm has no model '{name}'.{hint} List them with: python -c \"import timm; "
        f'print(timm.list_models({listing}))".'
    )


def _import_timm(name: str) -> ModuleType:
    """The timm module, or a UserError saying how to install it."""
    try:
        # timm is an optional extra (vislab[timm]): imported only when a timm:<name> model is built.
        import timm
    except ImportError:
        raise UserError(
            f"model 'timm:{name}' needs the timm library, which is not installed: {INSTALL}."
        ) from None
    return timm


def _weights_file(name: str, weights: str | None, pretrained: bool) -> Path:
    """The file to load: ``model.weights`` (a note where ``pretrained`` is also given: the file wins),
    else timm's default weights in the local cache."""
    if weights is not None:
        file = Path(str(weights)).expanduser()
        if not file.is_file():
            raise UserError(
                f"model.weights: file '{file}' does not exist. Give a weights file for timm:{name}."
            )
        if pretrained:
            show_note(WEIGHTS_WIN.format(model=f"timm:{name}", file=file))
        return file
    file, searched = cached_weights(name)
    if file is None:
        raise UserError(
            f"model.pretrained=true: the weights of timm:{name} are not in the local cache (vislab never "
            f"downloads). Looked for: {'; '.join(searched)}. On a machine with internet run python -c "
            f"\"import timm; timm.create_model('{name}', pretrained=True)\" and copy its cache here, or give "
            f"the file with model.weights=FILE."
        )
    return file


def _create(
    timm: ModuleType, name: str, base: dict[str, Any], kwargs: dict[str, Any], file: Path | None
) -> nn.Module:
    """``timm.create_model`` (the user's ``model.*`` options over vislab's ``base`` ones: a
    ``model.img_size`` wins) with timm's errors turned into ConfigError/UserError naming the fix."""
    try:
        return timm.create_model(name, **{**base, **kwargs})
    except TypeError as e:
        if "img_size" in str(e) and "img_size" in base and "img_size" not in kwargs:
            sized = {k: v for k, v in base.items() if k != "img_size"}  # no fixed input size (CNNs)
            return _create(timm, name, sized, kwargs, file)  # again, without it
        own = " model.cifar_stem is vislab's resnet18's (model.name=resnet18): a stem for small images."
        raise ConfigError(
            f"timm:{name} rejected an option: {e}. Check the model.* keys against the model's "
            f"constructor in timm.{own * ('cifar_stem' in str(e))}"
        ) from None
    except (ValueError, AssertionError, KeyError) as e:
        raise ConfigError(
            f"timm:{name} could not be built with these options ({type(e).__name__}: "
            f"{str(e)[:300]})."
        ) from None
    except Exception as e:  # noqa: BLE001 - garbage weights: EOFError, UnpicklingError, SafetensorError
        if file is None:
            raise
        raise UserError(
            f"timm:{name}: the weights in '{file}' could not be loaded ({type(e).__name__}: "
            f"{str(e)[:300]}). Check that the file belongs to this model."
        ) from None


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """timm's log of every key a weights file has that its model lacks, silenced: vislab says it."""
    builder = logging.getLogger("timm.models._builder")
    level = builder.level
    builder.setLevel(logging.ERROR)
    try:
        yield
    finally:
        builder.setLevel(level)


def _load_matching(model: nn.Module, file: Path, name: str) -> None:
    """timm loads a weights file non-strictly (and drops its classifier whenever num_classes != 1000): reload
    every tensor whose name and shape fit, so a file of this very model round-trips, and refuse a file of
    another architecture (:func:`check_architecture`); a note names the classifier left new and the file's
    tensors the model has no place for. Tensors timm adapted (resized positions, summed channels) stay."""
    sd, own = read_state_dict(file, f"timm:{name}"), model.state_dict()
    fits = {k: v for k, v in sd.items() if k in own and own[k].shape == v.shape}
    fix = f"Give a weights file of timm:{name}, or the model.name of the model the file is for."
    check_architecture(own, sd, len(fits), f"timm:{name}: '{file}'", fix)
    model.load_state_dict(fits, strict=False)
    head = getattr(model, "pretrained_cfg", {}).get("classifier")
    said = []
    if isinstance(head, str) and any(k.startswith(f"{head}.") and k not in fits for k in own):
        said.append(f"re-initialised {head} (no fitting tensor in '{file.name}')")
    if unused := [k for k in sd if k not in own]:
        said.append(f"not used (the file's, no such tensor here): {shown_names(unused, sd)}")
    if said:
        show_note(f"timm:{name}: {'; '.join(said)}; the rest is from it.")


def _check_input_size(model: nn.Module, name: str, h: int, w: int) -> None:
    """Refuse a ViT built for another fixed input size than the images' (a user's ``model.img_size``)."""
    embed = getattr(model, "patch_embed", None)
    size = getattr(embed, "img_size", None)
    if size is None or not getattr(embed, "strict_img_size", False) or tuple(size) == (h, w):
        return
    sh, sw = size
    resize = (
        size_setting([sh]) if sh == sw else "resize the images with data.resize (square images)"
    )
    raise ConfigError(
        f"model.img_size builds timm:{name} for {sh}×{sw} inputs, but this data gives it "
        f"{input_words(h, w)}. Leave model.img_size unset (vislab gives timm the inputs' size), "
        f"{resize}, or let the model take any size with model.dynamic_img_size=true."
    )


def _check_patches(model: nn.Module, name: str, h: int, w: int) -> None:
    """A ViT whose patches do not tile the image would silently drop pixels: refuse it."""
    patch = getattr(getattr(model, "patch_embed", None), "patch_size", None)
    if patch is None:
        return
    ph, pw = (patch, patch) if isinstance(patch, int) else tuple(patch)
    if h % ph or w % pw:
        raise UserError(
            f"timm:{name} uses {ph}×{pw} patches, which do not tile the {input_words(h, w)}. Set "
            f"model.patch_size to one of {', '.join(map(str, patch_sizes(h, w)))}, or "
            f"{resize_hint(ph, min(h, w))}."
        )


class TimmHooks(BoundHooks):
    """What a timm model offers figures: a ViT's attention, read from the weights its attention modules
    pass to ``attn_drop`` (recorded by forward hooks on the explicit, unfused softmax path)."""

    def _attention_modules(self) -> list[nn.Module]:
        return [m for m in self.model.modules() if _is_timm_attention(m)]

    def token_grid(self) -> TokenGrid | None:
        """The patch grid and class token of a timm ViT (its blocks are residual); None for others."""
        grid = getattr(getattr(self.model, "patch_embed", None), "grid_size", None)
        if grid is None or not self._attention_modules():
            return None
        return TokenGrid(tuple(grid), getattr(self.model, "cls_token", None) is not None)

    def no_weight_decay(self) -> set[str]:
        """The names the timm model itself gives (``no_weight_decay()``: a ViT's pos_embed, cls_token)."""
        names = getattr(self.model, "no_weight_decay", None)
        return set(names()) if callable(names) else set()

    def head_modules(self) -> list[str] | None:
        """The names of the classifier(s) timm's ``get_classifier()`` returns (a distilled ViT's: two); None
        (the last Linear to the classes) for a model without one."""
        try:
            found = self.model.get_classifier()
        except (AttributeError, NotImplementedError):  # a model that does not say
            return None
        names = {id(m): name for name, m in self.model.named_modules()}
        heads = found if isinstance(found, tuple) else (found,)
        return [names[id(m)] for m in heads if id(m) in names] or None

    def gradcam_layer(self) -> nn.Module | None:
        """None for a ViT (its one conv is the patch embedding); else the module of the last feature map
        timm declares (``feature_info``: the last stage, what ``features_only`` gives last). The last conv
        is wrong for most timm CNNs: mobilenetv3's head conv runs after the pooling (a 1 × 1 map),
        convnext's and regnet's sit inside a residual block, densenet's sees 32 of its 1024 channels."""
        if self._attention_modules():
            return None
        info = getattr(self.model, "feature_info", None)
        try:
            return self.model.get_submodule(info[-1]["module"])
        except (TypeError, IndexError, KeyError, AttributeError):  # no (list of) feature info
            return super().gradcam_layer()

    def weights_input_size(self) -> tuple[int, ...] | None:
        """The (C, H, W) that timm's ``pretrained_cfg`` says the weights were made for."""
        made_for = getattr(self.model, "pretrained_cfg", None) or {}
        return tuple(made_for["input_size"]) if made_for.get("input_size") else None

    def total_stride(self) -> int | None:
        """A timm CNN's ``feature_info`` reduction at its last stage; None for a ViT or without it."""
        info = getattr(self.model, "feature_info", None)
        try:
            return None if hasattr(self.model, "patch_embed") else int(info[-1]["reduction"])
        except (TypeError, KeyError, IndexError, ValueError):  # no record, or one of another form
            return None

    def attention_maps(self, x: torch.Tensor) -> list[torch.Tensor] | None:
        """Every attention module's weights for ``x`` (eval mode, no gradients), in the order they ran."""
        modules = self._attention_modules()
        if not modules:
            return None
        was_training = self.model.training
        self.model.eval()
        try:
            with _recording(modules) as kept, torch.no_grad():
                self.model(x)
        finally:
            self.model.train(was_training)
        return kept

    def position_embedding(self) -> torch.Tensor | None:
        """``pos_embed``'s rows of the class token (when it has a position) and of the patches."""
        tokens, table = self.token_grid(), getattr(self.model, "pos_embed", None)
        if tokens is None or not isinstance(table, torch.Tensor):
            return None
        table, n = table[0], tokens.grid[0] * tokens.grid[1]
        # [class, registers..., patches] → [class, patches]
        if tokens.class_token and len(table) > n:
            return torch.cat([table[:1], table[-n:]])
        return table[-n:]


def _is_timm_attention(m: nn.Module) -> bool:
    """A timm ViT attention module: its softmax weights pass through ``attn_drop`` when not fused."""
    return hasattr(m, "fused_attn") and isinstance(getattr(m, "attn_drop", None), nn.Module)


@contextlib.contextmanager
def _recording(modules: Sequence[nn.Module]) -> Iterator[list[torch.Tensor]]:
    """Record the attention weights of timm attention modules (unfused for the time) in a list."""
    kept: list[torch.Tensor] = []
    hooks = [
        m.attn_drop.register_forward_hook(lambda _m, i, _o: kept.append(i[0])) for m in modules
    ]
    fused = [m.fused_attn for m in modules]
    try:
        for m in modules:
            m.fused_attn = False  # the explicit softmax path, whose weights reach attn_drop
        yield kept
    finally:
        for m, f, h in zip(modules, fused, hooks):
            m.fused_attn = f
            h.remove()


register_library_hooks("timm", TimmHooks)
