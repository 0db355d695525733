"""``run.predict`` and ``run.explain`` take torch tensors as they take numpy arrays (what a notebook's
DataLoader or ``ToTensor`` gives): both said "cannot classify a Tensor"."""

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import vislab


def test_a_tensor_is_classified_and_explained_as_its_array(trained):
    run = vislab.load_run(trained)
    batch = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(0))  # digits: 1×8×8
    assert run.predict(batch) == run.predict(batch.numpy())
    assert run.predict(batch[0]) == run.predict(batch.numpy()[0])  # one image
    assert run.predict(list(batch)) == run.predict(batch.numpy())  # a list of tensors
    assert run.predict(batch.requires_grad_()) == run.predict(batch.detach().numpy())
    figure = run.explain(batch[:2].detach(), method="saliency")
    assert isinstance(figure, Figure) and len(figure.axes) >= 2


def test_what_is_not_an_image_names_what_is(trained):
    run = vislab.load_run(trained)
    with pytest.raises(vislab.UserError, match="cannot classify a dict: .* or torch tensors"):
        run.predict({"x": np.zeros((8, 8))})


def test_a_feature_model_takes_a_tensor_of_vectors(tmp_path):
    kw = dict(model="mlp", model__hidden=[4], epochs=1, train__device="cpu", train__figures=False)
    run = vislab.train(data="circles", data__limit=100, out=tmp_path / "c", quiet=True, **kw)
    points = torch.tensor([[0.1, -0.2], [0.9, 0.4]], requires_grad=True)
    assert run.predict(points) == run.predict(points.detach().numpy().tolist())
