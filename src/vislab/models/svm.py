"""`svm`: scikit-learn's SVC as a fitted baseline (RDFIA 1-ab compares it with the MLP on `circles`).

``fit_arrays`` fits ``sklearn.svm.SVC`` once on the whole (normalised, flattened) train split; the
fitted model is then copied into tensors — support vectors, dual coefficients, intercepts, kernel
constants — so it lives in the state dict, checkpoints load with ``weights_only=True``, and
``forward`` evaluates the decision function in torch (no scikit-learn needed to predict):

    f_ij(x) = Σ_{s ∈ SV(i) ∪ SV(j)} α_s K(s, x) + b_ij           for each pair of classes i < j

(libsvm's one-vs-one scheme: f_ij > 0 votes for i). The scores are scikit-learn's "ovr" decision
function: votes plus a squashed sum of confidences, whose arg-max is the predicted class. For two classes
the logits are (f₀₁/2, −f₀₁/2): softmax gives class 1 the probability sigmoid(−f₀₁), −f₀₁ being
``SVC.decision_function``. (With tied votes scikit-learn's ``predict`` takes the lower class while the
scores here break the tie by confidence, as ``SVC(break_ties=True)``.)
"""

from __future__ import annotations

from typing import Annotated, Literal

import torch
import torch.nn as nn
from pydantic import Field

from vislab.errors import UserError
from vislab.models.hooks import ModelHooks
from vislab.models.options import Size, described
from vislab.models.registry import register_model

Kernel = Literal["linear", "rbf", "poly", "sigmoid"]
_FITTED = ("support_vectors", "dual_coef", "intercept", "n_support", "classes", "gamma")


