"""jaxgan.optim: a learning rate given apart (a traced input of a jitted step) equals the config's own rate."""

import functools

import chex
import jax
import jax.numpy as jnp
import ml_collections
import optax
import pytest

from jaxgan.optim import build_optimizer

PARAMS = {"w": jnp.array([[0.004, -0.002], [0.0, 0.008]]), "b": jnp.array([0.009, -0.001])}
GRADS = ({"w": jnp.array([[1.0, -2.0], [0.5, 3.0]]), "b": jnp.array([-1.0, 0.25])},) * 2
# What the playground offers (Adam; RMSprop with WGAN's clipping, which acts after the rate) and SGD with momentum.
CONFIGS = {
  "adam": dict(name="adam", learning_rate=1e-3, b1=0.5, b2=0.9, clip=0.0),
  "rmsprop_clip": dict(name="rmsprop", learning_rate=5e-4, clip=0.01),
  "sgd": dict(name="sgd", learning_rate=0.1, momentum=0.9, clip=0.0),
}


def _run(tx, params=PARAMS):
  """params after two updates, and the optimiser state."""
  state = tx.init(params)
  for grads in GRADS:
    updates, state = tx.update(grads, state, params)
    params = optax.apply_updates(params, updates)
  return params, state


@pytest.mark.parametrize("name", CONFIGS)
def test_a_traced_learning_rate_equals_the_config_rate_and_compiles_once(name):
  c = ml_collections.ConfigDict(CONFIGS[name])
  live = jax.jit(lambda rate: _run(build_optimizer(c, learning_rate=rate)))
  for rate in (2e-3, 3e-2):
    reference = ml_collections.ConfigDict({**CONFIGS[name], "learning_rate": rate})
    expected_params, expected_state = jax.jit(functools.partial(_run, build_optimizer(reference)))()
    params, state = live(jnp.float32(rate))
    chex.assert_trees_all_close(params, expected_params, rtol=1e-6, atol=1e-9)
    chex.assert_trees_all_close(state, expected_state, rtol=1e-6, atol=1e-9)  # the same state, same structure
  assert live._cache_size() == 1
  # SGD by hand: v_t = g_t + 0.9 v_{t-1}, p -= rate * v_t.
  if name == "sgd":
    by_hand = jax.tree.map(lambda p, g0, g1: p - 3e-2 * (g0 + (g1 + 0.9 * g0)), PARAMS, *GRADS)
    chex.assert_trees_all_close(live(jnp.float32(3e-2))[0], by_hand, rtol=1e-6)


def test_a_learning_rate_given_apart_still_checks_the_config():
  with pytest.raises(ValueError, match="schedule"):
    build_optimizer(
      ml_collections.ConfigDict(dict(name="sgd", learning_rate=0.1, schedule="cosine", decay_steps=10)),
      learning_rate=jnp.float32(0.1),
    )
  with pytest.raises(ValueError, match="learning_rate must be a positive number"):
    build_optimizer(ml_collections.ConfigDict(dict(name="adam", learning_rate=-1.0)), learning_rate=jnp.float32(0.1))
