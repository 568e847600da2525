"""The half steps of `jaxgan.updates`: each changes only its player, and composed with the keys their docstrings
name they are the train step; `as_batch` converts the pipeline's batch forms once, with the step's messages."""

import chex
import jax
import jax.numpy as jnp
import optax
import pytest

from experiments.configs.base import optimizer
from jaxgan import data, updates
from jaxgan.batch import Batch
from jaxgan.train import build_gan, init_state, make_train_step


def test_half_steps_composed_with_their_documented_keys_are_the_train_step(tiny_toy_config):
  tiny_toy_config.n_critic = 2
  tiny_toy_config.critic_loop = "unroll"  # bit for bit; a scanned loop differs by float reassociation (test_train)
  gan = build_gan(tiny_toy_config)
  state = init_state(gan, jax.random.key(0))
  batch = data.make_batch_fn(tiny_toy_config, jax.random.key(1))(0)
  key = jax.random.key(2)
  expected, expected_metrics = jax.jit(make_train_step(gan))(state, batch, key)

  def by_hand(state, batch, key):
    batch = updates.as_batch(gan, batch)
    step_key = jax.random.fold_in(key, state.step)
    new = state
    for i in range(gan.n_critic):
      new, critic_metrics = updates.critic_update(gan, new, batch[i], jax.random.fold_in(step_key, i))
    assert new.g_params is state.g_params and new.g_opt_state is state.g_opt_state  # the critic's turn only
    critic_done = new
    for j in range(gan.n_generator):
      new, g_metrics = updates.generator_update(gan, new, batch[-1], jax.random.fold_in(step_key, gan.n_critic + j))
    assert new.d_params is critic_done.d_params and new.d_opt_state is critic_done.d_opt_state
    return new.replace(step=state.step + 1), {**critic_metrics, **g_metrics}

  got, metrics = jax.jit(by_hand)(state, batch, key)
  chex.assert_trees_all_equal(got, expected)
  chex.assert_trees_all_equal(metrics, expected_metrics)


def test_as_batch_accepts_the_pipeline_forms_and_names_the_expected_shape(tiny_toy_config):
  tiny_toy_config.n_critic = 1
  gan = build_gan(tiny_toy_config)
  real = jnp.zeros((gan.n_critic, 4, 2))
  assert updates.as_batch(gan, real).real is real
  assert updates.as_batch(gan, Batch(real)).labels is None
  with pytest.raises(ValueError, match=r"expects a batch \[n_critic=1, B, \*\(2,\)\]; got \(2, 4, 2\)"):
    updates.as_batch(gan, jnp.zeros((2, 4, 2)))
  tiny_toy_config.num_classes = 25
  tiny_toy_config.generator.name = tiny_toy_config.critic.name = "conditional"
  tiny_toy_config.critic.conditioning = "projection"
  conditional = build_gan(tiny_toy_config)
  labels = jnp.zeros((1, 4), jnp.int32)
  assert updates.as_batch(conditional, (real, labels)).labels is labels
  with pytest.raises(ValueError, match=r"batch = \(images, labels"):
    updates.as_batch(conditional, real)
  with pytest.raises(ValueError, match=r"labels must be \[n_critic, B\]"):
    updates.as_batch(conditional, Batch(real, labels=labels[:, :2]))


