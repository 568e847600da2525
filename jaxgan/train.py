"""The GAN train state and the one train step that every variant runs.

A step is `n_critic` critic updates (scanned with `jax.lax.scan`, one fresh real batch each, as in WGAN's
Algorithm 1) followed by one generator update. What differs between GAN, WGAN and WGAN-GP is data in the config:
the loss pair, the penalty and its weight, the optimisers (WGAN's clipping is an optax transform) and `n_critic`.
They are read once, when the step is built; the compiled step branches on nothing.

The step is written for one device's shard of the batch. With `axis_name` set it averages gradients, metrics and
BatchNorm statistics over that mapped axis, and draws each example's randomness from the *global* example index, so
a run over D devices draws exactly the latents and interpolation weights of a one-device run on the same global batch.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxgan import losses, nets, penalties, priors
from jaxgan.data import data_shape
from jaxgan.optim import build_optimizer

Batch = jax.Array  # [n_critic, B, *data_shape]: one real batch per critic update
Metrics = dict[str, jax.Array]


class GANState(flax.struct.PyTreeNode):
  """Everything a run needs to continue: both players' parameters, optimiser states and net state.

  Attributes:
    step: number of generator updates done.
    g_params, g_state, g_opt_state: generator parameters, non-parameter state (BatchNorm statistics) and optax state.
    d_params, d_state, d_opt_state: the same for the critic.
  """

  step: jax.Array
  g_params: Any
  g_state: Any
  g_opt_state: Any
  d_params: Any
  d_state: Any
  d_opt_state: Any


class GAN(NamedTuple):
  """The pure pieces a config describes; built once by `build_gan`."""

  generator: nets.Net
  critic: nets.Net
  g_tx: optax.GradientTransformation
  d_tx: optax.GradientTransformation
  prior: priors.Sampler
  loss: losses.LossPair
  penalty: Callable[..., jax.Array] | None
  penalty_weight: float
  latent_shape: tuple[int, ...]
  data_shape: tuple[int, ...]
  n_critic: int


def _penalty_from_config(config: ml_collections.ConfigDict):
  name = config.get("penalty", "none") or "none"
  if name == "none":
    return None, 0.0
  weight = float(config.get("penalty_weight", 10.0))
  if weight < 0:
    raise ValueError(f"config.penalty_weight must be >= 0; got {weight}.")
  if nets.critic_uses_batch_norm(config.critic):
    raise ValueError(
        f"config.penalty={name!r} penalises each sample's gradient, but config.critic.batch_norm=True couples the "
        "samples of a batch. Set config.critic.batch_norm=False (WGAN-GP uses no batch norm in the critic).")
  return penalties.get_penalty(name), weight


def build_gan(config: ml_collections.ConfigDict, axis_name: str | None = None) -> GAN:
  """Reads the nets, optimisers, prior, loss and penalty that `config` names.

  Raises:
    ValueError: for an unknown name or a bad value, naming the config field to fix.
  """
  if int(config.n_critic) < 1:
    raise ValueError(f"config.n_critic must be >= 1; got {config.n_critic}.")
  if int(config.latent_dim) < 1:
    raise ValueError(f"config.latent_dim must be >= 1; got {config.latent_dim}.")
  shape = data_shape(config.data)
  penalty, weight = _penalty_from_config(config)
  return GAN(
      generator=nets.build_generator(config.generator, shape, axis_name),
      critic=nets.build_critic(config.critic, axis_name),
      g_tx=build_optimizer(config.g_optimizer, "g_optimizer"),
      d_tx=build_optimizer(config.d_optimizer, "d_optimizer"),
      prior=priors.get_prior(config.prior),
      loss=losses.get_loss(config.loss),
      penalty=penalty,
      penalty_weight=weight,
      latent_shape=(int(config.latent_dim),),
      data_shape=tuple(shape),
      n_critic=int(config.n_critic),
  )


def init_state(gan: GAN, key: jax.Array) -> GANState:
  """Fresh parameters and optimiser states from `key`."""
  g_key, d_key = jax.random.split(key)
  z = jnp.zeros((1, *gan.latent_shape))
  x = jnp.zeros((1, *gan.data_shape))
  g_params, g_state = gan.generator.init(g_key, z)
  d_params, d_state = gan.critic.init(d_key, x)
  return GANState(
      step=jnp.zeros((), jnp.int32),
      g_params=g_params, g_state=g_state, g_opt_state=gan.g_tx.init(g_params),
      d_params=d_params, d_state=d_state, d_opt_state=gan.d_tx.init(d_params),
  )


def example_keys(key: jax.Array, local_batch: int, axis_name: str | None) -> jax.Array:
  """[local_batch] keys, one per example, indexed by the example's position in the global batch."""
  offset = 0 if axis_name is None else jax.lax.axis_index(axis_name) * local_batch
  return jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, offset + jnp.arange(local_batch))


def sample_latents(gan: GAN, keys: jax.Array) -> jax.Array:
  """z [B, *latent_shape], one draw from the prior per example key [B]."""
  return jax.vmap(lambda k: gan.prior(k, gan.latent_shape))(keys)


