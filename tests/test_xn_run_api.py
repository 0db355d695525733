"""A notebook user's Run: the network's input (run.preprocess), a mistyped folder given to predict_files
and ``vislab predict``, the pos-embed figure of a hand-written ViT, load_run of a missing path or of a
folder of runs, and a Config shown in a notebook."""

import numpy as np
import pytest
import torch
from IPython.lib.pretty import pretty
from matplotlib.figure import Figure

import vislab
from conftest import cli, one_line, table_run
from vislab.errors import UserError
from vislab.models.hooks import ModelHooks, TokenGrid


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """20 of the bundled digits as uint8 N×H×W images, as a user holds them."""
    from sklearn.datasets import load_digits  # heavy: imported by the tests that use it

    return (load_digits().images[:20] * 255 / 16).astype(np.uint8)


def test_the_model_fed_run_preprocess_gives_predicts_classes(trained, digits):
    """run.model() takes normalised inputs (data.normalize=standard), not pixels/255: run.preprocess of
    the images predict takes is its input, and gives predict's classes and probabilities."""
    run = vislab.load_run(trained)
    x = run.preprocess(digits)
    assert x.shape == (20, 1, 8, 8) and x.dtype == torch.float32
    with torch.inference_mode():
        probs = torch.softmax(run.model()(x), 1)
    names = list(run.summary["test_per_class"])  # the classes, in the model's order
    ranked = run.predict(digits, top_k=1)
    assert [names[i] for i in probs.argmax(1).tolist()] == [r[0][0] for r in ranked]
    assert probs.max(1).values.tolist() == pytest.approx([r[0][1] for r in ranked], abs=1e-5)
    assert run.preprocess(digits[0]).shape == (1, 1, 8, 8)  # one image, as predict takes it


def test_preprocess_of_a_model_of_feature_vectors_is_its_normalised_input(tmp_path):
    """A circles run's model takes the raw features normalised as in training: run.preprocess gives it."""
    run = vislab.train(
        model="mlp",
        data="circles",
        data__n_samples=100,
        train__epochs=1,
        train__batch_size=30,
        train__device="cpu",
        train__figures=False,
        out=tmp_path / "circles",
        quiet=True,
    )
    points = np.array([[0.1, -0.2], [0.9, 0.4], [-1.0, 0.0]])
    x = run.preprocess(points)
    assert x.shape == (3, 2) and not torch.allclose(x, torch.from_numpy(points).float())
    with torch.inference_mode():
        probs = torch.softmax(run.model()(x), 1)
    ranked = run.predict(points, top_k=1)
    assert probs.max(1).values.tolist() == pytest.approx([r[0][1] for r in ranked], abs=1e-5)
    with pytest.raises(UserError, match="this model takes 2-D feature vectors"):
        run.preprocess(np.zeros((2, 3)))


def test_a_missing_folder_is_said_to_be_missing_by_predict_files_and_vislab_predict(
    trained, tmp_path, capsys
):
    """A mistyped folder was a one-row table (CLI: "1 image (1 could not be read)") whose error read
    "does not exist or is not a file: give PNG/JPEG/BMP/... files", as if folders were refused."""
    photos = tmp_path / "photos"
    with pytest.raises(UserError) as e:
        vislab.load_run(trained).predict_files(f"{photos}/")
    assert one_line(str(e.value)) == (
        f"'{photos}' does not exist: give image files, or folders of them (every image inside is "
        f"classified)."
    )
    code, out = cli(capsys, "predict", trained, photos)
    said = one_line(out)
    assert code == 2 and f"'{photos}' does not exist: give image files, or folders" in said
    assert "could not be read" not in said and "is not a file" not in said


class PatchNet(ModelHooks, torch.nn.Module):
    """A hand-written ViT-like model: 4×4 patches, a learned position embedding, its hooks naming both."""

    def __init__(self, input_shape: tuple, num_classes: int):
        super().__init__()
        c, h, w = input_shape
        self.grid = (h // 4, w // 4)
        self.embed = torch.nn.Conv2d(c, 8, 4, stride=4)
        self.pos = torch.nn.Parameter(torch.randn(self.grid[0] * self.grid[1], 8))
        self.head = torch.nn.Linear(8, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x).flatten(2).transpose(1, 2) + self.pos
        return self.head(tokens.mean(1))

    def position_embedding(self) -> torch.Tensor:
        return self.pos

    def token_grid(self) -> TokenGrid:
        return TokenGrid(self.grid, class_token=False)


def test_pos_embed_of_a_model_without_one_names_the_hooks_that_give_it(trained, tmp_path):
    """The refusal named only vislab's vit and timm ViTs; it names the ModelHooks hooks, which work."""
    with pytest.raises(UserError) as e:
        vislab.load_run(trained).plot("pos-embed")
    said = one_line(str(e.value))
    assert "its position_embedding() and token_grid() hooks give None" in said
    assert "subclasses vislab.models.hooks.ModelHooks" in said
    assert "TokenGrid, from token_grid()" in said
    run = vislab.train(
        model=PatchNet,
        data="digits",
        data__limit=100,
        train__epochs=1,
        train__batch_size=50,
        train__device="cpu",
        train__figures=False,
        out=tmp_path / "patches",
        quiet=True,
    )
    assert isinstance(run.plot("pos-embed"), Figure)  # the hooks the message names are enough


def test_load_run_of_a_missing_path_or_a_folder_of_runs_says_which(tmp_path):
    """Both said "is not a vislab run directory (it holds no config.yaml)"."""
    with pytest.raises(UserError) as e:
        vislab.load_run(tmp_path / "nope")
    said = one_line(str(e.value))
    assert said.startswith(f"'{tmp_path / 'nope'}' does not exist: give the folder a run was")
    runs = tmp_path / "runs"
    runs.mkdir()
    for name in ("a", "b", "c", "d"):
        table_run(runs, name)
    with pytest.raises(UserError) as e:
        vislab.load_run(runs)
    said = one_line(str(e.value))
    first, folder = (runs / "a").as_posix(), runs.as_posix()
    assert f"but a folder of runs: '{first}', '{folder}/b', '{folder}/c' and 1 more." in said
    assert f"vislab.load_run('{first}')" in said and f"vislab.compare('{folder}')" in said
    assert "holds no config.yaml" not in said
    assert list(vislab.compare(folder).run) == ["a", "b", "c", "d"]  # the fix it names works
    assert vislab.load_run(first).summary["status"] == "complete"


def test_a_config_shows_as_its_yaml_in_a_notebook():
    """A notebook showed run.config as pydantic's one-line repr (1,869 characters); repr stays that."""
    cfg = vislab.load_config(overrides={"optim.lr": 0.1})
    assert pretty(cfg) == f"# vislab Config\n{cfg.to_yaml().rstrip()}"
    assert pretty(cfg.optim).splitlines()[:3] == ["# vislab OptimConfig", "name: adam", "lr: 0.1"]
    assert pretty(cfg.model).startswith("# vislab ModelConfig\nname: ")
    assert repr(cfg).startswith("Config(data=DataConfig(") and "\n" not in repr(cfg)
    assert "\n" not in str(cfg)  # and str
