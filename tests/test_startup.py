"""Start-up cost: what importing the API and training load, and the numpy code that replaced scikit-learn
and torch's compiler on that path gives the same numbers. No timing assertions (benchmarks/ time it)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sk_load_digits
from sklearn.metrics import auc as sk_auc
from sklearn.metrics import roc_curve as sk_roc_curve
from sklearn.model_selection import train_test_split

from vislab.config import DataConfig, OptimConfig
from vislab.data.sources import load_source
from vislab.data.split import carve
from vislab.data.types import ArraySet
from vislab.training.optim import build_optimizer
from vislab.training.roc import roc_auc_score, roc_curve

# kornia: a run without augmentation (the digits run above) builds none of its operations
HEAVY = ("sklearn", "matplotlib", "optuna", "pandas", "torch._dynamo", "kornia")

OPTIMIZER_STEPS = """
import torch
from vislab.config import OptimConfig
from vislab.training.optim import build_optimizer
for name in ("sgd", "adam", "adamw"):
    net = torch.nn.Linear(4, 3)
    opt = build_optimizer(net.parameters(), OptimConfig(name=name, lr=0.1))
    for _ in range(2):
        opt.zero_grad(set_to_none=True)
        net(torch.randn(5, 4)).square().mean().backward()
        opt.step()
    opt.load_state_dict(opt.state_dict())
"""

TRAINING = """
import vislab
vislab.train(model="mlp", data="digits", out={out!r}, train__epochs=1, train__figures={figures})
"""

# after each stage, a line: which of HEAVY are imported; then out without the interpreter's teardown (~1 s)
LOADED = "loaded: "
STAGES_SCRIPT = """
import json, os, sys
for code in {codes!r}:
    exec(code, {{}})
    print({marker!r} + json.dumps({{m: m in sys.modules for m in {heavy!r}}}), flush=True)
