"""One training step: ``d_steps`` updates of D, then one of G, on a batch of real images.

The trainer loop owns the data, the epochs, the run folder and the checkpoints; it builds a
:class:`GANStep` once and calls it on every batch::

    G, D = build_networks(cfg); G.to(device); D.to(device)
    opt_g, opt_d = make_optimizers(cfg, G, D)
    step = GANStep(cfg, G, D, opt_g, opt_d, device, generator=torch.Generator().manual_seed(seed))
    for epoch in range(cfg.run.epochs):
        for i, real in enumerate(loader):
            step.set_epoch(epoch + i / len(loader))
            stats = step(real.to(device))     # 0-dim tensors; .item() them only when logging

Randomness: latents, labels, instance noise, replay picks, WGAN-GP mixing and DiffAugment come from
``generator`` (moved to ``device`` as a derived generator when it lives elsewhere, since CUDA
tensors need a CUDA generator); noise layers, dropout and spectral norm's vectors use the global
RNG, which the caller seeds. Nothing reads a value back to the host, so steps queue on the device
without waiting. G and D are only ever called, so they may be wrapped (DDP, torch.compile).

Distributed (``shard=(rank, world)``): every per-sample random value (latents, labels, instance noise,
WGAN-GP mixing) is drawn for the whole global batch from ``generator``, which every rank seeds alike, and
each rank keeps rows ``rank::world``, the rows of the global batch its loader gives it. So the ranks'
fakes differ, the ranks together draw exactly what one process would for the global batch, and the
generator stays the same on every rank (rank 0's checkpoint resumes any world size).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
from torch import nn

from ..config import Config, augment_policy
from ..models.ema import EMA, unwrap
from ..models.layers import randn_as
from .augment import AdaptiveP, diff_augment
from .labels import LabelSpec, d_labels
from .losses import d_loss, g_loss, penalty_scale, r1_penalty, wgan_gp_penalty
from .replay import ReplayBuffer
from .schedules import noise_std, set_noise_epoch


def make_optimizers(cfg: Config, G: nn.Module, D: nn.Module) -> tuple[torch.optim.Adam, torch.optim.Adam]:
    """Adam for G and for D, each with its own lr and betas (TTUR when they differ)."""
    o = cfg.optim
    return (torch.optim.Adam(G.parameters(), lr=o.lr_g, betas=o.betas_g),
            torch.optim.Adam(D.parameters(), lr=o.lr_d, betas=o.betas_d))


def grad_norm(net: nn.Module) -> torch.Tensor:
    """L2 norm of all of ``net``'s gradients together, as a 0-dim tensor on their device."""
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads).detach()


@contextlib.contextmanager
def frozen(net: nn.Module) -> Iterator[None]:
    """Forward passes inside build no graph to ``net``'s parameters: G's update then leaves D's
    gradients alone (and skips computing them), as StyleGAN2 does."""
    flags = [p.requires_grad for p in net.parameters()]
    net.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(net.parameters(), flags):
            p.requires_grad_(flag)


def device_generator(generator: torch.Generator | None, device: torch.device) -> torch.Generator | None:
    """``generator`` itself if it lives on ``device``, else a generator there seeded from it."""
    if generator is None:
        return None
    if generator.device.type == device.type and device.index in (None, generator.device.index):
        return generator
    seed = int(torch.randint(2**62, (1,), device=generator.device, generator=generator))
    return torch.Generator(device=device).manual_seed(seed)


