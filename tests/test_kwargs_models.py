"""A model class or builder that takes its arguments by ``**kwargs`` (``Net(**kw)``, ``build(**kw)``)
takes num_classes all the same: built and trained as the one calling convention says, its other
``model.*`` options passed through."""

import textwrap

from conftest import cli, tiny_sets
from vislab.models import build_model

KWNET = textwrap.dedent(
    """
    import math
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self, **kw):
            super().__init__()
            self.seen = dict(kw)
            self.fc = nn.Linear(64, kw["num_classes"])

        def forward(self, x):
            return self.fc(x.flatten(1))


    def build(**kw):
        net = Net(num_classes=kw["num_classes"])
        net.seen = dict(kw)
        return net
    """
)


def test_kwargs_class_and_builder_build_with_their_options(tmp_path, monkeypatch):
    (tmp_path / "kwnet.py").write_text(KWNET)
    monkeypatch.chdir(tmp_path)
    net = build_model("kwnet.py:Net", (1, 8, 8), 10, width=4)
    assert net.seen == {"num_classes": 10, "width": 4} and net.fc.out_features == 10
    built = build_model("kwnet.py:build", (1, 8, 8), 10, width=4)
    assert built.seen == {"input_shape": (1, 8, 8), "num_classes": 10, "width": 4}


def test_a_kwargs_model_trains_from_the_command_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "kwnet.py").write_text(KWNET)
    monkeypatch.chdir(tmp_path)
    for name in ("Net", "build"):
        sets = tiny_sets("train.figures=false", drop="model.hidden=[32]")
        code, out = cli(
            capsys, "train", "--out", tmp_path / name, *sets, "--set", f"model.name=kwnet.py:{name}"
        )
        assert code == 0 and "does not take num_classes" not in out, out