os._exit(0)
"""


def loaded_after_each(stages: dict[str, str]) -> dict[str, dict[str, bool]]:
    """One fresh interpreter runs the stages' code in order; for each stage, which of HEAVY it has imported
    by its end (a stage runs after the ones before it: what they imported, it has too)."""
    script = STAGES_SCRIPT.format(codes=list(stages.values()), marker=LOADED, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = [line for line in out.stdout.splitlines() if line.startswith(LOADED)]
    assert len(lines) == len(stages), out.stdout
    return {stage: json.loads(line[len(LOADED) :]) for stage, line in zip(stages, lines)}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> dict[str, dict[str, bool]]:
    """A user's session in one interpreter (one start-up of torch for the three checks): import the API,
    step each optimizer, train 1 epoch without figures, then with them."""
    out = tmp_path_factory.mktemp("startup")
    stages = dict(
        api="import vislab.api",
        optimizer=OPTIMIZER_STEPS,
        no_figures=TRAINING.format(out=str(out / "quiet"), figures=False),
        training=TRAINING.format(out=str(out / "run"), figures=True),
    )
    return loaded_after_each(stages)


def test_import_api_loads_no_heavy_library(loaded):
    assert loaded["api"] == dict.fromkeys(HEAVY, False)


def test_optimizer_steps_without_torch_compiler(loaded):
    assert not loaded["optimizer"]["torch._dynamo"]


def test_training_without_figures_or_augmentation_loads_no_heavy_library(loaded):
    assert loaded["no_figures"] == dict.fromkeys(HEAVY, False)


def test_training_loads_no_scikit_learn_pandas_or_optuna(loaded):
    assert not any(loaded["training"][m] for m in ("sklearn", "optuna", "pandas")), loaded


@pytest.mark.parametrize(
    "name, extra",
    [
        ("sgd", dict(momentum=0.9, nesterov=True)),
        ("sgd", dict(momentum=0.0)),
        ("adam", {}),
        ("adamw", {}),
    ],
)
def test_optimizer_matches_torch_and_shares_its_state_dict(name, extra):
    torch.manual_seed(0)
    ours_net, ref_net = torch.nn.Linear(6, 3), torch.nn.Linear(6, 3)
    ref_net.load_state_dict(ours_net.state_dict())
    cfg = OptimConfig(name=name, lr=0.05, weight_decay=1e-3, **extra)
    ours = build_optimizer(ours_net.parameters(), cfg)
    ref_cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name]
    assert isinstance(ours, ref_cls)
    kw = (
        dict(momentum=cfg.momentum, nesterov=cfg.nesterov and cfg.momentum > 0)
        if name == "sgd"
        else dict(betas=cfg.betas)
    )
    ref = ref_cls(ref_net.parameters(), lr=0.05, weight_decay=1e-3, fused=True, **kw)
    for _ in range(4):
        x = torch.randn(8, 6)
        for net, opt in ((ours_net, ours), (ref_net, ref)):
            opt.zero_grad(set_to_none=True)
            net(x).square().mean().backward()
            opt.step()
    for a, b in zip(ours_net.parameters(), ref_net.parameters()):
        assert torch.equal(a, b)
    ref.load_state_dict(ours.state_dict())  # checkpoints move between the two
    ours.load_state_dict(ref.state_dict())
    assert str(ours.state_dict()) == str(ref.state_dict())


def _label_sets(rng: np.random.Generator) -> list[np.ndarray]:
    sets = [np.repeat(np.arange(10), 50), load_source(DataConfig(name="digits")).sets["train"].y]
    for _ in range(400):
        k, n = int(rng.integers(1, 12)), int(rng.integers(2, 300))
        sets.append(rng.choice(k, size=n, p=rng.dirichlet(np.ones(k))).astype(np.int64))
    return sets


def test_carve_gives_scikit_learns_split():
    """Runs and checkpoints made when the split called train_test_split keep their exact splits."""
    rng = np.random.default_rng(0)
    stratified = 0
    for y in _label_sets(rng):
        n, seed = int(rng.integers(1, len(y))), int(rng.integers(0, 2**31))
        counts = np.bincount(y)
        stratify = counts[counts > 0].min() >= 2 and min(n, len(y) - n) >= np.count_nonzero(counts)
        stratified += stratify
        rest, test = train_test_split(
            np.arange(len(y)), test_size=n, random_state=seed, stratify=y if stratify else None
        )
        ours = carve(ArraySet(np.arange(len(y), dtype=np.float32)[:, None], y), n, seed)
        np.testing.assert_array_equal(ours[0].x[:, 0], np.sort(rest))
        np.testing.assert_array_equal(ours[1].x[:, 0], np.sort(test))
    assert stratified > 100  # both kinds of split were compared


def test_roc_gives_scikit_learns_numbers():
    rng = np.random.default_rng(1)
    for i in range(400):
        n = int(rng.integers(2, 200))
        positive = np.arange(n) < int(rng.integers(1, n))
        rng.shuffle(positive)
        score = rng.random(n).astype(np.float32)
        if i % 2:  # many tied scores
            score = np.round(score * 4) / 4
        theirs = sk_roc_curve(positive, score)
        for ours_part, theirs_part in zip(roc_curve(positive, score), theirs):
            np.testing.assert_array_equal(ours_part, theirs_part)
        # scikit-learn's binary roc_auc_score is auc() of its roc_curve (sklearn/metrics/_ranking.py),
        # taken here from the curve at hand: its checks on the inputs cost 5 ms a call, 400 calls
        assert roc_auc_score(positive, score) == sk_auc(theirs[0], theirs[1])


def test_digits_are_scikit_learns():
    bunch = sk_load_digits()
    data = load_source(DataConfig(name="digits")).sets["train"]
    expected = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)[..., None]
    np.testing.assert_array_equal(data.x, expected)
    np.testing.assert_array_equal(data.y, bunch.target)
