"""An export used without vislab: a TorchScript model that refuses images of another size (naming the
resize), the inference spec inside the model file, a last.pt export beside the best one, an empty batch
through a ViT, --out named for the other format, --opset, and run.predict's note on normalised arrays."""

import importlib.util
import json
import shutil
import warnings

import numpy as np
import pytest
import torch

import vislab
from conftest import cli, one_line, tiny_config
from vislab.export import export_run
from vislab.training.trainer import train

HAS_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxruntime", "onnxscript"))
needs_onnx = pytest.mark.skipif(not HAS_ONNX, reason="pip install 'vislab[onnx]'")
VIT = ["model.patch_size=4", "model.embed_dim=16", "model.depth=1", "model.num_heads=2"]


@pytest.fixture(scope="module")
def runs(trained, tmp_path_factory):
    """Tiny 1-epoch digits (1×8×8) runs: conftest's mlp, vislab's vit with shifted patches, a timm ViT
    (whose own image-size check tracing drops) where timm is installed."""
    root = tmp_path_factory.mktemp("fe1-runs")
    models = {"vit": ["model.name=vit", "model.spt=true", *VIT]}
    if importlib.util.find_spec("timm"):
        models["timm"] = ["model.name=timm:vit_tiny_patch16_224", "model.img_size=8", *VIT]
    for name, sets in models.items():
        train(tiny_config("train.epochs=1", *sets), root / name, quiet=True)
    return {"mlp": trained} | {name: root / name for name in models}


def load_ts(path, extra: dict | None = None) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch 2.14 deprecates TorchScript
        return torch.jit.load(str(path), _extra_files=extra if extra is not None else {})


@pytest.mark.parametrize("name", ["mlp", "timm"])
def test_torchscript_export_refuses_another_image_size(runs, tmp_path, name):
    """Before: the timm ViT's TorchScript took 1×12×12 images silently (tracing drops timm's size check)."""
    if name not in runs:
        pytest.skip("timm is not installed")
    model_file, _ = export_run(runs[name], "torchscript", tmp_path / "m.pt")
    ts = load_ts(model_file)
    with torch.no_grad():
        for n in (0, 1, 5):  # any batch size
            assert tuple(ts(torch.zeros(n, 1, 8, 8)).shape) == (n, 10)
        with pytest.raises(torch.jit.Error) as e:  # the RuntimeError raised in TorchScript
            ts(torch.zeros(2, 1, 12, 12))
    text = " ".join(str(e.value).split())
    assert "input of shape [2, 1, 12, 12]: this model takes float32 batches N×1×8×8" in text, text
    assert "each sample must be [1, 8, 8], got [1, 12, 12]" in text, text
    assert "resize it to 8×8 (width × height) with PIL's bilinear resampling" in text, text
    assert "recipe of m.torchscript.json" in text, text


@pytest.mark.parametrize("fmt", [pytest.param("onnx", marks=needs_onnx), "torchscript"])
def test_the_model_file_holds_its_inference_spec(runs, tmp_path, fmt):
    """Before: onnx.load(f).metadata_props was [] and TorchScript's extra file 'model.json' empty."""
    model_file, spec_file = export_run(runs["mlp"], fmt, tmp_path / "m")
    side = spec_file.read_text(encoding="utf-8")
    if fmt == "onnx":
        import onnx

        props = {p.key: json.loads(p.value) for p in onnx.load(str(model_file)).metadata_props}
        assert props == json.loads(side)
        assert props["input"]["shape"] == [1, 8, 8] and len(props["class_names"]) == 10
        assert {"mean", "std"} <= set(props["normalization"]) and props["recipe"]
    else:
        extra = {"model.json": ""}
        load_ts(model_file, extra)
        assert extra["model.json"].decode("utf-8") == side


