"""Weights files as a student meets them: a file of another architecture is refused naming the first
tensor that differs and what to give instead; a pickled whole model is refused with how to save its
weights; DDP's and torch.compile's prefixes load; timm weights in a Hugging Face cache without refs/main
say the command that names the snapshot; notes for train.init_from of a run with other inputs, for
model.pretrained beside model.weights or a train.init_from that replaces everything, for pretrained
weights on default normalisation and for resnet18's ImageNet stem on small images; train.freeze naming a
module suggests its parameters' pattern."""

from __future__ import annotations

import subprocess
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn

import vislab
from conftest import one_line
from vislab.errors import Note, UserError
from vislab.models import build_model
from vislab.models.registry import WeightOptions
from vislab.models.weights import read_state_dict
from vislab.training import finetune


def _notes(fn, *args, **kwargs) -> tuple[object, list[str]]:
    """``fn``'s result and the messages of the Notes it warned, each on one line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    return out, [one_line(str(w.message)) for w in caught if issubclass(w.category, Note)]


def _refused(fn, *args, **kwargs) -> str:
    with pytest.raises(UserError) as e:
        fn(*args, **kwargs)
    return one_line(str(e.value))


def _tv_state(depth: int) -> dict[str, torch.Tensor]:
    import torchvision.models as tvm

    return getattr(tvm, f"resnet{depth}")(weights=None).state_dict()


# ------------------------------------------------------------------- 1. another architecture


@pytest.fixture(scope="module")
def r34(tmp_path_factory):
    """A torchvision ResNet-34 state dict, and the file it is saved in."""
    sd, file = _tv_state(34), tmp_path_factory.mktemp("fw") / "r34.pth"
    torch.save(sd, file)
    return sd, file


def test_a_resnet34_file_for_resnet18_names_the_first_tensor_and_timm_resnet34(r34):
    """Every resnet18 tensor has a namesake in a resnet34 file, but half its blocks have no place: refused,
    naming the first block resnet18 lacks and the timm model that takes the file as it is."""
    file = r34[1]
    text = _refused(build_model, "resnet18", (3, 32, 32), 10, weights=str(file))
    assert f"'{file}' is a weights file of another architecture" in text, text
    assert "the first that differs: 'layer1.2.conv1.weight', which this model has not" in text, text
    assert f"--set model.name=timm:resnet34 --set model.weights={file}" in text, text


def test_the_timm_model_the_message_names_takes_the_resnet34_file(r34):
    """The fix the refusal gives works: timm:resnet34 loads the torchvision file, every tensor but the
    classifier (10 classes here) as it is in the file."""
    pytest.importorskip("timm")
    sd, file = r34
    model, notes = _notes(build_model, "timm:resnet34", (3, 32, 32), 10, weights=str(file))
    own = model.state_dict()
    assert torch.equal(own["layer3.5.conv2.weight"], sd["layer3.5.conv2.weight"])
    assert not any("not used" in n for n in notes), notes


@pytest.fixture(scope="module")
def r18() -> dict[str, torch.Tensor]:
    return _tv_state(18)


def test_a_file_of_the_same_names_in_other_widths_is_refused_naming_the_first(tmp_path, r18):
    """Layers 2 to 4 twice as wide: most namesakes differ in shape; the first is named with both shapes."""
    wide = {
        k: torch.zeros(2 * v.shape[0], *v.shape[1:]) if k.startswith(("layer2", "layer3", "layer4"))
        and v.ndim else v
        for k, v in r18.items()
    }  # fmt: skip
    torch.save(wide, tmp_path / "wide.pth")
    text = _refused(build_model, "resnet18", (3, 32, 32), 10, weights=str(tmp_path / "wide.pth"))
    assert "is a weights file of another architecture" in text and "differ in shape" in text, text
    assert (
        "the first that differs: 'layer2.0.conv1.weight' is 256×64×3×3 in the file, 128×64×3×3 here"
        in text
    )


def test_a_file_of_other_names_is_refused_naming_its_first_tensor(tmp_path):
    file = tmp_path / "mine.pth"
    torch.save({"encoder.0.weight": torch.zeros(4, 3), "encoder.0.bias": torch.zeros(4)}, file)
    text = _refused(build_model, "resnet18", (3, 32, 32), 10, weights=str(file))
    assert "0 of the model's 122 tensors find a namesake" in text, text
    assert "the first that differs: 'encoder.0.weight', which this model has not" in text, text
    assert text.endswith("Give a ResNet-18 state dict (torchvision's resnet18-f37072fd.pth; "
                         "model.pretrained=true finds it in torch hub's cache).")  # fmt: skip


# ------------------------------------------------------------- 2. a pickled model, DDP, compile


def test_a_pickled_whole_model_says_to_save_its_state_dict(tmp_path):
    file = tmp_path / "whole.pth"
    torch.save(nn.Linear(2, 3), file)
    text = _refused(read_state_dict, file, "resnet18")
    assert "holds a pickled torch.nn.modules.linear.Linear, not a state dict" in text, text
    assert "torch.save(model.state_dict(), path)" in text and "\x1b[" not in text, text


@pytest.mark.parametrize("prefix", ["module.", "_orig_mod."])
def test_a_state_dict_of_a_ddp_or_compiled_model_reads_as_the_models(tmp_path, prefix):
    sd = nn.Sequential(nn.Linear(2, 3)).state_dict()
    torch.save({f"{prefix}{k}": v for k, v in sd.items()}, tmp_path / "w.pth")
    assert list(read_state_dict(tmp_path / "w.pth", "resnet18")) == ["0.weight", "0.bias"]


def test_resnet18_loads_a_file_saved_from_ddp(tmp_path, r18):
    sd = r18
    torch.save({f"module.{k}": v for k, v in sd.items()}, tmp_path / "ddp.pth")
    model = build_model(
        "resnet18", (3, 64, 64), 1000, cifar_stem=False, weights=str(tmp_path / "ddp.pth")
    )
    assert all(torch.equal(v, sd[k]) for k, v in model.state_dict().items())


# ------------------------------------------------------------------ 3. a Hugging Face snapshot


def test_timm_weights_without_refs_main_say_the_command_that_names_the_snapshot(
    tmp_path, monkeypatch
):
    """A snapshot copied without refs/main: the message says so and gives a command, which, run as
    given, makes the weights found."""
    pytest.importorskip("timm")
    from huggingface_hub import constants
    from timm.models import get_pretrained_cfg

    from vislab.models.timm_zoo import cached_weights

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch"))
    repo = get_pretrained_cfg("resnet18").hf_hub_id
    folder = tmp_path / "hub" / f"models--{repo.replace('/', '--')}"
    (folder / "snapshots" / "abc123").mkdir(parents=True)
    (folder / "snapshots" / "abc123" / "model.safetensors").write_bytes(b"x")
    text = _refused(build_model, "timm:resnet18", (3, 32, 32), 10, pretrained=True)
    assert "found snapshots/abc123/ but no refs/main" in text, text
    command = text.split("which tells the hub which snapshot to use: ")[1].split(")")[0]
    assert command == f"mkdir -p '{folder}/refs' && echo -n abc123 > '{folder}/refs/main'"
    subprocess.run(["bash", "-c", command], check=True)
    assert cached_weights("resnet18")[0] == folder / "snapshots" / "abc123" / "model.safetensors"


# ------------------------------------------------------------------- 4.-5. notes of a new run


class Net(nn.Module):
    """A conv and a head, for images of any size; ``pretrained`` as a library model's (it loads nothing),
    where a test declares it so (:func:`_declared`)."""

    def __init__(self, num_classes: int, input_shape: tuple[int, ...], pretrained: bool = False):
        super().__init__()
        c = input_shape[0]
        self.body = nn.Sequential(nn.Conv2d(c, 4, 3), nn.AdaptiveAvgPool2d(2), nn.Flatten())
        self.head = nn.Linear(16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _train(out, **settings) -> list[str]:
    """A 1-epoch run of Net on 64 random 8×8 images of 4 classes; the Notes it warned."""
    rng = np.random.default_rng(0)
    data = (rng.integers(0, 256, (64, 8, 8), dtype=np.uint8), np.arange(64) % 4, list("abcd"))
    kw = dict(train__epochs=1, train__batch_size=16, train__figures=False, train__threads=1)
    return _notes(vislab.train, model=Net, data=data, out=out, **kw, **settings)[1]


@pytest.fixture(scope="module")
def unnormalised(tmp_path_factory):
    """A run trained on raw pixels, upsampled to 16 px (data.normalize=none, data.resize=16)."""
    out = tmp_path_factory.mktemp("fw") / "raw"
    _train(out, data__normalize="none", data__resize=16)
    return out


def test_init_from_a_run_of_other_inputs_says_how_to_prepare_them_as_there(unnormalised, tmp_path):
    notes = _train(tmp_path / "new", train__init_from=str(unnormalised))
    said = [n for n in notes if "were trained on inputs" in n]
    assert said == [
        f"train.init_from={unnormalised}: its weights were trained on inputs prepared with "
        f"data.normalize=none, data.resize=16, this run gives them data.normalize=standard, "
        f"data.resize=null: they see other values than they learnt on. --set data.normalize=none "
        f"--set data.resize=16 / data__normalize='none', data__resize=16 prepares them as there."
    ], notes
    again = _train(tmp_path / "same", train__init_from=str(unnormalised), data__resize=16,
                   data__normalize="none")  # fmt: skip
    assert not any("were trained on inputs" in n for n in again), again


def _declared(monkeypatch) -> None:
    """Net's ``pretrained`` read as a family's that loads published weights (a user's option of that
    name means nothing to vislab: only vislab's families declare theirs, registry.COPIES_WEIGHTS)."""
    published = WeightOptions(published="pretrained", file="weights")
    monkeypatch.setattr(finetune, "weight_options", lambda name: published)


def test_pretrained_notes_on_default_normalisation_and_under_init_from(
    unnormalised, tmp_path, monkeypatch
):
    """model.pretrained=true on the default data.normalize suggests imagenet (not where it is given);
    under a train.init_from that replaces every tensor it does nothing, as its note says."""
    _declared(monkeypatch)
    notes = _train(tmp_path / "a", model__pretrained=True)
    assert any("--set data.normalize=imagenet / data__normalize='imagenet'" in n for n in notes)
    notes = _train(tmp_path / "b", model__pretrained=True, data__normalize="none")
    assert not any("data.normalize=imagenet" in n for n in notes), notes
    notes = _train(tmp_path / "c", model__pretrained=True, train__init_from=str(unnormalised),
                   data__resize=16, data__normalize="none")  # fmt: skip
    assert any(
        f"model.pretrained=true does nothing here: train.init_from={unnormalised} replaced every "
        f"tensor of the model. Remove model.pretrained." in n
        for n in notes
    ), notes


def test_pretrained_beside_a_weights_file_says_the_file_wins(tmp_path, r18):
    torch.save(r18, tmp_path / "r18.pth")
    _, notes = _notes(build_model, "resnet18", (3, 64, 64), 1000, cifar_stem=False,
                      pretrained=True, weights=str(tmp_path / "r18.pth"))  # fmt: skip
    assert notes == [
        f"resnet18: model.pretrained=true does nothing beside model.weights: the weights come from "
        f"'{tmp_path / 'r18.pth'}'. Remove one of the two."
    ]


# --------------------------------------------------------------------- 6. stem, 7. freeze


def test_the_imagenet_stem_on_small_images_says_it_shrinks_them():
    _, notes = _notes(build_model, "resnet18", (3, 32, 32), 10, cifar_stem=False)
    assert len(notes) == 1 and "model.cifar_stem=false on 32×32 images" in notes[0], notes
    assert "a 1×1 map before the global pool" in notes[0], notes
    assert "Leave model.cifar_stem at its default (true) for small images" in notes[0], notes


def test_freeze_naming_a_module_suggests_its_parameters_pattern(tmp_path):
    text = _refused(_train, tmp_path / "f", train__freeze=["body"])
    assert "train.freeze pattern 'body' names a module" in text, text
    assert "(--set 'train.freeze=[body.*]' / train__freeze=['body.*'])" in text, text
