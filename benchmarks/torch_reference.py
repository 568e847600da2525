"""A PyTorch reference for the speed benchmark: PyTorch-GAN's three workloads, written for this project.

The architectures and hyperparameters are those of eriklindernoren/PyTorch-GAN (`implementations/wgan_gp`,
`implementations/wgan`, `implementations/dcgan`); the training loop is written the efficient way a careful PyTorch
user would, so the reference is not handicapped:

* fakes for a critic update are generated under `torch.no_grad()` (the zoo's WGAN scripts build, and in WGAN-GP
  backpropagate, the generator's graph there too);
* the critic's parameters do not collect gradients during the generator update (`requires_grad_(False)`);
* DCGAN keeps the zoo's order, generator update first, then the discriminator update on the same (detached) fakes.

One iteration is `n_critic` critic updates and one generator update, with the real batches given (synthetic here:
the benchmark excludes data loading). `torch.compile` wraps both modules; it cannot run WGAN-GP, whose gradient penalty
differentiates the critic's input gradient (a double backward, which aot_autograd does not support): `make_workload`
then raises `CompileUnsupported` with torch's message.

Requires `torch` (the optional extra `bench`: `pip install -e .[bench]`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
from torch import nn

WORKLOADS = ("wgan_gp", "wgan_clip", "dcgan")  # PyTorch-GAN's
GPU_WORKLOADS = ("dcgan64",)  # jaxgan's dcgan_celeba64 nets, for benchmarks/gpu.sh
LATENT_DIM = 100
BATCH_SIZE = 64


class CompileUnsupported(RuntimeError):
  """torch.compile cannot run this workload."""


def _mlp_block(in_features: int, out_features: int, normalize: bool = True) -> list[nn.Module]:
  layers: list[nn.Module] = [nn.Linear(in_features, out_features)]
  if normalize:
    layers.append(nn.BatchNorm1d(out_features, eps=0.8))  # the zoo's BatchNorm1d(n, 0.8): 0.8 is eps
  layers.append(nn.LeakyReLU(0.2, inplace=True))
  return layers


class MLPGenerator(nn.Module):
  """z [B, 100] -> images [B, 1, 28, 28]: 128, 256, 512, 1024 hidden units (times `width`), BatchNorm from the second
  layer."""

  def __init__(self, image_shape=(1, 28, 28), width: int = 1):
    super().__init__()
    self.image_shape = image_shape
    size = image_shape[0] * image_shape[1] * image_shape[2]
    w = width
    self.model = nn.Sequential(
      *_mlp_block(LATENT_DIM, 128 * w, normalize=False),
      *_mlp_block(128 * w, 256 * w),
      *_mlp_block(256 * w, 512 * w),
      *_mlp_block(512 * w, 1024 * w),
      nn.Linear(1024 * w, size),
      nn.Tanh(),
    )

  def forward(self, z):
    return self.model(z).view(z.shape[0], *self.image_shape)


class MLPCritic(nn.Module):
  """images [B, 1, 28, 28] -> scores [B, 1]: 784 -> 512 -> 256 (times `width`) -> 1 with LeakyReLU 0.2."""

  def __init__(self, image_shape=(1, 28, 28), width: int = 1):
    super().__init__()
    size = image_shape[0] * image_shape[1] * image_shape[2]
    self.model = nn.Sequential(
      nn.Linear(size, 512 * width),
      nn.LeakyReLU(0.2, inplace=True),
      nn.Linear(512 * width, 256 * width),
      nn.LeakyReLU(0.2, inplace=True),
      nn.Linear(256 * width, 1),
    )

  def forward(self, x):
    return self.model(x.reshape(x.shape[0], -1))


class DCGANGenerator(nn.Module):
  """z [B, 100] -> images [B, 1, 32, 32]: linear to 128x8x8, BatchNorm, 2 x (upsample, conv3x3, BN, LeakyReLU);
  channels times `width`."""

  def __init__(self, image_size: int = 32, channels: int = 1, width: int = 1):
    super().__init__()
    self.init_size = image_size // 4
    self.features = 128 * width
    c1, c2 = 128 * width, 64 * width
    self.l1 = nn.Linear(LATENT_DIM, c1 * self.init_size**2)
    self.conv_blocks = nn.Sequential(
      nn.BatchNorm2d(c1),
      nn.Upsample(scale_factor=2),
      nn.Conv2d(c1, c1, 3, stride=1, padding=1),
      nn.BatchNorm2d(c1, eps=0.8),
      nn.LeakyReLU(0.2, inplace=True),
      nn.Upsample(scale_factor=2),
      nn.Conv2d(c1, c2, 3, stride=1, padding=1),
      nn.BatchNorm2d(c2, eps=0.8),
      nn.LeakyReLU(0.2, inplace=True),
      nn.Conv2d(c2, channels, 3, stride=1, padding=1),
      nn.Tanh(),
    )

  def forward(self, z):
    h = self.l1(z).view(z.shape[0], self.features, self.init_size, self.init_size)
    return self.conv_blocks(h)


class DCGANDiscriminator(nn.Module):
  """images [B, 1, 32, 32] -> probabilities [B, 1]: four conv3x3 stride-2 blocks (16/32/64/128 times `width`),
  linear, sigmoid."""

  def __init__(self, image_size: int = 32, channels: int = 1, width: int = 1):
    super().__init__()

    def block(in_filters, out_filters, bn=True):
      layers = [nn.Conv2d(in_filters, out_filters, 3, 2, 1), nn.LeakyReLU(0.2, inplace=True), nn.Dropout2d(0.25)]
      if bn:
        layers.append(nn.BatchNorm2d(out_filters, eps=0.8))
      return layers

    w = width
    self.model = nn.Sequential(
      *block(channels, 16 * w, bn=False), *block(16 * w, 32 * w), *block(32 * w, 64 * w), *block(64 * w, 128 * w)
    )
    self.adv_layer = nn.Sequential(nn.Linear(128 * w * (image_size // 16) ** 2, 1), nn.Sigmoid())

  def forward(self, x):
    h = self.model(x)
    return self.adv_layer(h.reshape(h.shape[0], -1))


class DCGAN64Generator(nn.Module):
  """z [B, 100] -> images [B, 3, 64, 64]: jaxgan's `DCGANGenerator` at 64x64x3 (the `dcgan_celeba64` config): linear
  (no bias) to 512x4x4, BatchNorm, ReLU, three 4x4 stride-2 transposed convs (256, 128, 64; BatchNorm, ReLU) and one
  to 3 channels with bias and tanh (Radford et al. 2016)."""

  def __init__(self, base_features: int = 64, channels: int = 3):
    super().__init__()
    f = base_features * 8
    self.features = f
    self.l1 = nn.Linear(LATENT_DIM, f * 16, bias=False)
    layers: list[nn.Module] = [nn.BatchNorm2d(f), nn.ReLU(inplace=True)]
    for _ in range(3):
      layers += [nn.ConvTranspose2d(f, f // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(f // 2), nn.ReLU(inplace=True)]
      f //= 2
    layers += [nn.ConvTranspose2d(f, channels, 4, 2, 1), nn.Tanh()]
    self.conv_blocks = nn.Sequential(*layers)

  def forward(self, z):
    return self.conv_blocks(self.l1(z).view(z.shape[0], self.features, 4, 4))


class DCGAN64Critic(nn.Module):
  """images [B, 3, 64, 64] -> logits [B, 1]: jaxgan's `DCGANCritic` with batch_norm=True: four 4x4 stride-2 convs
  (64, 128, 256, 512), BatchNorm (no conv bias) from the second, LeakyReLU 0.2, a linear logit."""

  def __init__(self, base_features: int = 64, channels: int = 3):
    super().__init__()
    layers: list[nn.Module] = []
    c_in, c_out = channels, base_features
    for i in range(4):
      layers.append(nn.Conv2d(c_in, c_out, 4, 2, 1, bias=i == 0))
      if i > 0:
        layers.append(nn.BatchNorm2d(c_out, momentum=0.1))
      layers.append(nn.LeakyReLU(0.2, inplace=True))
      c_in, c_out = c_out, c_out * 2
    self.model = nn.Sequential(*layers)
    self.logit = nn.Linear(c_in * 16, 1)

  def forward(self, x):
    h = self.model(x)
    return self.logit(h.reshape(h.shape[0], -1))


@dataclasses.dataclass
class Workload:
  """One benchmark workload.

  Attributes:
    name: one of `WORKLOADS`.
    n_critic: critic updates per iteration.
    iteration: runs one iteration (n_critic critic updates, one generator update): `iteration()` on the fixed
      synthetic batches, `iteration(batch)` on real ones [n_critic, B, C, H, W] (`benchmarks/torch_mnist.py`).
    generator, critic: the (possibly compiled) modules.
  """

  name: str
  n_critic: int
  iteration: Callable[..., None]
  generator: nn.Module
  critic: nn.Module


def _gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
  """E (||grad_x C(x_hat)||_2 - 1)^2 at random interpolates (Gulrajani et al. 2017, Algorithm 1)."""
  alpha = torch.rand(real.shape[0], 1, 1, 1)
  interpolates = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
  scores = critic(interpolates)
  (grads,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
  return ((grads.reshape(grads.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()


def _wgan_iteration(generator, critic, g_opt, d_opt, reals, penalty_weight: float, clip: float):
  def iteration(batch: torch.Tensor | None = None):
    batch = reals if batch is None else batch
    for real in batch:
      with torch.no_grad():
        fake = generator(torch.randn(real.shape[0], LATENT_DIM))
      d_opt.zero_grad(set_to_none=True)
      loss = critic(fake).mean() - critic(real).mean()
      if penalty_weight:
        loss = loss + penalty_weight * _gradient_penalty(critic, real, fake)
      loss.backward()
      d_opt.step()
      if clip:
        with torch.no_grad():
          for p in critic.parameters():
            p.clamp_(-clip, clip)
    critic.requires_grad_(False)
    g_opt.zero_grad(set_to_none=True)
    g_loss = -critic(generator(torch.randn(batch.shape[1], LATENT_DIM))).mean()
    g_loss.backward()
    g_opt.step()
    critic.requires_grad_(True)

  return iteration


def _dcgan_iteration(generator, critic, g_opt, d_opt, reals):
  bce = nn.BCELoss()
  valid = torch.ones(reals.shape[1], 1)
  fake_target = torch.zeros(reals.shape[1], 1)

  def iteration(batch: torch.Tensor | None = None):
    real = (reals if batch is None else batch)[0]
    critic.requires_grad_(False)
    g_opt.zero_grad(set_to_none=True)
    fake = generator(torch.randn(real.shape[0], LATENT_DIM))
    bce(critic(fake), valid).backward()
    g_opt.step()
    critic.requires_grad_(True)
    d_opt.zero_grad(set_to_none=True)
    d_loss = (bce(critic(real), valid) + bce(critic(fake.detach()), fake_target)) / 2
    d_loss.backward()
    d_opt.step()

  return iteration


def _dcgan64_iteration(generator, critic, g_opt, d_opt, reals):
  """jaxgan's order: the critic's update on fresh fakes (no generator graph), then the generator's own forward."""
  bce = nn.BCEWithLogitsLoss()
  real = reals[0]
  valid = torch.ones(real.shape[0], 1)
  fake_target = torch.zeros(real.shape[0], 1)

  def iteration():
    with torch.no_grad():
      fake = generator(torch.randn(real.shape[0], LATENT_DIM))
    d_opt.zero_grad(set_to_none=True)
    (bce(critic(real), valid) + bce(critic(fake), fake_target)).backward()
    d_opt.step()
    critic.requires_grad_(False)
    g_opt.zero_grad(set_to_none=True)
    bce(critic(generator(torch.randn(real.shape[0], LATENT_DIM))), valid).backward()
    g_opt.step()
    critic.requires_grad_(True)

  return iteration


