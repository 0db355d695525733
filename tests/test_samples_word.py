"""What a run's samples were is recorded (summary.json ``sample_shape``) and said by it: the data line
called any dataset but the circles "images", feature vectors given in memory included."""

import numpy as np

import vislab
from vislab.experiments.results.data_used import data_line
from vislab.training.summary import RunSummary


def test_a_feature_vector_run_records_its_shape_and_is_said_so(tmp_path):
    rng = np.random.default_rng(0)
    features = rng.normal(size=(120, 5)).astype(np.float32), rng.integers(0, 2, 120)
    kw = dict(model="mlp", model__hidden=[4], epochs=1, train__device="cpu", train__figures=False)
    run = vislab.train(data=features, out=tmp_path / "f", quiet=True, **kw)
    assert run.summary["sample_shape"] == [5]
    assert data_line({"f": run.summary}).endswith("test feature vectors).")


def test_images_and_points_by_their_shape_whatever_the_name():
    sizes = dict(n_train=8, n_val=2, n_test=2)
    images = RunSummary(data="memory:mine", sample_shape=[1, 8, 8], **sizes)
    assert data_line({"i": images}).endswith("test images).")
    points = RunSummary(data="my-moons", sample_shape=[2], **sizes)
    assert data_line({"p": points}).endswith("test points).")
