"""How a model trains is declared once, by the model: a suite's dry run refuses what a run of mlp-scratch's
hand-written levels refuses at set-up (its model.impl picks its class, for the builder and the dry run
alike), and what the trainer says of a model that steps by plain SGD, or of images too small for a
library's CNN, comes from its hooks, not its name."""

import pytest
import torch.nn as nn
import yaml

import vislab
from conftest import cli, one_line, tiny_base
from vislab.config.unread import OWN_STEP_AS_OPTIM, OWN_STEP_SAME_AS
from vislab.errors import ConfigError
from vislab.experiments.suites.plan import declared_trained_by
from vislab.models import build_model
from vislab.models.hooks import ModelHooks, hooks_of
from vislab.models.registry import MODELS, register_model, registered_code, unregister_model
from vislab.models.scratch import Impl, ScratchMLP, mlp_scratch
from vislab.training.too_small import one_pixel_note

MOMENTUM = {"model.name": "mlp-scratch", "optim.momentum": 0.9}


def _suite(tmp_path, **runs) -> str:
    path = tmp_path / "s1.yaml"
    path.write_text(yaml.safe_dump({"base": tiny_base(), "runs": runs}, sort_keys=False))
    return str(path)


def test_the_dry_run_refuses_what_the_run_of_a_hand_written_level_refuses(tmp_path, capsys):
    """Was: the dry run said "scratch: start" (it read mlp-scratch as trained by an optimizer), and the
    real run then failed at set-up on optim.momentum, which mlp-scratch's own SGD step ignores."""
    spec = _suite(tmp_path, scratch=MOMENTUM, optim={**MOMENTUM, "model.impl": "optim"})
    code, said = cli(capsys, "suite", spec, "--out", tmp_path / "out", "--dry-run")
    code_train, refused = cli(
        capsys, "train", "--set", "model.name=mlp-scratch", "--set", "optim.momentum=0.9",
        "--set", "data.name=digits", "--set", "data.limit=200", "--out", tmp_path / "run",
    )  # fmt: skip
    assert code == 2 and code_train == 2, said + refused
    why = one_line(refused).removeprefix("error: ")
    assert "plain SGD at optim.lr" in why and "--set model.impl=optim" in why, why
    assert f"- scratch: {why}" in one_line(said), said  # the same words as the run's set-up
    # model.impl=optim trains by torch.optim, which reads optim.momentum
    assert "- optim:" not in said and not (tmp_path / "out").exists(), said


def test_the_suite_refuses_it_before_anything_trains(tmp_path, capsys, train_spy):
    spec = _suite(tmp_path, mlp={}, scratch=MOMENTUM)
    code, said = cli(capsys, "suite", spec, "--out", tmp_path / "out")
    assert code == 2 and "- scratch: mlp-scratch updates its weights by hand" in said, said
    assert train_spy == [], train_spy  # not the mlp row first, then a failure at set-up


@pytest.mark.parametrize("impl", ["manual", "autograd", "module", "optim"])
def test_a_configs_trained_by_is_the_built_models(impl):
    """One decision (ScratchMLP.built_as): what the dry run reads is what the builder builds."""
    model = build_model("mlp-scratch", (1, 8, 8), 10, impl=impl)
    assert declared_trained_by("mlp-scratch", {"impl": impl}) == hooks_of(model).trained_by
    assert declared_trained_by("mlp-scratch") == "manual_step"  # its default level: manual


@pytest.fixture
def renamed():
    """mlp-scratch's network, registered under another name (a user's builder on top of it)."""

    @register_model("scratch-copy")
    def scratch_copy(input_shape: tuple, num_classes: int, impl: Impl = "manual") -> ScratchMLP:
        return mlp_scratch(input_shape, num_classes, impl=impl)

    yield "scratch-copy"
    unregister_model("scratch-copy")


def test_what_the_trainer_says_of_a_plain_sgd_step_is_the_models_not_its_names(tmp_path, renamed):
    """Was: the trainer matched the name "mlp-scratch": the same network under another name got the words
    of an unknown own step, without the SGD it makes or model.impl=optim."""
    with pytest.raises(ConfigError) as refused:
        vislab.train(model=renamed, data="digits", data__limit=200, out=tmp_path / "run",
                     optim__momentum=0.9, quiet=True)  # fmt: skip
    why = one_line(str(refused.value))
    assert why.startswith(f"{renamed} updates its weights by hand: plain SGD at optim.lr"), why
    assert "--set model.impl=optim" in why and "RDFIA 1-ab trains mlp-scratch" in why, why


def test_lr_find_names_the_same_sgd_for_the_renamed_network(capsys, renamed):
    code, said = cli(
        capsys, "lr-find", "--set", f"model.name={renamed}", "--set", "data.name=digits"
    )
    assert code != 0 and "--set model.impl=optim --set optim.name=sgd" in one_line(said), said


def test_the_tables_name_the_same_plain_sgd_as_the_model_declares():
    """The tables read what a step amounts to by model name (they build no model): each such name's
    hand-written levels declare plain SGD, and each built-in model declaring it is listed."""
    assert OWN_STEP_SAME_AS == {"mlp-scratch": OWN_STEP_AS_OPTIM}
    for impl in ("manual", "autograd", "module"):
        hooks = hooks_of(build_model("mlp-scratch", (1, 8, 8), 10, impl=impl))
        assert hooks.trained_by == "manual_step" and hooks.plain_sgd is not None
    for name in [n for n in MODELS if registered_code(n) is None]:  # vislab's own
        hooks = hooks_of(build_model(name, (3, 32, 32), 10))
        declared = hooks.trained_by == "manual_step" and hooks.plain_sgd is not None
        assert declared == (name in OWN_STEP_SAME_AS), name


def test_the_notes_on_too_small_images_read_the_models_hooks():
    """Was: too_small.py probed timm's attributes (feature_info, pretrained_cfg) and the timm: prefix."""

    class Strided(ModelHooks, nn.Module):
        def total_stride(self) -> int:
            return 8

    assert "the 8×8 images end as a 1×1 map" in one_pixel_note(Strided(), "strided", (1, 8, 8))
    assert one_pixel_note(Strided(), "strided", (1, 16, 16)) is None
    timm = pytest.importorskip("timm")
    hooks = hooks_of(timm.create_model("resnet18", num_classes=10, in_chans=1))
    assert hooks.total_stride() == 32 and hooks.weights_input_size() == (3, 224, 224)