def generate(gan: GAN, state: GANState, key: jax.Array, num: int) -> jax.Array:
  """num samples [num, *data_shape] from the generator in inference mode (BatchNorm running statistics)."""
  z = sample_latents(gan, example_keys(key, num, None))
  x, _ = gan.generator.apply(state.g_params, state.g_state, z, False)
  return x


def _pmean(tree, axis_name: str | None):
  return tree if axis_name is None else jax.lax.pmean(tree, axis_name)


def make_train_step(config: ml_collections.ConfigDict | GAN, axis_name: str | None = None
                    ) -> Callable[[GANState, Batch, jax.Array], tuple[GANState, Metrics]]:
  """Builds the pure train step `(state, batch, key) -> (state, metrics)`.

  Args:
    config: a run config (or an already built `GAN`, whose axis name must match).
    axis_name: the mapped device axis, or None on one device.

  Returns:
    `train_step(state, batch, key)`, where `batch` is [n_critic, B, *data_shape] (this device's shard), `key` the
    run's base key (the step folds in `state.step`), and `metrics` holds scalars `critic_loss`, `generator_loss`,
    `gradient_penalty` and `wasserstein_estimate` = E C(x_real) - E C(x_fake), averaged over devices.
  """
  gan = config if isinstance(config, GAN) else build_gan(config, axis_name)
  g_apply, d_apply = gan.generator.apply, gan.critic.apply

  def critic_update(carry, inputs):
    g_params, g_state, d_params, d_state, d_opt_state, step_key = carry
    real, index = inputs
    keys = example_keys(jax.random.fold_in(step_key, index), real.shape[0], axis_name)
    z = sample_latents(gan, jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys))
    fake, g_state = g_apply(g_params, g_state, z, True)
    fake = jax.lax.stop_gradient(fake)

    def loss_fn(d_params):
      # Real and fake go through the critic as separate batches, so BatchNorm never mixes them.
      real_scores, new_d_state = d_apply(d_params, d_state, real, True)
      fake_scores, new_d_state = d_apply(d_params, new_d_state, fake, True)
      adversarial = gan.loss.critic_loss(real_scores, fake_scores)
      if gan.penalty is None:
        penalty = jnp.zeros(())
      else:
        penalty_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
        penalty = gan.penalty(lambda x: d_apply(d_params, new_d_state, x, True)[0], real, fake, penalty_keys)
      aux = (new_d_state, adversarial, penalty, jnp.mean(real_scores) - jnp.mean(fake_scores))
      return adversarial + gan.penalty_weight * penalty, aux

    (_, (d_state, adversarial, penalty, w_estimate)), grads = jax.value_and_grad(loss_fn, has_aux=True)(d_params)
    grads = _pmean(grads, axis_name)
    updates, d_opt_state = gan.d_tx.update(grads, d_opt_state, d_params)
    d_params = optax.apply_updates(d_params, updates)
    carry = (g_params, g_state, d_params, d_state, d_opt_state, step_key)
    return carry, {"critic_loss": adversarial, "gradient_penalty": penalty, "wasserstein_estimate": w_estimate}

  def train_step(state: GANState, batch: Batch, key: jax.Array) -> tuple[GANState, Metrics]:
    if batch.shape[0] != gan.n_critic or tuple(batch.shape[2:]) != gan.data_shape:
      raise ValueError(f"train_step expects a batch [n_critic={gan.n_critic}, B, *{gan.data_shape}]; "
                       f"got {batch.shape}.")
    step_key = jax.random.fold_in(key, state.step)
    carry = (state.g_params, state.g_state, state.d_params, state.d_state, state.d_opt_state, step_key)
    carry, critic_metrics = jax.lax.scan(critic_update, carry, (batch, jnp.arange(gan.n_critic)))
    _, g_state, d_params, d_state, d_opt_state, _ = carry

    real = batch[-1]
    keys = example_keys(jax.random.fold_in(step_key, gan.n_critic), real.shape[0], axis_name)
    z = sample_latents(gan, jax.vmap(lambda k: jax.random.fold_in(k, 0))(keys))

    def generator_loss_fn(g_params):
      fake, new_g_state = g_apply(g_params, g_state, z, True)
      # The critic's own state updates during the generator's update are dropped: it is not the critic's turn.
      fake_scores, _ = d_apply(d_params, d_state, fake, True)
      real_scores = d_apply(d_params, d_state, real, True)[0] if gan.loss.generator_uses_real else None
      return gan.loss.generator_loss(real_scores, fake_scores), new_g_state

    (g_loss, g_state), g_grads = jax.value_and_grad(generator_loss_fn, has_aux=True)(state.g_params)
    g_grads = _pmean(g_grads, axis_name)
    g_updates, g_opt_state = gan.g_tx.update(g_grads, state.g_opt_state, state.g_params)
    g_params = optax.apply_updates(state.g_params, g_updates)

    metrics = {name: values[-1] for name, values in critic_metrics.items()}
    metrics["generator_loss"] = g_loss
    new_state = state.replace(step=state.step + 1, g_params=g_params, g_state=g_state, g_opt_state=g_opt_state,
                              d_params=d_params, d_state=d_state, d_opt_state=d_opt_state)
    return new_state, _pmean(metrics, axis_name)

  return train_step
