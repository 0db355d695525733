"""Mixed precision (``train.amp``): the dtype a run's forward passes autocast to, and loss scaling.

bf16 keeps float32's exponent range, so its gradients need no scaling: it is the choice wherever the GPU
computes in it (compute capability 8.0 and later: A100, H100, RTX 30xx/40xx). Older GPUs — the T4 of
Colab's and Kaggle's free tiers, V100, P100 — hold bf16 values but emulate its arithmetic in float32,
slower than float32 itself; their tensor cores compute in fp16, whose small range makes small gradients
underflow to zero, so the loss is scaled up before backward and the gradients down before the step
(``torch.amp.GradScaler``, which also skips a step whose gradients overflowed and lowers the scale).
With torch's fused optimizers (training/optim.py) the check for overflow stays on the device, and so does
``train.track_grad_norm``'s: a skipped step's gradient norms stay out of the epoch means (training/step_log.py).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Precision:
    """The autocast of a run's forward passes: ``dtype`` None is float32 throughout."""

    device_type: str
    dtype: torch.dtype | None = None

    @property
    def scales_loss(self) -> bool:
        """fp16 gradients need loss scaling; bf16 and float32 do not."""
        return self.dtype == torch.float16

    @property
    def name(self) -> str:
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.dtype, "fp32")  # type: ignore[arg-type]

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def scaler(self) -> torch.amp.GradScaler | None:
        """A new loss scaler for a run's optimizer, or None where the dtype needs none."""
        return torch.amp.GradScaler(self.device_type) if self.scales_loss else None


def choose_precision(device: torch.device, amp: bool) -> Precision:
    """``train.amp`` on a CUDA device: bf16 where the GPU computes in it, fp16 (scaled) where it does not;
    float32 otherwise (a CPU trains in float32: its autocast would be slower)."""
    if not amp or device.type != "cuda":
        return Precision(device.type)
    native = torch.cuda.is_bf16_supported(including_emulation=False)
    return Precision("cuda", torch.bfloat16 if native else torch.float16)
