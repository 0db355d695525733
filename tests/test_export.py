"""``vislab export``: ONNX and TorchScript files that compute what the run's PyTorch model does, with a JSON that
is all inference needs (the tests apply its recipe to raw uint8 images with numpy alone), and clear refusals."""

import base64
import importlib.util
import json
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image

from conftest import cli, one_line, tiny_config
from vislab.config import load_config
from vislab.data import load_splits
from vislab.data.images import load_image
from vislab.data.preprocess import apply_stats
from vislab.export import spec_path
from vislab.models import register_model, unregister_model
from vislab.predict import load_model
from vislab.training.trainer import train

HAS_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime", "onnxscript"))
FORMATS = [
    pytest.param(
        "onnx",
        marks=pytest.mark.skipif(
            not HAS_ONNX, reason="pip install 'vislab[onnx]' for the ONNX export"
        ),
    ),
    "torchscript",
]
TOL = 1e-4  # exported vs PyTorch, on logits and on the run's own test probabilities


class Branchy(nn.Module):
    """Python control flow on tensor values: tracing freezes the branch taken by the example batch."""

    def __init__(self, features: int, num_classes: int):
        super().__init__()
        self.fc = nn.Linear(features, num_classes)

    def forward(self, x):
        h = self.fc(x.flatten(1))
        if x.mean() > 0:
            return h
        return -h


class BatchSized(Branchy):
    """Python control flow on the batch size: the exporters freeze it for the example batch."""

    def forward(self, x):
        h = self.fc(x.flatten(1))
        return h * 2 if x.shape[0] > 2 else h


@pytest.fixture(scope="module")
def runs(trained, tmp_path_factory):
    """Tiny 1-epoch digits runs: mlp (standard normalisation: conftest's ``trained``, this module's copy), cnn,
    mlp with ZCA, a ViT (cls token), and the models export refuses (fitted baselines, user models with Python
    control flow, registered for this module only)."""
    register_model("export-test-branchy")(lambda input_shape, num_classes: Branchy(64, num_classes))
    register_model("export-test-batch")(
        lambda input_shape, num_classes: BatchSized(64, num_classes)
    )
    root = tmp_path_factory.mktemp("export-runs")
    models = {
        "cnn": ["model.name=cnn"],
        "zca": ["data.normalize=zca"],
        "vit": [
            "model.name=vit",
            "model.patch_size=4",
            "model.depth=1",
            "model.embed_dim=32",
            "model.num_heads=2",
        ],
        "majority": ["model.name=majority"],
        "svm": ["model.name=svm"],
        "branchy": ["model.name=export-test-branchy"],
        "batch": ["model.name=export-test-batch"],
    }
    # no run figures: export reads the checkpoints and the test predictions
    for name, sets in models.items():
        train(tiny_config("train.epochs=1", "train.figures=false", *sets), root / name, quiet=True)
    yield {"mlp": trained} | {name: root / name for name in models}
    unregister_model("export-test-branchy")
    unregister_model("export-test-batch")


def apply_recipe(spec: dict, images: np.ndarray) -> np.ndarray:
    """The JSON's recipe, with numpy alone: uint8 N×H×W×C images → the model's float32 N×C×H×W input."""
    c, h, w = spec["input"]["shape"]
    assert images.dtype == np.uint8 and images.shape[1:] == (h, w, c)
    x = images.astype(np.float32) / 255
    x = x.transpose(0, 3, 1, 2)
    norm = spec["normalization"]
    if norm["mode"] == "standard":
        mean = np.array(norm["mean"], np.float32).reshape(1, -1, 1, 1)
        std = np.array(norm["std"], np.float32).reshape(1, -1, 1, 1)
        x = (x - mean) / std
    elif norm["mode"] == "zca":
        m = norm["matrix"]
        assert (m["dtype"], m["byte_order"], m["order"], m["encoding"]) == (
            "float32",
            "little",
            "row-major",
            "base64",
        )
        matrix = np.frombuffer(base64.b64decode(m["data"]), "<f4").reshape(m["shape"])
        flat = x.reshape(len(x), -1) - np.array(norm["mean"], np.float32)
        x = (flat @ matrix).reshape(x.shape)
    return np.ascontiguousarray(x, dtype=np.float32)


