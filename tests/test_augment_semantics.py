"""Augmentation and fine-tuning settings do what their names say: each op's ``p`` is per sample, an even
blur kernel is refused, hue/saturation on grey images are noted, and ``train.freeze`` freezes batch-norm
statistics too."""

import pytest
import torch
import torch.nn as nn

import vislab
from conftest import cli
from vislab.config import AugmentConfig, build_config
from vislab.data.augment import build_augment
from vislab.data.augment_words import colour_note
from vislab.errors import ConfigError
from vislab.training.freezing import freeze


def changed(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per sample: whether the augmentation changed it."""
    return (y - x).abs().flatten(1).amax(1) > 1e-4


def test_resized_crop_p_is_per_sample():
    # a small scale: every crop changes the image, so the changed share is the share cropped
    cfg = AugmentConfig(resized_crop=dict(p=0.5, scale=(0.3, 0.5)))
    aug = build_augment(cfg, (1, 8, 8))
    torch.manual_seed(0)
    shares = []
    for _ in range(40):  # 2000 images in batches of 50
        x = torch.rand(50, 1, 8, 8)
        shares.append(changed(x, aug(x)).float().mean().item())
    assert abs(sum(shares) / len(shares) - 0.5) < 0.04
    # a coin per batch would crop all of a batch or none of it
    assert all(0.2 < s < 0.8 for s in shares), shares


OPS_AT_HALF = {
    "crop": {"p": 0.5, "padding": 2},
    "resized_crop": {"p": 0.5, "scale": (0.3, 0.5)},
    "hflip": {"p": 0.5},
    "rotation": {"p": 0.5, "degrees": 30},
    "affine": {"p": 0.5},
    "color_jitter": {"p": 0.5},
    "blur": {"p": 0.5, "sigma": (0.8, 1.5)},
    "erasing": {"p": 0.5},
    "trivialaugment": {"p": 0.5},
}


@pytest.mark.parametrize("op", list(OPS_AT_HALF))
def test_each_op_p_is_per_sample(op):
    aug = build_augment(AugmentConfig.model_validate({op: OPS_AT_HALF[op]}), (3, 8, 8))
    torch.manual_seed(1)
    x = torch.rand(400, 3, 8, 8)
    share = changed(x, aug(x)).float().mean().item()
    assert 0.3 < share < 0.65, f"{op} at p=0.5 changed {share:.0%} of one batch"


def test_even_blur_kernel_is_refused(capsys):
    with pytest.raises(ConfigError) as e:
        build_config({}, ["augment.blur.kernel_size=4"])
    assert "augment.blur.kernel_size" in str(e.value) and "use 3 or 5" in str(e.value)
    code, text = cli(capsys, "train", "--set", "augment.blur.kernel_size=6", "--epochs", "1")
    assert code != 0 and "augment.blur.kernel_size" in text and "use 5 or 7" in text
    cfg = build_config({}, ["augment.blur.kernel_size=5", "augment.blur.p=1"]).augment
    (blur,) = build_augment(cfg, (1, 8, 8)).ops
    assert blur.flags["kernel_size"] == (5, 5)  # the size config.yaml records


def test_hue_and_saturation_on_grey_images_are_noted():
    jitter = AugmentConfig(color_jitter=dict(p=0.8, saturation=0.5, hue=0.1))
    note = colour_note(jitter, (1, 28, 28))
    assert note == (
        "augment.color_jitter.saturation=0.5 and augment.color_jitter.hue=0.1 do nothing with "
        "1-channel images: only RGB images have a saturation and a hue to jitter (brightness and "
        "contrast are jittered)."
    )
    assert colour_note(jitter, (3, 28, 28)) is None  # RGB: they jitter
    assert colour_note(AugmentConfig(color_jitter=dict(p=0.8)), (1, 28, 28)) is None  # defaults
    off = AugmentConfig(color_jitter=dict(p=0, hue=0.1))  # off: the config's own notes say so
    assert colour_note(off, (1, 28, 28)) is None
    hue = colour_note(AugmentConfig(color_jitter=dict(p=0.8, hue=0.1)), (1, 8, 8))
    assert hue is not None and hue.startswith("augment.color_jitter.hue=0.1 does nothing")


def test_frozen_batchnorm_keeps_its_statistics(tmp_path):
    setting = dict(
        model="cnn", data="digits", model__batchnorm=True, model__widths=[8, 16], model__fc=[],
        data__limit=300, train__epochs=1, train__device="cpu", train__figures=False,
    )  # fmt: skip
    first = vislab.train(**setting, out=tmp_path / "first").model().state_dict()
    frozen = ["0.*", "1.*"]  # the first conv and its batch norm
    tuned = vislab.train(
        **setting, train__init_from=str(tmp_path / "first"), train__freeze=frozen,
        out=tmp_path / "tuned",
    ).model().state_dict()  # fmt: skip
    for key in ("0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var"):
        assert torch.equal(first[key], tuned[key]), f"frozen {key} changed"
    for key in ("4.weight", "5.running_mean", "5.running_var", "9.weight"):
        assert not torch.equal(first[key], tuned[key]), f"{key} did not train"


def test_freeze_holds_only_wholly_frozen_norm_layers():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.BatchNorm2d(4))
    freeze(model, ["0.*", "1.*", "2.weight"], "net")  # layer 2's bias still trains
    model.train()
    assert not model[1].training and model[2].training and model[0].training
    before = model[1].running_mean.clone()
    model(torch.rand(8, 1, 6, 6))
    assert torch.equal(model[1].running_mean, before)
    assert not torch.equal(model[2].running_mean, torch.zeros(4))
    model.eval()
    model.train()  # re-entering train mode keeps it held
    assert not model[1].training


def test_a_run_saved_with_an_even_blur_kernel_reads_as_the_kernel_it_ran(tmp_path, capsys):
    """Runs saved before even sizes were refused ran kernel_size k as k + 1: their config.yaml and
    checkpoints still load (eval, load_run), read as the size that ran."""
    import json

    import torch
    import yaml

    import vislab
    from conftest import cli, tiny_sets

    run = tmp_path / "old"
    sets = tiny_sets("augment.blur.p=0.5", "augment.blur.kernel_size=5", "train.figures=false")
    code, text = cli(capsys, "train", *sets, "--out", run, "-q")
    assert code == 0, text
    for ckpt in (run / "checkpoints").glob("*.pt"):  # as an earlier vislab wrote them
        state = torch.load(ckpt, weights_only=False)
        state["config"]["augment"]["blur"]["kernel_size"] = 4
        torch.save(state, ckpt)
    stored = yaml.safe_load((run / "config.yaml").read_text())
    stored["augment"]["blur"]["kernel_size"] = 4
    (run / "config.yaml").write_text(yaml.safe_dump(stored))
    loaded = vislab.load_run(run)
    assert loaded.config.augment.blur.kernel_size == 5
    summary = json.loads((run / "summary.json").read_text())
    assert loaded.evaluate()["acc"] == summary["test_acc"]
    code, text = cli(capsys, "eval", run)
    assert code == 0, text
