"""The speed benchmark's floor: PyTorch-GAN's two MLP workloads as a careful JAX user writes them by hand.

Plain flax.linen and optax, no jaxgan: the nets, sizes and hyperparameters of `bench_wgan_gp_mlp` /
`bench_wgan_clip_mlp` (and of `torch_reference.py`), in PyTorch-GAN's order:

* `jax.lax.scan` over the n_critic critic updates, one real batch each;
* one `jax.random.normal(key, (B, latent))` per critic update (and, for WGAN-GP, one `jax.random.uniform` for the
  interpolation weights);
* the generator update reuses the last critic update's z (PyTorch-GAN's `wgan` and `wgan_gp` scripts do);
* no metrics beyond the two losses, and the state is donated to the jitted step.

`benchmarks/speed.py` times it next to jaxgan's public API, so jaxgan / minimal is the library's own overhead.

  python benchmarks/minimal_jax.py --workload wgan_gp --iters 50     # a quick standalone timing
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

WORKLOADS = ("wgan_gp", "wgan_clip")
LATENT_DIM = 100
IMAGE_SHAPE = (28, 28, 1)


def _scaled(features: int, width: float) -> int:
  return max(1, round(features * width))


class Generator(nn.Module):
  """z [B, 100] -> images [B, 28, 28, 1]: 128, 256, 512, 1024 (times `width`) hidden units, BatchNorm (eps 0.8, torch's
  momentum 0.1) from the second layer, LeakyReLU 0.2, tanh."""

  width: float = 1

  @nn.compact
  def __call__(self, z: jax.Array, train: bool = True) -> jax.Array:
    h = z
    for i, features in enumerate((128, 256, 512, 1024)):
      h = nn.Dense(_scaled(features, self.width))(h)
      if i > 0:
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=0.8)(h)
      h = nn.leaky_relu(h, 0.2)
    h = jnp.tanh(nn.Dense(28 * 28)(h))
    return jnp.reshape(h, (z.shape[0], *IMAGE_SHAPE))


class Critic(nn.Module):
  """images [B, 28, 28, 1] -> scores [B]: 784 -> 512 -> 256 (times `width`) -> 1, LeakyReLU 0.2."""

  width: float = 1

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    h = jnp.reshape(x, (x.shape[0], -1))
    for features in (512, 256):
      h = nn.leaky_relu(nn.Dense(_scaled(features, self.width))(h), 0.2)
    return nn.Dense(1)(h)[:, 0]


class State(NamedTuple):
  step: jax.Array
  g_params: Any
  g_stats: Any
  g_opt: Any
  d_params: Any
  d_opt: Any


class Workload(NamedTuple):
  """One workload: `step(state, reals, key) -> (state, losses)`, jitted with the state donated.

  Attributes:
    name: 'wgan_gp' or 'wgan_clip'.
    n_critic: critic updates per step.
    init: `init(key) -> State`.
    step: the jitted step; `reals` is [n_critic, B, 28, 28, 1], `key` the run's key (the step folds in its count).
    raw_step: the same step before `jax.jit` (for lowering and cost analysis).
  """

  name: str
  n_critic: int
  init: Callable[[jax.Array], State]
  step: Callable[[State, jax.Array, jax.Array], tuple[State, dict[str, jax.Array]]]
  raw_step: Callable[[State, jax.Array, jax.Array], tuple[State, dict[str, jax.Array]]]


def make_workload(name: str, batch_size: int = 64, n_critic: int = 5, width: float = 1) -> Workload:
  """Builds workload `name` ('wgan_gp' or 'wgan_clip') with batch `batch_size` and hidden layers `width` times as
  wide (1: PyTorch-GAN's sizes; tests use 1/16).

  Raises:
    ValueError: for an unknown workload.
  """
  if name not in WORKLOADS:
    raise ValueError(f"The minimal JAX step covers {WORKLOADS}; got {name!r}.")
  generator, critic = Generator(width), Critic(width)
  if name == "wgan_gp":
    g_tx = d_tx = optax.adam(2e-4, b1=0.5, b2=0.999)
    penalty_weight, clip = 10.0, None
  else:
    g_tx = d_tx = optax.rmsprop(5e-5, decay=0.99, eps=1e-8, eps_in_sqrt=False)  # torch's RMSprop
    penalty_weight, clip = 0.0, 0.01

  def init(key: jax.Array) -> State:
    g_key, d_key = jax.random.split(key)
    g_vars = generator.init(g_key, jnp.zeros((1, LATENT_DIM)), train=False)
    d_params = critic.init(d_key, jnp.zeros((1, *IMAGE_SHAPE)))["params"]
    return State(
      jnp.zeros((), jnp.int32),
      g_vars["params"],
      g_vars["batch_stats"],
      g_tx.init(g_vars["params"]),
      d_params,
      d_tx.init(d_params),
    )

  def critic_loss(d_params, real, fake, eps_key):
    score = lambda x: critic.apply({"params": d_params}, x)
    loss = jnp.mean(score(fake)) - jnp.mean(score(real))
    if penalty_weight:
      eps = jax.random.uniform(eps_key, (real.shape[0], 1, 1, 1))
      x_hat = eps * real + (1 - eps) * fake
      grads = jax.grad(lambda x: jnp.sum(score(x)))(x_hat)
      norms = jnp.linalg.norm(jnp.reshape(grads, (grads.shape[0], -1)), axis=1)
      loss = loss + penalty_weight * jnp.mean((norms - 1) ** 2)
    return loss

  def step(state: State, reals: jax.Array, key: jax.Array):
    keys = jax.random.split(jax.random.fold_in(key, state.step), reals.shape[0])

    def critic_update(carry, inputs):
      d_params, d_opt, g_stats, _ = carry
      real, key = inputs
      z_key, eps_key = jax.random.split(key)
      z = jax.random.normal(z_key, (real.shape[0], LATENT_DIM))
      fake, updates = generator.apply({"params": state.g_params, "batch_stats": g_stats}, z, mutable=["batch_stats"])
      loss, grads = jax.value_and_grad(critic_loss)(d_params, real, jax.lax.stop_gradient(fake), eps_key)
      updates_d, d_opt = d_tx.update(grads, d_opt, d_params)
      d_params = optax.apply_updates(d_params, updates_d)
      if clip:
        d_params = jax.tree.map(lambda p: jnp.clip(p, -clip, clip), d_params)
      return (d_params, d_opt, updates["batch_stats"], z), loss

    z0 = jnp.zeros((reals.shape[1], LATENT_DIM))
    (d_params, d_opt, g_stats, z), d_losses = jax.lax.scan(
      critic_update, (state.d_params, state.d_opt, state.g_stats, z0), (reals, keys)
    )

    def generator_loss(g_params):
      fake, updates = generator.apply({"params": g_params, "batch_stats": g_stats}, z, mutable=["batch_stats"])
      return -jnp.mean(critic.apply({"params": d_params}, fake)), updates["batch_stats"]

    (g_loss, g_stats), grads = jax.value_and_grad(generator_loss, has_aux=True)(state.g_params)
    updates_g, g_opt = g_tx.update(grads, state.g_opt, state.g_params)
    g_params = optax.apply_updates(state.g_params, updates_g)
    new_state = State(state.step + 1, g_params, g_stats, g_opt, d_params, d_opt)
    return new_state, {"critic_loss": d_losses[-1], "generator_loss": g_loss}

  return Workload(name, n_critic, init, jax.jit(step, donate_argnums=0), step)


def synthetic_reals(key: jax.Array, n_critic: int, batch_size: int) -> jax.Array:
  """[n_critic, B, 28, 28, 1] fixed synthetic real batches, uniform in [-1, 1]."""
  return jax.random.uniform(key, (n_critic, batch_size, *IMAGE_SHAPE), minval=-1.0, maxval=1.0)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--workload", choices=WORKLOADS, default="wgan_gp")
  parser.add_argument("--batch-size", type=int, default=64)
  parser.add_argument("--iters", type=int, default=50)
  args = parser.parse_args(argv)
  t0 = time.perf_counter()
  w = make_workload(args.workload, args.batch_size)
  state = w.init(jax.random.key(0))
  reals = synthetic_reals(jax.random.key(1), w.n_critic, args.batch_size)
  key = jax.random.key(2)
  run = functools.partial(w.step, reals=reals, key=key)
  state, losses = run(state)
  jax.block_until_ready(losses)
  first = time.perf_counter() - t0
  t0 = time.perf_counter()
  for _ in range(args.iters):
    state, losses = run(state)
  jax.block_until_ready(losses)
  print(
    f"{args.workload}: first step {first:.2f} s, {args.iters / (time.perf_counter() - t0):.1f} it/s, "
    f"losses {jax.device_get(losses)}"
  )


if __name__ == "__main__":
  main()