def run_exported(fmt: str, path, x: np.ndarray) -> np.ndarray:
    """Logits of the exported file: onnxruntime for ONNX, torch.jit.load for TorchScript."""
    if fmt == "onnx":
        import onnxruntime  # optional extra: these tests are skipped without it

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return session.run(["logits"], {"input": x})[0]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", FutureWarning
        )  # torch 2.14 deprecates TorchScript, still loads it
        return torch.jit.load(str(path))(torch.from_numpy(x)).numpy()


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", ["mlp", "cnn", "zca", "vit"])
def test_export_matches_pytorch_through_the_json_recipe(
    runs, capsys, tmp_path, digit_png, name, fmt
):
    run = runs[name]
    out = tmp_path / f"{name}.{fmt}"
    code, text = cli(capsys, "export", run, "--format", fmt, "--out", out)
    assert code == 0, text
    spec = json.loads(spec_path(out, fmt).read_text())  # mlp.json, mlp.torchscript.json
    assert spec["model_file"] == out.name and spec["format"] == fmt
    # the run's own test images, raw uint8, through the JSON's recipe only
    cfg = load_config(run / "config.yaml")
    images = load_splits(cfg.data, cfg.train.seed).test.x
    x = apply_recipe(spec, images)
    got = run_exported(fmt, out, x)
    # ... equal the run's PyTorch model on its own normalisation (as vislab predict computes it) ...
    model, record = load_model(run)
    with torch.no_grad():
        raw = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
        want = model(apply_stats(raw, record.inputs.stats)).numpy()
    assert got.shape == want.shape == (len(images), 10)
    assert np.abs(got - want).max() <= TOL
    # ... and the test probabilities the run wrote when it finished
    stored = np.load(run / "predictions_test.npz")["probs"]
    assert np.abs(softmax(got.astype(np.float64)) - stored).max() <= TOL
    # an image file: the recipe's first step (grey, bilinear resize with PIL) gives predict's pixels
    with Image.open(digit_png) as img:
        pixels = np.array(img.convert("L").resize((8, 8), Image.BILINEAR), np.uint8)[
            None, ..., None
        ]
    assert np.array_equal(pixels[0], load_image(digit_png, (1, 8, 8)))
    with torch.no_grad():
        one = model(
            apply_stats(
                torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255, record.inputs.stats
            )
        )
    assert np.abs(run_exported(fmt, out, apply_recipe(spec, pixels)) - one.numpy()).max() <= TOL


def test_json_holds_what_inference_needs(runs, capsys):
    code, text = cli(capsys, "export", runs["zca"], "--format", "torchscript")
    assert code == 0, text
    folder = runs["zca"] / "export"
    assert (folder / "model.torchscript.pt").is_file()
    spec = json.loads((folder / "model.torchscript.json").read_text())
    _, record = load_model(runs["zca"])
    assert spec["input"] == {
        "name": "input",
        "shape": [1, 8, 8],
        "layout": "NCHW",
        "dtype": "float32",
        "batch_axis": "0 (any size)",
    }
    assert spec["output"]["name"] == "logits" and spec["output"]["shape"] == ["batch", 10]
    assert spec["class_names"] == [str(i) for i in range(10)] == list(record.model.class_names)
    assert spec["model"] == {"name": "mlp", "kwargs": {"hidden": [32]}}
    assert spec["vislab_version"] and spec["trained_with_vislab"] == record.vislab_version
    norm, stats = spec["normalization"], record.inputs.stats
    assert norm["mode"] == "zca" and norm["epsilon"] == stats.epsilon
    assert np.array_equal(np.float32(norm["mean"]), stats.mean.numpy())
    matrix = np.frombuffer(base64.b64decode(norm["matrix"]["data"]), "<f4").reshape(
        norm["matrix"]["shape"]
    )
    assert np.array_equal(matrix, stats.W.numpy())  # exact: float32 bytes
    recipe = " ".join(spec["recipe"])
    for step in ("greyscale", "bilinear", "/ 255", "C×H×W", "(x - mean) @ W"):
        assert step in recipe
    # the matrix is where the recipe says: normalization.matrix is an object, its base64 in .data
    assert "normalization.matrix: its .data, base64 of little-endian float32" in recipe, recipe
    assert spec["check"]["max_abs_diff_vs_pytorch"] <= TOL and spec["check"]["batch_sizes"] == [
        3,
        1,
        4,
    ]
    # standard normalisation: per-channel mean and std
    code, _ = cli(capsys, "export", runs["mlp"], "--format", "torchscript")
    std = json.loads((runs["mlp"] / "export" / "model.torchscript.json").read_text())[
        "normalization"
    ]
    _, record = load_model(runs["mlp"])
    assert code == 0 and std["mode"] == "standard"
    assert np.array_equal(np.float32(std["std"]), record.inputs.stats.std.numpy())
    assert "(x - mean) / std" in " ".join(
        json.loads((runs["mlp"] / "export" / "model.torchscript.json").read_text())["recipe"]
    )


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "name, why",
    [
        ("majority", "model 'majority' cannot be exported: it is a fitted baseline"),
        ("svm", "model 'svm' cannot be exported: it is a fitted baseline"),
        ("branchy", "model 'export-test-branchy' c"),
        ("batch", "model 'export-test-batch' cannot be exported to"),
    ],
)
def test_unexportable_models_are_refused(runs, capsys, tmp_path, name, why, fmt):
    out = tmp_path / "model.file"
    code, text = cli(capsys, "export", runs[name], "--format", fmt, "--out", out)
    text = one_line(text)
    assert code == 2, text
    assert why in text, text
    if name in (
        "branchy",
        "batch",
    ):  # frozen by the tracer (the check), or refused by torch's ONNX exporter
        assert "Python control flow" in text and "torch.where" in text, text
    assert not out.exists() and not spec_path(out, fmt).exists()


