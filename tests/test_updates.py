"""The half steps of `jaxgan.updates`: each changes only its player, and composed with the keys their docstrings
name they are the train step; `as_batch` converts the pipeline's batch forms once, with the step's messages."""

import chex
import jax
import jax.numpy as jnp
import pytest

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