@pytest.mark.parametrize("fmt", [pytest.param("onnx", marks=needs_onnx), "torchscript"])
def test_a_last_checkpoint_export_keeps_the_best_one(runs, tmp_path, capsys, fmt):
    """Before: `vislab export RUN --checkpoint last` wrote export/model.onnx over best.pt's export."""
    run = tmp_path / "run"
    shutil.copytree(runs["mlp"], run)
    assert cli(capsys, "export", run, "-f", fmt)[0] == 0
    code, out = cli(capsys, "export", run, "--checkpoint", "last", "-f", fmt)
    assert code == 0, out
    suffix = {"onnx": "", "torchscript": ".torchscript"}[fmt]
    model = {"onnx": "model_last.onnx", "torchscript": "model_last.torchscript.pt"}[fmt]
    assert f"model: {run}/export/{model} (from checkpoints/last.pt" in one_line(out), out
    for tag, ckpt in (("", "best.pt"), ("_last", "last.pt")):
        spec = json.loads((run / "export" / f"model{tag}{suffix}.json").read_text(encoding="utf-8"))
        assert spec["checkpoint"]["file"] == f"checkpoints/{ckpt}"
        assert (run / "export" / spec["model_file"]).is_file()


def test_vit_takes_an_empty_batch(runs, tmp_path):
    """Before: reshape(b, t, -1) of 0 elements failed in vislab's vit (PyTorch and TorchScript alike)."""
    model_file, _ = export_run(runs["vit"], "torchscript", tmp_path / "vit.pt")
    net = vislab.load_run(runs["vit"]).model().eval()
    x = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        assert tuple(load_ts(model_file)(x[:0]).shape) == (0, 10)
        assert tuple(net(x[:0]).shape) == (0, 10)
        torch.testing.assert_close(load_ts(model_file)(x), net(x), rtol=0, atol=1e-6)


def test_out_named_for_the_other_format_is_refused(runs, tmp_path, capsys):
    """Before: `-f onnx --out foo.pt` wrote ONNX into foo.pt silently. The format's case is free."""
    code, out = cli(capsys, "export", runs["mlp"], "-f", "onnx", "--out", tmp_path / "foo.pt")
    out = one_line(out)
    assert code == 2, out
    assert "ends in .pt, the suffix of TorchScript files, but --format onnx writes ONNX" in out, out
    assert f"give --out {tmp_path / 'foo.onnx'}" in out and "or --format torchscript" in out, out
    assert list(tmp_path.iterdir()) == []
    model_file, _ = export_run(runs["mlp"], "TorchScript", tmp_path / "a.pt")
    assert model_file.is_file()


def test_opset_is_checked_before_the_export(runs, tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out = cli(
        capsys, "export", runs["mlp"], "-f", "torchscript", "--opset", "18", "-o", out_dir
    )
    assert code == 2, out
    assert "--opset 18 is the ONNX opset version, but --format is torchscript" in one_line(out), out
    if HAS_ONNX:
        code, out = cli(capsys, "export", runs["mlp"], "-f", "onnx", "--opset", "99", "-o", out_dir)
        assert code == 2, out
        assert "--opset 99 (Python: opset=) is not an ONNX opset" in one_line(out), out
    assert not out_dir.exists()


@needs_onnx
def test_opset_is_the_one_written(runs, tmp_path):
    import onnx

    model_file, _ = export_run(runs["mlp"], "onnx", tmp_path / "m.onnx", opset=21)
    assert [o.version for o in onnx.load(str(model_file)).opset_import if o.domain == ""] == [21]


def test_predict_notes_already_normalised_arrays(runs):
    """Before: run.predict stretched normalised floats (negative values) to 0..255 without a word."""
    run = vislab.load_run(runs["mlp"])
    x = np.random.default_rng(0).integers(0, 256, (3, 8, 8)).astype(np.uint8)
    with pytest.warns(
        vislab.Note, match=r"below 0, as already normalised images do: vislab takes raw"
    ):
        run.predict((x / 255 - 0.3) / 0.4, top_k=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", vislab.Note)
        run.predict(x / 255, top_k=1)  # raw floats in 0..1: nothing to say
