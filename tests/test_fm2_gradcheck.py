"""Gradcheck of a student's own model whose hook is wrong: an exception of their hook or forward is shown as
`vislab train` shows it (their frames only, exit 2; FAILED stays exit 1), a hook returning something else
than ``HandWrittenGradients`` of tensors with autograd's reference logits is refused naming what it
returned; and ``vislab.gradcheck``'s argument messages give advice that works when followed."""

import textwrap

import pytest
import torch.nn as nn

import vislab
from conftest import cli, one_line
from test_user_code_errors import assert_users_frames_only, run_cli
from vislab.errors import UserCodeError, UserError
from vislab.models.hooks import HandWrittenGradients, ModelHooks

NETS = textwrap.dedent(
    """
    import torch, torch.nn as nn
    import torch.nn.functional as F
    from vislab.models.hooks import ModelHooks, HandWrittenGradients

    class Net(ModelHooks, nn.Module):
        def __init__(self, input_shape, num_classes, hidden=4, bug="none"):
            super().__init__()
            d = 1
            for s in input_shape:
                d *= s
            self.l1, self.l2, self.bug = nn.Linear(d, hidden), nn.Linear(hidden, num_classes), bug

        def forward(self, x):
            x = x if self.bug == "noflatten" else x.flatten(1)
            return self.l2(torch.tanh(self.l1(x)))

        def hand_written_gradients(self, x, y):
            if self.bug == "raise":
                y = y.float()
            h = torch.tanh(self.l1(x.flatten(1)))
            d = (self.l2(h).softmax(1) - F.one_hot(y, self.l2.out_features)) / len(x)
            dpre = (d @ self.l2.weight) * (1 - h**2)
            grads = [dpre.T @ x.flatten(1), dpre.sum(0), d.T @ h, d.sum(0)]
            if self.bug == "tuple":
                return grads, self(x)
            if self.bug == "numpy":
                return HandWrittenGradients([g.detach().numpy() for g in grads], self(x))
            if self.bug == "nograd":
                with torch.no_grad():
                    return HandWrittenGradients(grads, self(x))
            return HandWrittenGradients(grads, self(x))
    """
)


@pytest.fixture
def nets(tmp_path):
    path = tmp_path / "nets.py"
    path.write_text(NETS)
    return f"{path}:Net"


def _line_of(code: str) -> int:
    return next(i for i, text in enumerate(NETS.splitlines(), 1) if code in text)


def _gradcheck(capsys, nets, bug):
    return run_cli(capsys, "model", "gradcheck", nets, "--input", "1x3x3", "--set", f"bug={bug}")


def test_an_exception_raised_in_the_users_hook_shows_their_frames_only(capsys, nets):
    code, text = _gradcheck(capsys, nets, "raise")
    assert code == 2, text
    message = assert_users_frames_only(text, "nets.py", "F.one_hot(y, self.l2.out_features)")
    net, line = nets.rpartition(":")[0], _line_of("F.one_hot(y, self.l2.out_features)")
    assert "your code raised RuntimeError in its hand_written_gradients hook" in message, message
    assert f"at {net}, line {line}" in message, message
    with pytest.raises(UserCodeError, match="in its hand_written_gradients hook") as failed:
        vislab.gradcheck(nets, (1, 3, 3), bug="raise")
    assert_users_frames_only(str(failed.value), "nets.py", "F.one_hot(y, self.l2.out_features)")
    assert cli(capsys, "model", "gradcheck", nets, "--input", "1x3x3")[0] == 0  # the right hook


def test_a_forward_that_fails_at_the_shape_given_names_the_users_line_and_layer(capsys, nets):
    code, text = _gradcheck(capsys, nets, "noflatten")
    assert code == 2, text
    message = assert_users_frames_only(text, "nets.py", "self.l2(torch.tanh(self.l1(x)))")
    assert "random batch x of shape [16, 1, 3, 3]" in message, message
    assert "in its layer 'l1' (Linear(in_features=9" in message, message


@pytest.mark.parametrize(
    "bug, said",
    [
        ("tuple", "returned a tuple of 2 (a list of 4 (a torch.Tensor,"),
        ("numpy", "returned gradients as a list of 4 (a numpy.ndarray,"),
        ("nograd", "gives reference_logits without autograd's graph (requires_grad=False)"),
    ],
)
def test_a_hook_returning_other_than_its_contract_is_refused_naming_what_it_returned(
    capsys, nets, bug, said
):
    code, text = cli(capsys, "model", "gradcheck", nets, "--input", "1x3x3", "--set", f"bug={bug}")
    assert code == 2, text
    assert said in one_line(text), text
    fix = {"tuple": "return HandWrittenGradients(gradients, reference_logits)"}
    fix |= {"numpy": "torch.from_numpy(a)", "nograd": "outside torch.no_grad()"}
    assert fix[bug] in one_line(text), text
    with pytest.raises(UserError) as refused:
        vislab.gradcheck(nets, (1, 3, 3), bug=bug)
    assert said in str(refused.value) and "Traceback" not in str(refused.value)


class TinyHand(ModelHooks, nn.Module):
    """Logistic regression with its gradients by hand: options ``scale`` only."""

    def __init__(self, input_shape, num_classes, scale: float = 1.0):
        super().__init__()
        self.fc, self.scale = nn.Linear(input_shape[0], num_classes), scale

    def forward(self, x):
        return self.fc(x) * self.scale

    def hand_written_gradients(self, x, y):
        logits = self(x)
        d = (logits.softmax(1) - nn.functional.one_hot(y, logits.shape[1])) * self.scale / len(x)
        return HandWrittenGradients([d.T @ x, d.sum(0)], logits)


def test_an_instance_is_refused_with_advice_that_works_when_followed():
    with pytest.raises(UserError) as refused:  # the class, its options as gradcheck's keywords
        vislab.gradcheck(TinyHand((2,), 3))
    said = one_line(str(refused.value))
    assert "vislab.gradcheck(TinyHand, scale=...)" in said and "model__" not in said, said
    assert vislab.gradcheck(TinyHand, scale=2.0).passed


def test_vislab_trains_model__prefix_is_refused_naming_the_keyword_to_give():
    with pytest.raises(UserError) as refused:
        vislab.gradcheck(TinyHand, model__scale=2.0)
    said = one_line(str(refused.value))
    assert "gradcheck takes a model's options as keywords of their own: scale=" in said, said


def test_a_misspelt_keyword_of_gradchecks_own_is_named_as_gradchecks():
    with pytest.raises(UserError) as refused:  # the command's --classes is num_classes= here
        vislab.gradcheck(TinyHand, classes=5)
    said = one_line(str(refused.value))
    assert "Did you mean gradcheck's num_classes= (the command's --classes)?" in said, said
    assert "(its options: scale)" in said and "model.classes" not in said, said
    assert vislab.gradcheck(TinyHand, num_classes=5).passed
    with pytest.raises(
        UserError
    ) as refused:  # a model option misspelt: its own, name not among them
        vislab.gradcheck(TinyHand, scal=2.0)
    said = one_line(str(refused.value))
    assert "has no option scal=" in said and "Did you mean scale=? Its options: scale;" in said, (
        said
    )
