"""What a user is told about the names and values they give: paths given as Path or Run objects, a
train.freeze list YAML could not read, a library model shrinking small images below a kernel, a library
function or a near-miss given as model.name, ViT's two MLP widths, and the data.resize hint's spellings."""

import importlib.util
from pathlib import Path

import pytest
import torch.nn as nn
import yaml

import vislab
from conftest import TINY_DIGITS, cli, one_line, tiny_config, tiny_sets
from vislab.errors import ConfigError, Note
from vislab.models.registry import MODEL_PREFIXES, register_model_prefix, unregister_model

HAS_TIMM = importlib.util.find_spec("timm") is not None
TINY = {k: v for k, v in TINY_DIGITS.items() if not k.startswith("model")}  # 200 digits, 1 epoch


def test_paths_given_as_path_and_run_objects_are_stored_as_text(trained, tmp_path):
    run = vislab.train(
        out=tmp_path / "run",
        **TINY,
        model="mlp",
        model__hidden=[32],
        data__root=Path(tmp_path),
        train__init_from=vislab.load_run(trained),
        quiet=True,
    )
    stored = yaml.safe_load((Path(run) / "config.yaml").read_text())
    assert stored["data"]["root"] == str(tmp_path)
    assert stored["train"]["init_from"] == str(trained)


def test_model_weights_given_as_a_path_is_stored_as_text(tmp_path):
    seen = []

    @vislab.register_model("fe-weighted")
    def build(input_shape, num_classes, weights: str | None = None):
        seen.append(weights)
        return nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes))

    try:
        file = tmp_path / "w.pt"
        run = vislab.train(
            out=tmp_path / "run", **TINY, model="fe-weighted", model__weights=file, quiet=True
        )
    finally:
        unregister_model("fe-weighted")
    stored = yaml.safe_load((Path(run) / "config.yaml").read_text())
    assert stored["model"]["weights"] == str(file) and seen[0] == str(file)


def test_a_freeze_list_yaml_could_not_read_says_to_quote_the_star_patterns(capsys, tmp_path):
    code, out = cli(
        capsys, "train", "-q", "--out", tmp_path / "r", *tiny_sets("train.freeze=[*bn*, layer1.*]")
    )
    said = one_line(out)
    assert code == 2, out
    assert "each quoted where it starts with *" in said, out
    assert "--set \"train.freeze=['*bn*', layer1.*]\"" in said, out
    assert "train__freeze=['*bn*', 'layer1.*']" in said, out
    with pytest.raises(ConfigError, match=r"train__freeze=\['\*bn\*', 'layer1\.\*'\]"):
        vislab.train(out=tmp_path / "p", **TINY, train__freeze="[*bn*, layer1.*]", quiet=True)
    # the --set it shows is read as the two patterns
    assert tiny_config("train.freeze=['*bn*', layer1.*]").train.freeze == ["*bn*", "layer1.*"]


@pytest.fixture
def shrinking_zoo():
    """A prefix family, ``fezoo:<name>``, whose one model's strides shrink 8×8 digits below a kernel: it
    runs from 18×18 up, as a library's (timm:inception_v3) runs from 75×75."""

    @register_model_prefix("fezoo")
    def build(rest, input_shape, num_classes, **options):
        c = input_shape[0]
        return nn.Sequential(
            nn.Conv2d(c, 4, 3), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3), nn.MaxPool2d(2),
            nn.Conv2d(4, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, num_classes),
        )  # fmt: skip

    yield
    MODEL_PREFIXES.pop("fezoo")


def test_a_library_model_shrinking_the_images_below_a_kernel_names_the_smallest_resize(
    shrinking_zoo, capsys, tmp_path
):
    code, out = cli(
        capsys, "train", "-q", "--out", tmp_path / "r", *tiny_sets("model.name=fezoo:net", drop="model.hidden=[32]")
    )  # fmt: skip
    said = one_line(out)
    assert code == 2, out
    assert "model 'fezoo:net' shrinks the 8×8 images below a kernel's size" in said, out
    assert "its layer '3' (MaxPool2d" in said, out
    assert (
        "data.resize=18 (the smallest side it takes: --set data.resize=18 / data__resize=18)"
        in said
    )
    with pytest.raises(ConfigError, match="data__resize=18"):
        vislab.train(out=tmp_path / "p", **TINY, model="fezoo:net", quiet=True)
    # the side it names runs
    vislab.train(out=tmp_path / "ok", **TINY, model="fezoo:net", data__resize=18, quiet=True)


def test_a_library_function_as_model_name_is_no_vislab_builder(capsys, tmp_path):
    code, out = cli(
        capsys, "train", "-q", "--out", tmp_path / "r", *tiny_sets("model.name=torchvision.models:resnet18")
    )  # fmt: skip
    said = one_line(out)
    assert code == 2, out
    assert "torchvision.models.resnet18 is no vislab builder" in said, out
    assert "model.name=resnet18 is vislab's own" in said, out
    assert "def build(input_shape, num_classes)" in said and "model.name=net.py:build" in said, out
    assert ("model.name=timm:resnet18" in said) == HAS_TIMM, out


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        ("ViT", "Did you mean 'vit'?"),
        pytest.param(
            "resnet34",
            "timm has a model 'resnet34': model.name=timm:resnet34.",
            marks=pytest.mark.skipif(not HAS_TIMM, reason="timm is not installed"),
        ),
        pytest.param(
            "ResNet34",
            "timm has a model 'resnet34': model.name=timm:resnet34.",
            marks=pytest.mark.skipif(not HAS_TIMM, reason="timm is not installed"),
        ),
    ],
)
def test_an_unknown_model_name_suggests_vislab_s_by_case_or_timm_s(given, hint, capsys, tmp_path):
    code, out = cli(
        capsys, "train", "-q", "--out", tmp_path / "r", *tiny_sets(f"model.name={given}")
    )
    assert code == 2 and f"unknown model '{given}'." in one_line(out), out
    assert hint in one_line(out), out
    with pytest.raises(ConfigError, match=hint.replace(".", r"\.").replace("?", r"\?")):
        vislab.train(out=tmp_path / "p", **TINY, model=given, quiet=True)


VIT = dict(model="vit", model__patch_size=4, model__embed_dim=8, model__depth=1, model__num_heads=2)


def test_vit_mlp_hidden_and_mlp_ratio_given_together_note_that_mlp_hidden_wins(tmp_path):
    with pytest.warns(Note, match=r"model.mlp_hidden=12 sets .*model.mlp_ratio=2.0 .* is not used"):
        run = vislab.train(
            out=tmp_path / "r",
            **TINY,
            **VIT,
            model__mlp_ratio=2.0,
            model__mlp_hidden=12,
            quiet=True,
        )
        assert run.model().blocks[0].mlp[0].out_features == 12


def test_the_resize_hint_gives_the_command_s_and_python_s_spelling(capsys, tmp_path):
    sets = tiny_sets("model.name=vit", "model.patch_size=3", drop="model.hidden=[32]")
    code, out = cli(capsys, "train", "-q", "--out", tmp_path / "r", *sets)
    assert code == 2, out
    assert (
        "resize the images with data.resize=6 or 9 (a multiple of 3: --set data.resize=6 / "
        "data__resize=6)" in one_line(out)
    ), out
