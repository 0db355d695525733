"""Shared test helpers: tiny configs on the bundled `digits` data (no network, seconds per run)."""

from pathlib import Path

import pytest

from vislab.config import build_config

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def tiny_config(*overrides: str, **sections):
    """digits, 300 train samples, an MLP (unless model.name is given), 2 epochs — plus ``key=value`` overrides."""
    base = [
        "data.name=digits",
        "data.limit=300",
        "train.epochs=2",
        "train.batch_size=32",
        "train.seed=0",
        "train.device=cpu",
    ]
    if not any(o.startswith("model.name=") for o in overrides):
        base += ["model.name=mlp", "model.hidden=[32]"]
    return build_config({}, [*base, *overrides])


@pytest.fixture
def tiny():
    return tiny_config