def _reference_one_update_orders(gan, config, state, real_batches, key, order):
  """Two steps of `order` by hand: plain jax.grad of the log loss and optax's SGD with momentum, the nets' apply as
  the only shared code. The latents are drawn as the step's docstrings say: the generator's key is
  fold_in(step_key, 1)."""
  tx = optax.sgd(config.g_optimizer.learning_rate, momentum=config.g_optimizer.momentum)
  critic = lambda d_params, x: gan.critic.apply(d_params, {}, x, True)[0]

  def g_loss(g_params, g_stats, d_params, z):
    fake, new_stats = gan.generator.apply(g_params, g_stats, z, True)
    return -jnp.mean(jax.nn.log_sigmoid(critic(d_params, fake))), (fake, new_stats)

  def d_loss(d_params, real, fake):
    return -jnp.mean(jax.nn.log_sigmoid(critic(d_params, real))) - jnp.mean(jax.nn.log_sigmoid(-critic(d_params, fake)))

  @jax.jit  # one compilation instead of one per eager op
  def reference_step(step, real, g_params, g_stats, g_opt, d_params, d_opt):
    example_keys = jax.vmap(jax.random.fold_in, (None, 0))(
      jax.random.fold_in(jax.random.fold_in(key, step), 1), jnp.arange(real.shape[0])
    )
    z = jax.vmap(lambda k: jax.random.normal(jax.random.fold_in(k, 0), gan.latent_shape))(example_keys)
    if order == "generator_first":
      # The generator steps against the current critic; then the critic steps on the same fakes.
      (g_value, (fake, g_stats)), g_grads = jax.value_and_grad(g_loss, has_aux=True)(g_params, g_stats, d_params, z)
      g_updates, g_opt = tx.update(g_grads, g_opt, g_params)
      g_params = optax.apply_updates(g_params, g_updates)
      d_value, d_grads = jax.value_and_grad(d_loss)(d_params, real, fake)
      d_updates, d_opt = tx.update(d_grads, d_opt, d_params)
      d_params = optax.apply_updates(d_params, d_updates)
    else:
      # Both gradients at the current parameters, then both applied.
      fake, new_stats = gan.generator.apply(g_params, g_stats, z, True)
      (g_value, _), g_grads = jax.value_and_grad(g_loss, has_aux=True)(g_params, g_stats, d_params, z)
      d_value, d_grads = jax.value_and_grad(d_loss)(d_params, real, fake)
      g_updates, g_opt = tx.update(g_grads, g_opt, g_params)
      d_updates, d_opt = tx.update(d_grads, d_opt, d_params)
      g_params, d_params = optax.apply_updates(g_params, g_updates), optax.apply_updates(d_params, d_updates)
      g_stats = new_stats
    return (g_params, g_stats, g_opt, d_params, d_opt), {"generator_loss": g_value, "critic_loss": d_value}

  carry = (state.g_params, state.g_state, tx.init(state.g_params), state.d_params, tx.init(state.d_params))
  for step, real in enumerate(real_batches):
    carry, losses = reference_step(step, real, *carry)
  g_params, g_stats, _, d_params, _ = carry
  return (g_params, g_stats, d_params), losses


@pytest.mark.parametrize("order", ["generator_first", "simultaneous"])
def test_one_update_orders_match_a_hand_written_reference(tiny_toy_config, order):
  c = tiny_toy_config
  c.loss, c.penalty, c.penalty_weight, c.n_critic = "ns_gan", "none", 0.0, 1
  c.batch_size, c.generator.features, c.critic.features = 8, (8, 8), (8, 8)
  c.generator.batch_norm = True  # the generator's statistics must move once per step
  # SGD: Adam would turn the float noise in the gradients of the biases before BatchNorm (zero) into steps of +-lr.
  c.g_optimizer = c.d_optimizer = optimizer("sgd", 0.1, momentum=0.5)
  c.update_order = order
  gan = build_gan(c)
  state = init_state(gan, jax.random.key(0))
  next_batch = data.make_batch_fn(c, jax.random.key(1))
  batches = [next_batch(t) for t in range(2)]
  key = jax.random.key(2)
  step = jax.jit(make_train_step(gan))
  got = state
  for batch in batches:
    got, metrics = step(got, batch, key)
  expected, expected_metrics = _reference_one_update_orders(gan, c, state, [b[0] for b in batches], key, order)
  chex.assert_trees_all_close((got.g_params, got.g_state, got.d_params), expected, rtol=1e-5, atol=1e-6)
  chex.assert_trees_all_close({k: metrics[k] for k in expected_metrics}, expected_metrics, rtol=1e-5)
  assert int(got.step) == 2 and "batch_stats" in got.g_state
