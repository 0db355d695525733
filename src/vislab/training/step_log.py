"""Finer tracking than one row per epoch, without making the host wait for the device at every step.

``train.log_every = N``: the mean training loss of the batches of every N optimizer steps (and of the
epoch's last, shorter window) → ``steps.jsonl`` rows ``{step, epoch, loss, lr}``; ``step`` counts the
optimizer steps since the start, up to the one that ends the window (with ``train.accumulate=k`` one per
k batches: the schedule's clock), and ``lr`` is that step's. ``train.track_grad_norm``: the L2 norm of
each parameterised module's gradient (its own parameters, not its children's), averaged over the epoch's
optimizer steps → ``grad_norms.jsonl`` rows ``{epoch, grad_norm: {layer: norm}}``. The gradient is
measured where the optimizer steps: the whole window's (``train.accumulate``) as the model produced it,
before ``train.grad_clip`` (and unscaled with fp16), so vanishing or exploding gradients show as they
are, not as clipping left them. With fp16's loss scaling, a step whose gradients overflowed (inf/NaN) is
one the scaler skips: it does not enter the mean, which is over the steps applied (counted on the
device: no host sync), and the row says how many were ``skipped``. A model that computes its own updates
(``manual_step``) is tracked at each of its steps where it leaves its gradients in its parameters'
``.grad`` (mlp-scratch's levels do); else it has none to track, which :meth:`StepTracker.gradless_note`
says once.

Both sums stay on the device; the host reads them once per epoch (``end_epoch``). Resume: the
accumulators travel in ``last.pt`` (``state_dict``), so a run interrupted mid-epoch continues its
windows and its gradient sums exactly; rows of epochs the checkpoint had not finished are dropped.
"""

from __future__ import annotations

import torch

from vislab.training.rundir import RunDir

STEPS_FILE, GRAD_FILE = "steps.jsonl", "grad_norms.jsonl"


def parameterised_modules(model: torch.nn.Module) -> list[tuple[str, list[torch.nn.Parameter]]]:
    """(name, own trainable parameters) of every module that has some, named ``path (Class)`` (e.g.
    ``0 (Conv2d)`` in a Sequential); a bare parameter of the root module (e.g. a ViT's ``cls_token``) is
    its own entry, named after it."""
    layers = []
    for name, module in model.named_modules():
        own = [(n, p) for n, p in module.named_parameters(recurse=False) if p.requires_grad]
        if not name:  # the root: its parameters are separate tensors (tokens, embeddings)
            layers += [(n, [p]) for n, p in own]
        elif own:
            layers.append((f"{name} ({type(module).__name__})", [p for _, p in own]))
    return layers


