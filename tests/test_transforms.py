import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxgan.optim import build_optimizer
from jaxgan.transforms import clip_params, max_column_norm

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


def _max_norm_by_hand(kernel, c):
  """Every column (last axis) rescaled to norm c when longer, with numpy loops."""
  k = np.array(kernel, np.float64).reshape(-1, kernel.shape[-1])
  for j in range(k.shape[1]):
    norm = np.linalg.norm(k[:, j])
    if norm > c:
      k[:, j] *= c / norm
  return k.reshape(kernel.shape)


def test_max_column_norm_projects_each_unit_and_leaves_vectors_alone():
  keys = jax.random.split(jax.random.key(0), 2)
  params = {
    "dense": jax.random.normal(keys[0], (6, 4)) * 0.3,
    "conv": jax.random.normal(keys[1], (3, 3, 2, 5)) * 0.3,
    "bias": jnp.array([3.0, -4.0]),
  }
  # SGD at rate 1 multiplies each column (last axis) by 0.5 or 8: some end inside the ball, some outside.
  factor = lambda p: jnp.where(jnp.arange(p.shape[-1]) % 2 == 0, 0.5, 8.0)
  grads = jax.tree.map(lambda p: p * (1.0 - factor(p)), params)
  tx = optax.chain(optax.sgd(1.0), max_column_norm(1.5))
  new = _step(tx, params, grads)
  plain = _step(optax.sgd(1.0), params, grads)
  for name in ("dense", "conv"):
    chex.assert_trees_all_close(new[name], _max_norm_by_hand(plain[name], 1.5), atol=1e-5)
    norms = np.linalg.norm(np.asarray(plain[name]).reshape(-1, plain[name].shape[-1]), axis=0)
    assert (norms > 1.5).any() and (norms < 1.5).any()  # both branches of the projection are exercised
  chex.assert_trees_all_close(new["bias"], plain["bias"])  # norm 5 > 1.5, but a vector is not a unit's weights


def test_optimizer_config_chains_the_constraints():
  c = ml_collections.ConfigDict({"name": "sgd", "learning_rate": 1.0, "momentum": 0.0, "max_norm": 1.0, "clip": 0.3})
  params = {"w": jnp.full((4, 2), 0.2)}
  new = _step(build_optimizer(c), params, {"w": -jnp.ones((4, 2))})  # 1.2 per entry: norm 2.4 per column
  # max-norm after the clip: clip to 0.3 (column norm 0.6 <= 1), so the cap does not bind.
  chex.assert_trees_all_close(new["w"], jnp.full((4, 2), 0.3))
  c.clip = 0.0
  new = _step(build_optimizer(c), params, {"w": -jnp.ones((4, 2))})
  chex.assert_trees_all_close(new["w"], jnp.full((4, 2), 0.5), atol=1e-6)  # column norm 2.4 -> 1: 1.2 / 2.4
  c.max_norm = -1.0
  with pytest.raises(ValueError, match="max_norm must be >= 0"):
    build_optimizer(c)


def test_sgd_momentum_ramp_matches_pylearn2_momentum_by_hand():
  # Momentum 0.5 until update 1, then linear to 0.7 at update 3 (pylearn2's MomentumAdjustor, per update here).
  c = ml_collections.ConfigDict(
    {"name": "sgd", "learning_rate": 0.1, "momentum": 0.5, "final_momentum": 0.7, "momentum_begin": 1,
     "momentum_saturate": 3}
  )  # fmt: skip
  tx = build_optimizer(c)
  params = {"w": jnp.zeros(3)}
  state = tx.init(params)
  grads = [jnp.array([1.0, -2.0, 0.5]) * (k + 1) for k in range(5)]
  w, velocity = np.zeros(3), np.zeros(3)
  for k, g in enumerate(grads):
    momentum = 0.5 + 0.2 * min(max(k - 1, 0), 2) / 2
    velocity = momentum * velocity + np.asarray(g)  # optax's trace; the rate is constant here
    w = w - 0.1 * velocity
    updates, state = jax.jit(tx.update)({"w": g}, state, params)
    params = optax.apply_updates(params, updates)
    chex.assert_trees_all_close(params["w"], jnp.asarray(w, jnp.float32), rtol=1e-6)
  c.momentum_saturate = 1
  with pytest.raises(ValueError, match="momentum_begin < momentum_saturate"):
    build_optimizer(c)
