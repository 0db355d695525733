"""What a new user trips over (issue #22, items 3 and 6): a mistyped data.root, `data info` downloading,
`model info RUN`, the eval summary, a quick check that still scores every val/test image, and the examples
the README points at. No network: any download attempt fails the test."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO, cli, one_line, tiny_sets
from fixtures import write_cifar_tarball, write_idx
from vislab.config import DataConfig, build_config
from vislab.data import download as dl
from vislab.data.sources import idx, load_source
from vislab.data.split import make_splits
from vislab.errors import DataError
from vislab.experiments.sweeps.spec import base_tree, load_sweep
from vislab.models import build_model
from vislab.predict import load_model


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """The URLs vislab tried to open; each attempt fails as an unreachable network would."""
    urls: list[str] = []

    def urlopen(request, timeout=None):
        urls.append(getattr(request, "full_url", str(request)))
        raise OSError("no network in tests")

    monkeypatch.setattr(dl.urllib.request, "urlopen", urlopen)
    return urls


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# ------------------------------------------------------------------------ item 3: data roots
@pytest.mark.parametrize(
    "name, folder, typed",
    [
        ("fashion-mnist", "fashion-mnist", "fashion_mnist"),
        ("mnist", "MNIST", "mnist"),
        ("cifar10", "cifar-10", "cifar10"),
    ],
)
def test_a_mistyped_root_names_the_near_miss_and_creates_nothing(
    tmp_path, capsys, opened, name, folder, typed
):
    (tmp_path / folder).mkdir()
    typo = tmp_path / typed
    code, text = cli(capsys, "train", *tiny_sets(f"data.name={name}", f"data.root={typo}"))
    text = one_line(text)
    assert code == 2, text
    assert f"data.root '{typo}' does not exist" in text
    assert f"Did you mean '{tmp_path / folder}'?" in text
    assert opened == [] and _files(tmp_path) == [folder]  # no network, no folder made


def test_auto_downloads_into_the_default_folder_only(tmp_path, monkeypatch):
    fetched = []

    def fake(url, dest, md5=None, **kw):
        fetched.append(Path(dest).as_posix())
        x = np.zeros((5, 28, 28), np.uint8) if "images" in url else np.arange(5, dtype=np.uint8)
        return write_idx(dest, x)

    monkeypatch.setattr(dl, "download", fake)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    with pytest.raises(DataError) as e:  # an explicit root that exists: vislab says where it looked
        load_source(DataConfig(name="mnist", root=str(tmp_path / "mine")))
    assert str(tmp_path / "mine" / "mnist") in str(e.value) and "data.download=true" in str(e.value)
    assert fetched == [] and _files(tmp_path / "mine") == []
    data = load_source(DataConfig(name="mnist"))  # the default folder, ./data: fetched there
    assert len(data.sets["train"]) == 5
    assert fetched == [f"data/mnist/{s}.gz" for pair in idx._FILES.values() for s in pair]


def test_an_explicit_download_fills_an_existing_root_and_creates_no_missing_one(
    tmp_path, monkeypatch
):
    fetched = []

    def fake(url, dest, md5=None, **kw):
        fetched.append(Path(dest))
        write_cifar_tarball(dest)
        return Path(dest)

    monkeypatch.setattr(dl, "download", fake)
    with pytest.raises(DataError, match="does not exist"):
        load_source(DataConfig(name="cifar10", root=str(tmp_path / "new"), download=True))
    assert fetched == [] and not (tmp_path / "new").exists()
    data = load_source(DataConfig(name="cifar10", root=str(tmp_path), download=True))
    assert fetched == [tmp_path / "cifar-10-python.tar.gz"] and len(data.sets["test"]) > 0


def test_data_info_never_downloads(tmp_path, capsys, monkeypatch, opened):
    monkeypatch.chdir(tmp_path)
    code, text = cli(capsys, "data", "info", "cifar10")
    assert code == 2 and "CIFAR-10 data not found under 'data'" in one_line(text), text
    assert "looked in 'data', 'data/cifar-10-batches-py'" in one_line(text)
    assert opened == [] and _files(tmp_path) == []


# --------------------------------------------------------------------- item 6: small frictions
def test_model_info_of_a_run_shows_its_trained_model(trained, capsys):
    code, text = cli(capsys, "model", "info", trained)
    model, record = load_model(trained)
    assert code == 0, text
    shape = "×".join(map(str, record.inputs.input_shape))
    assert f"({record.model.name}): input {shape} → output {record.model.num_classes}" in one_line(
        text
    )
    assert f"parameters: {sum(p.numel() for p in model.parameters()):,}" in text
    code, text = cli(capsys, "model", "info", trained, "--input", "3x32x32")
    assert code == 2 and "is a run" in text and "Drop --input" in one_line(text)


def test_eval_prints_its_summary_on_one_line_above_the_table(trained, capsys, tmp_path):
    code, text = cli(capsys, "eval", trained, "--out", tmp_path, "--mistakes", "0")
    assert code == 0, text
    first = text.splitlines()[0]
    assert first.startswith("test: acc ") and first.endswith(", n=180"), text


def test_eval_help_says_mistakes_takes_a_number(capsys):
    code, text = cli(capsys, "eval", "--help")
    text = one_line(text.replace("│", " "))  # rich's help panel, its borders out
    assert code == 0
    assert "--mistakes N The N most confidently wrong images" in text
    assert "16 without the option. Give the number: --mistakes 32" in text


def lines_broken_early(rows: list[str]) -> list[str]:
    """The lines of a help panel's command list that end where the next line's first word would still
    have fitted: a line break of the docstring's, not the terminal's."""
    early = []
    for line, after in zip(rows, rows[1:]):
        continued = after.startswith("│  ")  # the same command's text, not the next command
        text_end = len(line.rstrip("│").rstrip())
        next_word = after.strip("│ ").split()[0]
        if continued and text_end + 1 + len(next_word) < len(line) - 2:
            early.append(line)
    return early


@pytest.mark.parametrize("group", [[], ["model"], ["sweep"]])
def test_command_lists_flow_each_summary_as_one_paragraph(capsys, monkeypatch, group):
    monkeypatch.setenv("COLUMNS", "120")
    code, text = cli(capsys, *group, "--help")
    panel = text.partition("Commands")[2].splitlines()[1:]
    rows = [line for line in panel if line.startswith("│")]
    assert code == 0 and len(rows) >= 3, text
    assert lines_broken_early(rows) == [], text


def _fingerprint(data) -> tuple[int, str]:
    return len(data), hashlib.sha256(data.x.tobytes() + data.y.tobytes()).hexdigest()[:16]


def test_limit_eval_shrinks_val_and_test_and_leaves_the_default_split(capsys):
    cfg = DataConfig(name="digits")
    src = load_source(cfg)
    full = make_splits(src, cfg, 0)
    assert [_fingerprint(d) for d in (full.train, full.val, full.test)] == [
        (1455, "ca31e216b0a66a2c"),  # what vislab split before data.limit_eval existed
        (162, "c92efa0e7d5cba8b"),
        (180, "0fafca11716ebd26"),
    ]
    quick = make_splits(src, DataConfig(name="digits", limit=300, limit_eval=50), 0)
    assert (len(quick.train), len(quick.val), len(quick.test)) == (300, 50, 50)
    for part, whole in ((quick.val, full.val), (quick.test, full.test)):
        rows = {r.tobytes() for r in whole.x.reshape(len(whole), -1)}
        assert all(r.tobytes() in rows for r in part.x.reshape(len(part), -1))
    code, text = cli(capsys, "data", "info", "digits", "--set", "data.limit_eval=40")
    assert code == 0 and "│ total │  1455 │  40 │   40 │" in text, text
    assert "│ 2     │   143 │   4 │    4 │" in text  # stratified: every class in both


# ------------------------------------------------------------------------ the README's examples
def test_the_sample_wandb_sweep_validates_on_digits():
    sweep = load_sweep(REPO / "examples" / "wandb-sweep.yaml")
    assert set(sweep.distributions) == {
        "optim.lr",
        "train.batch_size",
        "optim.name",
        "model.dropout",
    }
    cfg = build_config(base_tree(sweep.base, [], "test"))
    assert (cfg.data.name, cfg.model.name, sweep.metric) == ("digits", "cnn", "val_acc")
    assert sweep.pruner is not None and any("program" in n for n in sweep.notes)


def test_the_readme_own_model_is_shipped_and_builds(monkeypatch):
    monkeypatch.chdir(REPO)  # the README's commands run from the clone
    readme = (REPO / "README.md").read_text()
    assert (
        "--set model.name=examples/net.py:Net --set model.width=64 --set data.name=digits" in readme
    )
    model = build_model("examples/net.py:Net", (1, 8, 8), 10, width=64)
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)
