"""Grad-CAM on timm's CNNs reads the last feature map the network pools for its head (timm's declared last
stage), not its last ``nn.Conv2d``: that conv runs after the pooling in mobilenetv3 (a 1 × 1 map: one
flat colour), inside a residual block in convnext and regnet."""

import pytest
import torch

from vislab.models.hooks import hooks_of

timm = pytest.importorskip("timm")
pytest.importorskip("captum")


def _layer_output(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    seen = []
    handle = hooks_of(model).gradcam_layer().register_forward_hook(lambda m, i, o: seen.append(o))
    try:
        model(x)
    finally:
        handle.remove()
    return seen[-1]


@pytest.mark.parametrize(
    "name", ["mobilenetv3_small_050", "convnext_atto", "regnetx_002", "resnet10t"]
)
@torch.no_grad()
def test_the_layer_is_the_feature_map_the_head_pools(name):
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, num_classes=4).eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(_layer_output(model, x), model.forward_features(x))


def test_a_mobilenetv3_map_is_not_one_flat_colour():
    from vislab.explain_maps import explain_maps  # noqa: PLC0415

    torch.manual_seed(0)
    model = timm.create_model("mobilenetv3_small_050", pretrained=False, num_classes=4).eval()
    maps = explain_maps(model, torch.randn(2, 3, 64, 64), "gradcam")
    assert maps.shape[-2:] == (64, 64)
    assert (maps.flatten(1).std(1) > 0).all(), "Grad-CAM drew one value over the whole image"
