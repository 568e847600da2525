import chex
import jax
import jax.numpy as jnp
import optax
import pytest

from jaxgan.transforms import clip_params

PARAMS = {"w": jnp.array([0.005, -0.002, 0.0]), "b": jnp.array([[0.009]])}


def _step(tx, params, grads):
  state = tx.init(params)
  updates, _ = tx.update(grads, state, params)
  return optax.apply_updates(params, updates)


def test_large_update_lands_inside_bounds():
  tx = optax.chain(optax.sgd(1.0), clip_params(0.01))
  grads = {"w": jnp.array([5.0, -3.0, 0.001]), "b": jnp.array([[-2.0]])}
  new = _step(tx, PARAMS, grads)
  expected = {"w": jnp.array([-0.01, 0.01, -0.001]), "b": jnp.array([[0.01]])}
  chex.assert_trees_all_close(new, expected, atol=1e-7)


def test_small_update_equals_unclipped_optimizer():
  grads = {"w": jnp.array([1e-4, -1e-4, 2e-4]), "b": jnp.array([[1e-4]])}
  clipped = _step(optax.chain(optax.sgd(1.0), clip_params(0.01)), PARAMS, grads)
  plain = _step(optax.sgd(1.0), PARAMS, grads)
  chex.assert_trees_all_close(clipped, plain, atol=1e-8)


def test_raises_without_params():
  tx = clip_params(0.01)
  with pytest.raises(ValueError, match="params"):
    tx.update(PARAMS, tx.init(PARAMS))


def test_rejects_non_positive_bound():
  with pytest.raises(ValueError, match="max_abs"):
    clip_params(0.0)


def test_same_under_jit_with_rmsprop():
  tx = optax.chain(optax.rmsprop(5e-2, decay=0.99, eps=1e-8, eps_in_sqrt=False), clip_params(0.01))
  grads = {"w": jnp.array([1.0, -1.0, 0.5]), "b": jnp.array([[3.0]])}
  eager = _step(tx, PARAMS, grads)
  jitted = jax.jit(lambda p, g: _step(tx, p, g))(PARAMS, grads)
  chex.assert_trees_all_close(eager, jitted, atol=1e-8)
  assert all(bool(jnp.all(jnp.abs(leaf) <= 0.01 + 1e-7)) for leaf in jax.tree.leaves(jitted))
