"""What a run's samples were is recorded (summary.json ``sample_shape``) and said by it: the data line
called any dataset but the circles "images", feature vectors given in memory included."""

import numpy as np

import vislab
from vislab.experiments.results.data_used import data_line


def test_the_data_line_says_feature_vectors_images_or_points_from_the_runs_shape(tmp_path):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(120, 5)).astype(np.float32), rng.integers(0, 2, 120)
    kw = dict(model="mlp", model__hidden=[4], epochs=1, train__device="cpu", train__figures=False)
    run = vislab.train(data=features, out=tmp_path / "f", quiet=True, **kw)
    assert run.summary["sample_shape"] == [5]
    assert data_line({"f": run.summary}).endswith("test feature vectors).")
    images = rng.integers(0, 255, (120, 8, 8), dtype=np.uint8), rng.integers(0, 2, 120)
    run = vislab.train(data=images, out=tmp_path / "i", quiet=True, **kw)
    assert run.summary["sample_shape"] == [1, 8, 8]
    assert data_line({"i": run.summary}).endswith("test images).")
    circles = vislab.train(data="circles", out=tmp_path / "c", quiet=True, data__limit=200, **kw)
    assert data_line({"c": circles.summary}).endswith("test points).")