def make_workload(
  name: str, compile: bool = False, batch_size: int = BATCH_SIZE, seed: int = 0, width: int = 1, device: str = "cpu"
) -> Workload:
  """Builds workload `name` on fixed synthetic real batches in [-1, 1].

  Args:
    name: 'wgan_gp', 'wgan_clip', 'dcgan' or 'dcgan64' (jaxgan's `dcgan_celeba64` nets at 64x64x3, in jaxgan's
      order: critic update on fresh fakes, then the generator update).
    compile: wrap both modules in `torch.compile` (and run one iteration to compile them).
    batch_size: examples per batch (64 in the zoo).
    seed: torch seed for parameters and batches.
    width: hidden widths / channels times this (1: the zoo's sizes; not for 'dcgan64').
    device: 'cpu' or 'cuda'; made torch's default device, so the iteration's fresh latents are drawn there too.

  Raises:
    ValueError: for an unknown workload.
    CompileUnsupported: when `compile` is set and torch.compile fails on the workload (WGAN-GP's double backward).
  """
  torch.manual_seed(seed)
  torch.set_default_device(device)
  if name in ("wgan_gp", "wgan_clip"):
    generator, critic = MLPGenerator(width=width), MLPCritic(width=width)
    n_critic, shape = 5, (1, 28, 28)
  elif name == "dcgan":
    generator, critic = DCGANGenerator(width=width), DCGANDiscriminator(width=width)
    n_critic, shape = 1, (1, 32, 32)
  elif name == "dcgan64":
    generator, critic = DCGAN64Generator(), DCGAN64Critic()
    n_critic, shape = 1, (3, 64, 64)
  else:
    raise ValueError(f"Unknown workload {name!r}; choose one of {WORKLOADS + GPU_WORKLOADS}.")
  reals = torch.rand(n_critic, batch_size, *shape) * 2 - 1
  if name == "wgan_clip":
    g_opt = torch.optim.RMSprop(generator.parameters(), lr=5e-5)
    d_opt = torch.optim.RMSprop(critic.parameters(), lr=5e-5)
  else:
    g_opt = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(critic.parameters(), lr=2e-4, betas=(0.5, 0.999))
  generator.train()
  critic.train()
  if compile:
    generator, critic = torch.compile(generator), torch.compile(critic)
  if name == "dcgan":
    iteration = _dcgan_iteration(generator, critic, g_opt, d_opt, reals)
  elif name == "dcgan64":
    iteration = _dcgan64_iteration(generator, critic, g_opt, d_opt, reals)
  else:
    iteration = _wgan_iteration(
      generator,
      critic,
      g_opt,
      d_opt,
      reals,
      penalty_weight=10.0 if name == "wgan_gp" else 0.0,
      clip=0.01 if name == "wgan_clip" else 0.0,
    )
  workload = Workload(name, n_critic, iteration, generator, critic)
  if compile:
    try:
      iteration()
    except Exception as e:  # torch raises backend-specific types; keep its message for the record
      raise CompileUnsupported(f"torch.compile failed on {name}: {type(e).__name__}: {str(e).strip()[:400]}") from e
  return workload