class StepTracker:
    """Device-side sums of the step losses and of the per-layer gradient norms of one training run."""

    def __init__(
        self,
        model: torch.nn.Module,
        device: torch.device,
        log_every: int,
        grads: bool,
        scaled: bool = False,
    ):
        self.log_every, self.device, self.scaled = log_every, device, scaled
        layers = parameterised_modules(model) if grads else []
        self.names = [name for name, _ in layers]
        self.params = [p for _, ps in layers for p in ps]
        self.layer_of = [i for i, (_, ps) in enumerate(layers) for _ in ps]
        self._index: dict[
            tuple[int, ...], torch.Tensor
        ] = {}  # present grads → layer index (cached)
        self.gradless, self._told = 0, False  # steps that left no gradient to read; note said
        self.reset_epoch()

    @property
    def active(self) -> bool:
        return bool(self.log_every or self.names)

    def reset_epoch(self) -> None:
        zeros = torch.zeros  # float64: thousands of small float32 terms summed without drift
        self.loss_sum, self.window = zeros((), device=self.device, dtype=torch.float64), 0
        self.batches = 0  # the window's batches (``train.accumulate`` of them an optimizer step)
        self.points: list[
            tuple[int, int, float, torch.Tensor]
        ] = []  # (step, epoch, lr, mean on device)
        self.grad_sum = zeros(len(self.names), device=self.device, dtype=torch.float64)
        self.grad_steps = zeros((), device=self.device, dtype=torch.float64)  # the steps applied
        self.grad_calls = 0  # the optimizer steps, applied or skipped

    # ---------------------------------------------------------------------------- every step
    def after_step(
        self, loss: torch.Tensor, step: int, epoch: int, lr: float, stepped: bool = True
    ) -> None:
        """Add a finished batch's loss (a device scalar): of optimizer step ``step`` (counted from 1
        since the start), which it ends where ``stepped`` (the last batch of a ``train.accumulate``
        window; without accumulation every batch is)."""
        if self.log_every:
            self.loss_sum += loss.detach().double()
            self.batches += 1
            self.window += stepped
            if self.window == self.log_every:
                self._close_window(step, epoch, lr)

    def _close_window(self, step: int, epoch: int, lr: float) -> None:
        self.points.append(
            (step, epoch, lr, self.loss_sum / self.batches)
        )  # a device tensor: no sync
        self.loss_sum = torch.zeros_like(self.loss_sum)
        self.window = self.batches = 0

    def add_grad_norms(self) -> None:
        """Add the norms of the gradients the parameters hold now (the trainer: at each optimizer step,
        before clipping) — with a loss scaler (``scaled``), only where they are finite, as the scaler
        applies only such a step."""
        present = tuple(i for i, p in enumerate(self.params) if p.grad is not None)
        if not present:  # a model's own step (manual_step) that keeps its gradients to itself
            self.gradless += 1
            return
        norms = torch.stack(
            [
                torch.linalg.vector_norm(self.params[i].grad.detach(), dtype=torch.float64)
                for i in present
            ]
        )
        layer_sq = torch.zeros_like(self.grad_sum).index_add_(
            0, self._layer_index(present), norms**2
        )
        layer = layer_sq.sqrt()  # a layer's norm over all its parameters: √(Σ‖g_p‖²)
        self.grad_calls += 1
        if self.scaled:  # the scaler's own test (any inf/NaN gradient), kept on the device
            applied = torch.isfinite(norms).all()
            self.grad_sum += torch.where(applied, layer, 0.0)
            self.grad_steps += applied
        else:
            self.grad_sum += layer
            self.grad_steps += 1

    def gradless_note(self) -> str:
        """Once, after an epoch (before :meth:`end_epoch`) whose steps all left no gradient to read — a
        model that makes its own updates (``manual_step``) without leaving them in ``.grad`` —, the line
        that says so and how its step can leave them; else ""."""
        if self._told or not self.gradless or self.grad_calls:
            return ""
        self._told = True
        return (
            "train.track_grad_norm: this model makes its own updates (its manual_step) and leaves no "
            "gradient in its parameters' .grad: no gradients to see. To track them, have its "
            "manual_step leave each parameter's gradient there (p.grad = g, as loss.backward() does)."
        )

    def _layer_index(self, present: tuple[int, ...]) -> torch.Tensor:
        if present not in self._index:  # built once per set of present grads: no copy per step
            layers = [self.layer_of[i] for i in present]
            self._index[present] = torch.tensor(layers, device=self.device)
        return self._index[present]

    # ------------------------------------------------------------------------------ per epoch
    def end_epoch(self, step: int, epoch: int, lr: float) -> tuple[list[dict], list[dict]]:
        """The epoch's rows (steps.jsonl, grad_norms.jsonl), read from the device at once; then reset.
        ``step``: the optimizer steps done, ``lr`` the last one's (a window still open closes there)."""
        if self.batches:  # the epoch's last, shorter window
            self._close_window(step, epoch, lr)
        steps = []
        if self.points:
            losses = torch.stack([p[3] for p in self.points]).tolist()  # the epoch's one transfer
            steps = [
                dict(step=s, epoch=e, loss=v, lr=r) for (s, e, r, _), v in zip(self.points, losses)
            ]
        grads = []
        if self.grad_calls:  # an epoch whose steps were all skipped: its means NaN, written null
            *means, applied = torch.cat(
                [self.grad_sum / self.grad_steps, self.grad_steps[None]]
            ).tolist()
            grads = [dict(epoch=epoch, grad_norm=dict(zip(self.names, means)))]
            if self.scaled:
                grads[0]["skipped"] = self.grad_calls - round(applied)
        self.reset_epoch()
        return steps, grads

    def write_epoch(self, run: RunDir, step: int, epoch: int, lr: float) -> None:
        """``end_epoch``'s rows appended to the run's files (rows after ``epoch - 1`` replaced)."""
        steps, grads = self.end_epoch(step, epoch, lr)
        if steps:
            run.append_rows(STEPS_FILE, steps, after_epoch=epoch - 1)
        if grads:
            run.append_rows(GRAD_FILE, grads, after_epoch=epoch - 1)

    # --------------------------------------------------------------------------------- resume
    def state_dict(self) -> dict:
        """The accumulators of an epoch interrupted mid-way, on the CPU (saved in ``last.pt``)."""
        return dict(
            loss_sum=self.loss_sum.cpu(), window=self.window, batches=self.batches,
            points=[(s, e, r, v.cpu()) for s, e, r, v in self.points],
            grad_sum=self.grad_sum.cpu(), grad_steps=self.grad_steps.cpu(), grad_calls=self.grad_calls,
            names=self.names,
        )  # fmt: skip

    def load_state_dict(self, saved: dict | None) -> None:
        """Continue from ``state_dict``'s accumulators; nothing (or other layers) → a fresh epoch."""
        self.reset_epoch()
        if not saved:
            return
        self.loss_sum, self.window = saved["loss_sum"].to(self.device), saved["window"]
        self.batches = saved.get("batches", self.window)  # before: a window counted batches
        self.points = [(s, e, r, v.to(self.device)) for s, e, r, v in saved["points"]]
        if saved["names"] == self.names:  # grad_steps: an int before skipped steps were left out
            self.grad_sum = saved["grad_sum"].to(self.device)
            steps = torch.as_tensor(saved["grad_steps"], dtype=torch.float64)
            self.grad_steps = steps.to(self.device)
            self.grad_calls = saved.get("grad_calls", round(float(steps)))