class GANStep:
    """The per-batch update of G and D that ``cfg`` describes (see the module doc).

    ``amp_dtype=torch.bfloat16`` runs the forward passes under autocast; float16 would also need a
    gradient scaler, which this step does not have.
    """

    def __init__(self, cfg: Config, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer,
                 opt_d: torch.optim.Optimizer, device: torch.device | str = "cpu",
                 generator: torch.Generator | None = None, amp_dtype: torch.dtype | None = None,
                 shard: tuple[int, int] = (0, 1)):
        if amp_dtype not in (None, torch.bfloat16):
            raise ValueError("amp_dtype must be None or torch.bfloat16 (float16 needs a GradScaler)")
        self.cfg, self.G, self.D, self.opt_g, self.opt_d = cfg, G, D, opt_g, opt_d
        self.device = torch.device(device)
        self.amp_dtype = amp_dtype
        self.shard = shard
        self.rng = device_generator(generator, self.device)
        self.labels = LabelSpec.from_config(cfg.tricks)
        t = cfg.tricks
        self.replay = (ReplayBuffer(t.replay_capacity, t.replay_fraction, self.rng)
                       if t.replay_capacity > 0 and t.replay_fraction > 0 else None)
        self.ema = EMA(G, cfg.model.ema_decay) if cfg.model.ema else None
        self.augment_ops = augment_policy(t.diffaugment)
        self.augment_p = (AdaptiveP(t.augment_p, t.augment_target, t.augment_speed, cfg.optim.batch_size,
                                    self.device, t.augment_adaptive, reduce=_sum_over_processes(shard))
                          if self.augment_ops else None)
        self.d_steps_done = 0
        self.last_gp: torch.Tensor | None = None
        self.set_epoch(0.0)

    @property
    def g_eval(self) -> nn.Module:
        """The generator to sample and evaluate with: the EMA copy when there is one."""
        return self.ema.model if self.ema is not None else unwrap(self.G)

    def set_epoch(self, epoch: float) -> dict[str, float]:
        """Apply the noise schedules at ``epoch`` (fractional allowed); returns the stds now in use."""
        m, t = self.cfg.model, self.cfg.tricks
        self.noise = {
            "noise_d": set_noise_epoch(self.D, epoch, m.noise_schedule, m.noise_epochs),
            "noise_g": set_noise_epoch(self.G, epoch, m.noise_schedule, m.noise_epochs),
            "noise_instance": noise_std(t.instance_noise_std, t.instance_noise_schedule, epoch,
                                        t.instance_noise_epochs),
        }
        return dict(self.noise)

    def __call__(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """Train on ``real`` (N, 3, H, W) in [-1, 1], on ``device``; returns 0-dim tensors:
        loss_d, d_real, d_fake, grad_norm_d (averaged over the D updates), loss_g, d_fake_g,
        grad_norm_g (the G update), gp (the latest penalty, unweighted; with a penalty only), the
        noise stds and augment_p (with DiffAugment only). d_* are mean sigmoid(logit) under BCE, mean
        logit otherwise. loss_d leaves the penalty out. Every D update sees the same real batch with fresh latents."""
        d_stats = []
        for i in range(self.cfg.optim.d_steps):
            # The last D update's fakes keep their graph so G's update can reuse them (as DCGAN does).
            with torch.set_grad_enabled(i == self.cfg.optim.d_steps - 1), self._autocast():
                fake = self.G(self._latents(real.shape[0]))
            d_stats.append(self._update_d(real, fake.detach()))
        stats = {k: torch.stack([s[k] for s in d_stats]).mean() for k in d_stats[0]}
        stats.update(self._update_g(fake))
        if self.cfg.optim.gp != "none":
            stats["gp"] = self.last_gp if self.last_gp is not None else self._scalar(float("nan"))
        stats.update({k: self._scalar(v) for k, v in self.noise.items()})
        if self.augment_p is not None:
            stats["augment_p"] = self.augment_p.p
        return stats

    # -- the two updates -----------------------------------------------------------------------------
    def _update_d(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        o = self.cfg.optim
        if self.replay is not None:
            fake, new = self.replay.mix(fake), fake
            self.replay.push(new)
        x_real, x_fake = self._instance_noise(self._augment(real)), self._instance_noise(self._augment(fake))
        with self._autocast():
            if o.d_batch == "joint":
                real_logits, fake_logits = self.D(torch.cat([x_real, x_fake])).split(
                    [x_real.shape[0], x_fake.shape[0]])
            else:
                real_logits, fake_logits = self.D(x_real), self.D(x_fake)
        targets = (None, None)
        if o.loss == "bce":
            targets = (self._labels(real.shape[0], True), self._labels(fake.shape[0], False))
        adversarial = d_loss(o.loss, real_logits, fake_logits, *targets)
        if self.augment_p is not None:
            self.augment_p.observe(real_logits)
        loss = adversarial
        if o.gp != "none" and self.d_steps_done % o.gp_every == 0:
            self.last_gp = self._penalty(x_real, x_fake)
            loss = loss + penalty_scale(o.gp, o.gp_weight, o.gp_every) * self.last_gp
            self.last_gp = self.last_gp.detach()
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        norm = grad_norm(self.D)
        self.opt_d.step()
        self.d_steps_done += 1
        return {"loss_d": adversarial.detach(), "d_real": self._score(real_logits),
                "d_fake": self._score(fake_logits), "grad_norm_d": norm}

    def _update_g(self, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        # The plain D, not its DDP wrapper: a DDP forward would make the reducer wait for D gradients
        # that frozen() never lets come, and G's gradients do not need D's averaged.
        with frozen(self.D), self._autocast():
            logits = unwrap(self.D)(self._instance_noise(self._augment(fake)))
        loss = g_loss(self.cfg.optim.loss, logits, self.labels.g_target)
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        norm = grad_norm(self.G)
        self.opt_g.step()
        if self.ema is not None:
            self.ema.update(self.G)
        return {"loss_g": loss.detach(), "d_fake_g": self._score(logits), "grad_norm_g": norm}

    def _penalty(self, x_real: torch.Tensor, x_fake: torch.Tensor) -> torch.Tensor:
        """The penalty at what D saw this step (instance noise included)."""
        with self._autocast():
            if self.cfg.optim.gp == "r1":
                return r1_penalty(self.D, x_real)
            alpha = self._per_sample(lambda n: torch.rand(n, 1, 1, 1, device=self.device, generator=self.rng),
                                     x_real.shape[0])
            return wgan_gp_penalty(self.D, x_real, x_fake, alpha)

    # -- helpers -------------------------------------------------------------------------------------
    def _per_sample(self, draw: Callable[[int], torch.Tensor], n: int) -> torch.Tensor:
        """This rank's ``n`` rows of ``draw(global batch)`` (see the module doc); ``draw(n)`` alone
        with one process."""
        rank, world = self.shard
        return draw(n) if world == 1 else draw(n * world)[rank::world]

    def _latents(self, n: int) -> torch.Tensor:
        return self._per_sample(
            lambda m: torch.randn(m, self.cfg.model.latent_dim, 1, 1, device=self.device, generator=self.rng), n)

    def _labels(self, n: int, real: bool) -> torch.Tensor:
        return self._per_sample(lambda m: d_labels(m, real, self.labels, self.device, self.rng), n)

    def _instance_noise(self, x: torch.Tensor) -> torch.Tensor:
        std = self.noise["noise_instance"]
        if std == 0.0:
            return x
        return x + std * self._per_sample(lambda m: randn_as(x, self.rng, m), x.shape[0])

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        """DiffAugment with fresh per-image randomness (see :mod:`.augment`); ``x`` itself when off."""
        if self.augment_p is None:
            return x
        n = x.shape[0]

        def uniform(*shape: int) -> torch.Tensor:
            return self._per_sample(lambda m: torch.rand(m, *shape, device=self.device, generator=self.rng), n)
        p = self.augment_p.p if self.augment_p.adaptive else self.cfg.tricks.augment_p
        return diff_augment(x, self.augment_ops, uniform, p)

    def _score(self, logits: torch.Tensor) -> torch.Tensor:
        logits = logits.detach().float()
        return (torch.sigmoid(logits) if self.cfg.optim.loss == "bce" else logits).mean()

    def _scalar(self, value: float) -> torch.Tensor:
        return torch.full((), value, device=self.device)

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype or torch.bfloat16,
                              enabled=self.amp_dtype is not None)

    # -- resuming ------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """What this step holds beyond the networks and optimizers: the D-update count (for lazy
        penalties) and latest penalty, the replay buffer, the EMA weights and the step's generator
        state. Tensors, ints and None only."""
        return {"d_steps_done": self.d_steps_done, "last_gp": self.last_gp,
                "replay": self.replay.state_dict() if self.replay is not None else None,
                "ema": self.ema.state_dict() if self.ema is not None else None,
                "ema_updates": self.ema.updates if self.ema is not None else None,
                "augment": self.augment_p.state_dict() if self.augment_p is not None else None,
                "rng": self.rng.get_state() if self.rng is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self.d_steps_done = int(state["d_steps_done"])
        if state.get("last_gp") is not None:
            self.last_gp = state["last_gp"].to(self.device)
        if self.replay is not None and state.get("replay") is not None:
            self.replay.load_state_dict(state["replay"])
        if self.ema is not None and state.get("ema") is not None:
            self.ema.load_state_dict(state["ema"])
            # Checkpoints from before the EMA warm-up have no count: theirs ran at the full decay.
            self.ema.updates = int(state.get("ema_updates") or 1_000_000_000)
        if self.augment_p is not None and state.get("augment") is not None:
            self.augment_p.load_state_dict(state["augment"])
        if self.rng is not None and state.get("rng") is not None:
            self.rng.set_state(state["rng"])


def _sum_over_processes(shard: tuple[int, int]) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """An all-reduce (sum) across the torchrun processes, or None with one process."""
    if shard[1] == 1:
        return None

    def reduce(t: torch.Tensor) -> torch.Tensor:
        torch.distributed.all_reduce(t)
        return t
    return reduce
