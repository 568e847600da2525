"""An exponential moving average (EMA) of the generator's weights, kept beside the trained ones for evaluation.

Averaging the generator's iterates evaluates better than the last iterate (Yazici et al. 2019, "The Unusual
Effectiveness of Averaging in GAN Training", Eq. 2; used by ProGAN, BigGAN and StyleGAN). After each train step

    theta_ema <- beta_t * theta_ema + (1 - beta_t) * theta                                        (Yazici et al. Eq. 2)

over the generator's parameters and, for DeLiGAN, the learnable prior's (`optax.incremental_update` with step size
1 - beta_t). The average starts as a copy of the generator, so unlike `optax.ema` it needs no bias correction. The
decay of step t (0-based, the step whose update this is) follows two warm-ups, both optional:

  * `start_step` (BigGAN-PyTorch's `ema_start`, StudioGAN's `g_ema_start`): beta_t = 0, a plain copy, while
    t < start_step, so the average does not keep the random initialisation's weights for thousands of steps.
  * `rampup` (StyleGAN2-ADA's `ema_rampup`, Karras et al. 2020): the half-life is at most `rampup * t` steps, i.e.
    beta_t = min(beta, 0.5 ** (1 / (rampup * t))); StyleGAN2-ADA counts images, `cur_nimg * ema_rampup / batch`
    steps, which is the same.

BatchNorm statistics (the generator's `g_state`) are averaged with the same decay, as BigGAN-PyTorch does (its EMA
runs over the generator's `state_dict`, buffers included). The running statistics are themselves an average over
the training steps, of the raw generator's activations; averaging them over the same window as the weights gives
statistics from the stretch of training the averaged weights come from, at no cost, inside the compiled step, in
every checkpoint, and the same for every reader (evaluation, pictures, sampling) without a data pass. Copying the
raw generator's statistics (StyleGAN2-ADA, StudioGAN) pairs averaged weights with the last steps' statistics; the
exact answer, recomputing "standing statistics" with the averaged weights over a few batches (StudioGAN's option),
needs a pass of generated batches before each use and is not done here.

The update is a pure function of the state, run at the end of `jaxgan.train`'s step after the generator's updates;
it reads the raw generator and never writes it, so training is the same with and without the average.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax


class Settings(NamedTuple):
  """`config.ema` once read (see `default_config`)."""

  decay: float
  start_step: int = 0
  rampup: float = 0.0


class Average(flax.struct.PyTreeNode):
  """The averaged generator: parameters, BatchNorm statistics and the learnable prior's parameters ({} if fixed)."""

  g_params: Any
  g_state: Any
  prior_params: Any


def default_config() -> ml_collections.ConfigDict:
  """`config.ema`: decay 0 keeps no average (the default); see the module docstring for the warm-ups."""
  return ml_collections.ConfigDict(
    {
      "decay": 0.0,  # beta in (0, 1): e.g. 0.999 (half-life ~700 steps) or 0.9999 (~7000); 0: no average
      "start_step": 0,  # the average copies the generator for the first start_step steps
      "rampup": 0.0,  # > 0: half-life at most rampup * step (StyleGAN2-ADA uses 0.05)
    }
  )


def settings_from_config(config: ml_collections.ConfigDict) -> Settings | None:
  """The EMA settings of a run config, or None when it keeps no average (no `ema` section, or decay 0).

  Raises:
    ValueError: for a decay outside [0, 1), a negative start step or rampup, or an unknown field.
  """
  fields = dict(config.get("ema", {}) or {})
  unknown = set(fields) - set(Settings._fields)
  if unknown:
    raise ValueError(f"config.ema has unknown fields {sorted(unknown)}; allowed: {list(Settings._fields)}.")
  settings = Settings(
    decay=float(fields.get("decay", 0.0)),
    start_step=int(fields.get("start_step", 0)),
    rampup=float(fields.get("rampup", 0.0)),
  )
  if not 0.0 <= settings.decay < 1.0:
    raise ValueError(f"config.ema.decay must be in [0, 1) (0: no average); got {settings.decay}.")
  if settings.start_step < 0 or not settings.rampup >= 0:
    raise ValueError(
      f"config.ema.start_step and config.ema.rampup must be >= 0; got {settings.start_step}, {settings.rampup}."
    )
  return settings if settings.decay > 0 else None


def decay_at(settings: Settings, step: jax.Array | int) -> jax.Array:
  """beta_t, the decay of the update made by step t (0-based): 0 before `start_step`, capped by the rampup.

  Args:
    settings: the EMA settings.
    step: int scalar t, the number of steps done before this one.

  Returns:
    float32 scalar in [0, settings.decay].
  """
  t = jnp.asarray(step, jnp.float32)
  beta = jnp.float32(settings.decay)
  if settings.rampup > 0:
    # 0.5 ** (1 / half_life): the decay whose half-life is rampup * t steps (0 at t = 0: a copy).
    beta = jnp.minimum(beta, 0.5 ** (1.0 / jnp.maximum(settings.rampup * t, 1e-8)))
  return jnp.where(t < settings.start_step, 0.0, beta)


def init(state: Any) -> Average:
  """An average equal to `state`'s generator (a `GANState` or anything with its generator fields), in new buffers
  (a train step donates its state: two fields must not share one)."""
  return jax.tree.map(jnp.copy, Average(state.g_params, state.g_state, state.prior_params))


def update(settings: Settings, average: Average, state: Any, step: jax.Array) -> Average:
  """`average` moved towards `state`'s generator: beta_t * average + (1 - beta_t) * generator, beta_t = `decay_at`.

  Args:
    settings: the EMA settings.
    average: the average so far.
    state: the state after the step's generator updates (its `g_params`, `g_state`, `prior_params`).
    step: int scalar t, the step's index (the number of steps done before it).

  Returns:
    The new average. Integer leaves (none in today's nets) are copied, not averaged.
  """
  step_size = 1.0 - decay_at(settings, step)
  current = Average(state.g_params, state.g_state, state.prior_params)

  def move(new: jax.Array, old: jax.Array) -> jax.Array:
    if not jnp.issubdtype(new.dtype, jnp.inexact):
      return new
    return optax.incremental_update(new, old, step_size.astype(new.dtype))

  return jax.tree.map(move, current, average)


def generator(state: Any, use_ema: bool = True) -> tuple[Any, Any, Any]:
  """(g_params, g_state, prior_params) to sample with: the average when `use_ema` and the state keeps one, else the
  trained generator's."""
  if use_ema and getattr(state, "ema", None) is not None:
    return state.ema.g_params, state.ema.g_state, state.ema.prior_params
  return state.g_params, state.g_state, state.prior_params


def which(state: Any, use_ema: bool = True) -> str:
  """'ema' or 'raw': the generator `generator(state, use_ema)` picks (for results files)."""
  return "ema" if use_ema and getattr(state, "ema", None) is not None else "raw"