class SVM(ModelHooks, nn.Module):
    """A kernel SVM whose fitted arrays are buffers; scores computed in torch (float64)."""

    trained_by = "fit_arrays"

    def __init__(
        self,
        num_classes: int,
        kernel: Kernel,
        C: float,
        gamma: float | str,
        degree: int,
        coef0: float,
        max_samples: int | None,
    ):
        super().__init__()
        self.num_classes, self.kernel, self.C, self.gamma_option = num_classes, kernel, C, gamma
        self.degree, self.coef0, self.max_samples = degree, coef0, max_samples
        f64 = dict(dtype=torch.float64)
        self.register_buffer("support_vectors", torch.zeros(0, 0, **f64))  # S × D
        self.register_buffer("dual_coef", torch.zeros(0, 0, **f64))  # (K−1) × S, libsvm layout
        # K(K−1)/2, pairs (0,1), (0,2), …, (1,2), …
        self.register_buffer("intercept", torch.zeros(0, **f64))
        # support vectors per fitted class
        self.register_buffer("n_support", torch.zeros(0, dtype=torch.long))
        # the labels seen when fitting
        self.register_buffer("classes", torch.zeros(0, dtype=torch.long))
        # the numeric gamma ('scale'/'auto' resolved)
        self.register_buffer("gamma", torch.zeros((), **f64))

    # ----------------------------------------------------------------------------------- fitting
    def fit_arrays(self, x: torch.Tensor, y: torch.Tensor) -> None:
        from sklearn.svm import SVC  # heavy (scikit-learn's svm stack): only when an svm is fitted

        x = x.detach().flatten(1).double().cpu()
        y = y.detach().long().cpu()
        # seeded by torch's global RNG
        if self.max_samples is not None and len(y) > self.max_samples:
            keep = torch.randperm(len(y))[: self.max_samples]
            x, y = x[keep], y[keep]
        if len(torch.unique(y)) < 2:
            raise UserError(
                "model 'svm' needs at least two classes in the train split, but it holds only one. "
                "Use more data (data.limit) or another split."
            )
        svc = SVC(
            kernel=self.kernel,
            C=self.C,
            gamma=self.gamma_option,
            degree=self.degree,
            coef0=self.coef0,
        )
        svc.fit(x.numpy(), y.numpy())
        dual, intercept = svc.dual_coef_, svc.intercept_
        # scikit-learn flips the sign of its public binary arrays: undo it
        if len(svc.classes_) == 2:
            dual, intercept = -dual, -intercept
        device = self.intercept.device
        arrays = dict(
            support_vectors=svc.support_vectors_,
            dual_coef=dual,
            intercept=intercept,
            n_support=svc.n_support_,
            classes=svc.classes_,
            gamma=svc._gamma,
        )
        for name, value in arrays.items():
            t = torch.as_tensor(value)
            self._buffers[name] = t.to(
                device, torch.long if name in ("n_support", "classes") else torch.float64
            )

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in _FITTED:  # fitted sizes are only known from the checkpoint: take its shapes
            if prefix + name in state_dict:
                self._buffers[name] = torch.empty_like(
                    state_dict[prefix + name], device=self.intercept.device
                )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ---------------------------------------------------------------------------------- scoring
    def kernel_matrix(self, x: torch.Tensor) -> torch.Tensor:
        """K(x, s) for every sample and support vector (N × S)."""
        sv, g = self.support_vectors, self.gamma
        dot = x @ sv.T
        if self.kernel == "linear":
            return dot
        if self.kernel == "rbf":  # exp(−γ‖x − s‖²), with ‖x − s‖² = ‖x‖² + ‖s‖² − 2 x·s
            sq = (x * x).sum(1, keepdim=True) + (sv * sv).sum(1) - 2 * dot
            return torch.exp(-g * sq.clamp_min(0))
        if self.kernel == "poly":
            return (g * dot + self.coef0) ** self.degree
        return torch.tanh(g * dot + self.coef0)  # sigmoid

    def pairwise_decision(self, x: torch.Tensor) -> torch.Tensor:
        """The one-vs-one decision values f_ij (N × K(K−1)/2, libsvm's pair order; > 0 favours i)."""
        k = self.kernel_matrix(x)
        start = torch.cat([self.n_support.new_zeros(1), self.n_support.cumsum(0)]).tolist()
        n_fit = len(self.n_support)
        out = []
        for i in range(n_fit):
            for j in range(i + 1, n_fit):
                si, sj = slice(start[i], start[i + 1]), slice(start[j], start[j + 1])
                # class i's support vectors carry their coefficients for the pair in row j−1, class j's in row i
                f = k[:, si] @ self.dual_coef[j - 1, si] + k[:, sj] @ self.dual_coef[i, sj]
                out.append(f + self.intercept[len(out)])
        return torch.stack(out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.classes) == 0:
            raise RuntimeError(
                "the svm is not fitted: call fit_arrays(x, y) first (the trainer does)."
            )
        with torch.autocast(x.device.type, enabled=False):
            dec = self.pairwise_decision(x.detach().flatten(1).double())
            n_fit = len(self.classes)
            if n_fit == 2:  # f₀₁ > 0 favours class 0; scikit-learn's decision_function is −f₀₁
                fitted = torch.stack([dec[:, 0] / 2, -dec[:, 0] / 2], 1)
            else:  # votes + sum of confidences squashed into (−1/3, 1/3): ties broken by confidence
                votes = torch.zeros(len(x), n_fit, dtype=dec.dtype, device=x.device)
                conf = torch.zeros_like(votes)
                p = 0
                for i in range(n_fit):
                    for j in range(i + 1, n_fit):
                        votes[:, i] += dec[:, p] > 0
                        votes[:, j] += dec[:, p] <= 0
                        conf[:, i] += dec[:, p]
                        conf[:, j] -= dec[:, p]
                        p += 1
                fitted = votes + conf / (3 * (conf.abs() + 1))
            scores = torch.full((len(x), self.num_classes), -1e4, dtype=dec.dtype, device=x.device)
            scores[:, self.classes] = fitted  # classes absent from the train split score −1e4
        return scores.float()


@register_model("svm")
@described(
    {
        "kernel": "scikit-learn SVC's kernel",
        "degree": "the poly kernel's degree",
        "coef0": "the poly and sigmoid kernels' constant term",
    }
)
def svm(
    input_shape: tuple[int, ...],
    num_classes: int,
    kernel: Kernel = "rbf",
    C: Annotated[
        float, Field(gt=0, allow_inf_nan=False, description="the SVM's inverse regularisation")
    ] = 1.0,
    gamma: Literal["scale", "auto"]
    | Annotated[float, Field(gt=0, description="or 'scale' / 'auto'")] = "scale",
    degree: Size = 3,
    coef0: float = 0.0,
    max_samples: Annotated[int, Field(ge=2, description="or null for the whole split")]
    | None = None,
) -> SVM:
    """scikit-learn's SVC, fitted once on the train split (``max_samples``: a random subset, for big data)."""
    return SVM(num_classes, kernel, C, gamma, degree, coef0, max_samples)