def test_bad_arguments(runs, capsys, tmp_path, monkeypatch):
    code, text = cli(capsys, "export", tmp_path / "no-such-run", "--format", "onnx")
    assert code == 2 and "run '" in text and "does not exist" in one_line(text), text
    code, text = cli(
        capsys, "export", tmp_path, "--format", "torchscript"
    )  # a folder that is no run
    assert code == 2 and "is not a vislab run directory" in one_line(text), text
    code, text = cli(capsys, "export", runs["mlp"], "--format", "tflite")
    assert code == 2 and "'tflite' is not an export format: use onnx or torchscript" in one_line(
        text
    ), text
    code, text = cli(
        capsys, "export", runs["mlp"], "--format", "onnx", "--out", tmp_path / "m.json"
    )
    assert code == 2 and "give the model's file name" in one_line(text), text
    monkeypatch.setitem(
        sys.modules, "onnxruntime", None
    )  # as if the optional extra were not installed
    code, text = cli(
        capsys, "export", runs["mlp"], "--format", "onnx", "--out", tmp_path / "m.onnx"
    )
    assert code == 2 and "pip install 'vislab[onnx]'" in text, text
    assert not (tmp_path / "m.onnx").exists()


def test_out_folder_gets_the_default_name(runs, capsys, tmp_path):
    code, text = cli(
        capsys,
        "export",
        runs["cnn"] / "checkpoints" / "best.pt",
        "--format",
        "torchscript",
        "--out",
        tmp_path,
    )
    assert code == 0, text
    assert (tmp_path / "model.torchscript.pt").is_file() and (
        tmp_path / "model.torchscript.json"
    ).is_file()
    assert "matches PyTorch within" in one_line(text)


def test_recipe_says_how_16_bit_and_float_images_become_0_to_255(tmp_path):
    """model.json's recipe, followed by hand on a 16-bit PNG and a float TIFF, gives predict's pixels."""
    from vislab.export_spec import recipe

    steps = " ".join(recipe((1, 8, 8), "none"))
    assert "rescaling, never clipping: a 16-bit image (values 0-65535) divided by 257" in steps
    assert "a float image with values in [0, 1] times 255" in steps
    assert "a JPEG decoded whole: no draft mode" in steps and "Image.BILINEAR" in steps
    grey = np.random.default_rng(0).integers(0, 256, (20, 20)).astype(np.uint8)
    Image.fromarray(grey.astype(np.uint16) * 257).save(tmp_path / "sixteen_bit.png")
    Image.fromarray(grey.astype(np.float32) / 255).save(tmp_path / "float.tiff")
    for name, to_0_255 in (
        ("sixteen_bit.png", lambda v: v / 257),
        ("float.tiff", lambda v: v * 255),
    ):
        with Image.open(tmp_path / name) as img:
            pixels = np.rint(to_0_255(np.array(img, np.float64))).astype(np.uint8)
        by_hand = np.array(Image.fromarray(pixels).convert("L").resize((8, 8), Image.BILINEAR))
        assert np.array_equal(by_hand[..., None], load_image(tmp_path / name, (1, 8, 8))), name
