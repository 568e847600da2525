import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxgan.penalties import gradient_penalty, per_sample_grad_norm


def test_linear_critic_penalty_is_closed_form():
  w = jnp.array([[0.3, -1.2], [0.5, 2.0]])  # critic on [B, 2, 2] images: C(x) = sum(w * x)
  critic = lambda x: jnp.sum(x * w, axis=(1, 2))
  real = jax.random.normal(jax.random.key(0), (8, 2, 2))
  fake = jax.random.normal(jax.random.key(1), (8, 2, 2))
  gp = gradient_penalty(critic, real, fake, jax.random.key(2))
  chex.assert_trees_all_close(gp, (jnp.linalg.norm(w) - 1.0) ** 2, rtol=1e-5)


def test_per_sample_norms_not_batch_mean():
  # C(x) = 0.5 * a * ||x||^2 has grad a * x: per-sample norm a * ||x_i||. With real == fake, x_hat = x exactly.
  a = 1.7
  critic = lambda x: 0.5 * a * jnp.sum(x**2, axis=-1)
  x = jax.random.normal(jax.random.key(0), (16, 5))
  expected = jnp.mean((a * jnp.linalg.norm(x, axis=-1) - 1.0) ** 2)
  gp = gradient_penalty(critic, x, x, jax.random.key(3))
  chex.assert_trees_all_close(gp, expected, rtol=1e-5)
  # The batch-mean bug would divide every norm by B; make sure that number is far away.
  wrong = jnp.mean((a * jnp.linalg.norm(x, axis=-1) / 16 - 1.0) ** 2)
  assert abs(float(gp - wrong)) > 0.1


def _mlp_critic(params, x):
  h = jnp.tanh(x @ params["w1"] + params["b1"])
  return (h @ params["w2"])[:, 0]


def test_gradient_norm_matches_finite_differences():
  key = jax.random.key(0)
  k1, k2, k3 = jax.random.split(key, 3)
  params = {"w1": jax.random.normal(k1, (3, 8)) / 2, "b1": jnp.zeros(8), "w2": jax.random.normal(k2, (8, 1))}
  x = np.asarray(jax.random.normal(k3, (4, 3)), np.float64)
  critic = lambda inputs: _mlp_critic(params, inputs)
  norms = per_sample_grad_norm(critic, jnp.asarray(x, jnp.float32))
  h = 1e-3
  fd = np.zeros_like(x)
  for j in range(x.shape[1]):
    e = np.zeros_like(x)
    e[:, j] = h
    fd[:, j] = (
      np.asarray(critic(jnp.asarray(x + e, jnp.float32))) - np.asarray(critic(jnp.asarray(x - e, jnp.float32)))
    ) / (2 * h)
  chex.assert_trees_all_close(norms, np.linalg.norm(fd, axis=1).astype(np.float32), rtol=2e-3, atol=1e-4)


def test_penalty_gradient_finite_where_grad_norm_is_zero():
  # A critic with zero weights has zero input-gradient everywhere: the norm's gradient must not be NaN.
  def penalty_of(params):
    critic = lambda x: _mlp_critic(params, x)
    x = jnp.ones((4, 3))
    return gradient_penalty(critic, x, x, jax.random.key(0))

  params = {"w1": jnp.zeros((3, 8)), "b1": jnp.zeros(8), "w2": jnp.zeros((8, 1))}
  grads = jax.grad(penalty_of)(params)
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
  chex.assert_trees_all_close(penalty_of(params), 1.0, atol=1e-5)


def test_per_example_keys_reproduce_split_batches():
  # Drawing eps from per-example keys gives the same penalty terms whether the batch is whole or split in two.
  critic = lambda x: jnp.sum(jnp.sin(x), axis=-1)
  real = jax.random.normal(jax.random.key(0), (8, 3))
  fake = jax.random.normal(jax.random.key(1), (8, 3))
  keys = jax.random.split(jax.random.key(2), 8)
  whole = gradient_penalty(critic, real, fake, keys)
  halves = [gradient_penalty(critic, real[s], fake[s], keys[s]) for s in (slice(0, 4), slice(4, 8))]
  chex.assert_trees_all_close(whole, (halves[0] + halves[1]) / 2, rtol=1e-6)


def test_shape_mismatch_raises():
  with pytest.raises(ValueError, match="same shape"):
    gradient_penalty(lambda x: x.sum(-1), jnp.zeros((4, 2)), jnp.zeros((4, 3)), jax.random.key(0))


# --- R1 and DRAGAN (issue 3) ---

from jaxgan.penalties import dragan_penalty, get_penalty, r1_penalty  # noqa: E402


def test_new_penalties_registered():
  assert get_penalty("r1") is r1_penalty
  assert get_penalty("dragan") is dragan_penalty


def test_r1_linear_critic_is_half_squared_weight_norm():
  w = jnp.array([[0.3, -1.2], [0.5, 2.0]])
  critic = lambda x: jnp.sum(x * w, axis=(1, 2))
  real = jax.random.normal(jax.random.key(0), (8, 2, 2))
  fake = jax.random.normal(jax.random.key(1), (8, 2, 2))
  chex.assert_trees_all_close(r1_penalty(critic, real, fake, jax.random.key(2)), 0.5 * jnp.sum(w**2), rtol=1e-6)


def test_r1_quadratic_critic_uses_real_data_only():
  # C(x) = 0.5 a ||x||^2: grad = a x, so R1 = 0.5 a^2 E ||x_real||^2, whatever the fakes and the key.
  a = 1.7
  critic = lambda x: 0.5 * a * jnp.sum(x**2, axis=-1)
  real = jax.random.normal(jax.random.key(0), (16, 5))
  expected = 0.5 * a**2 * jnp.mean(jnp.sum(real**2, axis=-1))
  for fake in (jnp.zeros((16, 5)), 100.0 * jax.random.normal(jax.random.key(1), (16, 5))):
    chex.assert_trees_all_close(r1_penalty(critic, real, fake, jax.random.key(2)), expected, rtol=1e-6)
  # The batch-mean bug would divide each gradient by B, the penalty by B^2.
  assert float(r1_penalty(critic, real, real, None)) > 10 * float(expected) / 16**2


def test_r1_gradient_finite_at_zero_critic():
  def penalty_of(params):
    return r1_penalty(lambda x: _mlp_critic(params, x), jnp.ones((4, 3)), None, None)

  params = {"w1": jnp.zeros((3, 8)), "b1": jnp.zeros(8), "w2": jnp.zeros((8, 1))}
  grads = jax.grad(penalty_of)(params)
  assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))


def test_dragan_linear_critic_is_closed_form():
  w = jnp.array([[0.3, -1.2], [0.5, 2.0]])
  critic = lambda x: jnp.sum(x * w, axis=(1, 2))
  real = jax.random.normal(jax.random.key(0), (8, 2, 2))
  for key in (jax.random.key(2), jax.random.split(jax.random.key(2), 8)):
    chex.assert_trees_all_close(dragan_penalty(critic, real, real, key), (jnp.linalg.norm(w) - 1.0) ** 2, rtol=1e-5)


def test_dragan_perturbation_rule():
  # Recompute x_hat = x + alpha * 0.5 * std(x) * u from the documented per-example draws, and compare the penalty for
  # C(x) = 0.5 a ||x||^2, whose gradient norm a ||x_hat|| sees where x_hat is.
  a = 1.3
  critic = lambda x: 0.5 * a * jnp.sum(x**2, axis=-1)
  real = jax.random.normal(jax.random.key(0), (8, 3)) + 2.0
  keys = jax.random.split(jax.random.key(5), 8)
  pairs = jax.vmap(jax.random.split)(keys)
  alpha = jax.vmap(lambda k: jax.random.uniform(k, ()))(pairs[:, 0])
  u = jax.vmap(lambda k: jax.random.uniform(k, (3,)))(pairs[:, 1])
  std = np.std(np.asarray(real))
  x_hat = real + alpha[:, None] * 0.5 * std * u
  expected = jnp.mean((a * jnp.linalg.norm(x_hat, axis=-1) - 1.0) ** 2)
  chex.assert_trees_all_close(dragan_penalty(critic, real, None, keys), expected, rtol=1e-5)
  # Without interpolation x_hat = x + 0.5 std u; and the perturbation is not zero (the penalty differs from x's).
  x_p = real + 0.5 * std * u
  chex.assert_trees_all_close(
    dragan_penalty(critic, real, None, keys, interpolate=False),
    jnp.mean((a * jnp.linalg.norm(x_p, axis=-1) - 1.0) ** 2),
    rtol=1e-5,
  )
  at_real = jnp.mean((a * jnp.linalg.norm(real, axis=-1) - 1.0) ** 2)
  assert abs(float(dragan_penalty(critic, real, None, keys) - at_real)) > 1e-3


def test_dragan_per_example_keys_reproduce_split_batches():
  critic = lambda x: jnp.sum(jnp.sin(x), axis=-1)
  half = jax.random.normal(jax.random.key(0), (4, 3))
  real = jnp.concatenate([half, half])  # each half has the whole batch's std, so even unsynchronised shards agree
  keys = jax.random.split(jax.random.key(2), 8)
  whole = dragan_penalty(critic, real, None, keys)
  halves = [dragan_penalty(critic, real[s], None, keys[s]) for s in (slice(0, 4), slice(4, 8))]
  chex.assert_trees_all_close(whole, (halves[0] + halves[1]) / 2, rtol=1e-6)
  # Different keys, different perturbations.
  assert abs(float(whole - dragan_penalty(critic, real, None, jax.random.split(jax.random.key(3), 8)))) > 1e-6


def test_dragan_with_axis_name_uses_global_std():
  # Arbitrary shards under a mapped axis: with axis_name the std is the global batch's, so shards reproduce the
  # one-device penalty exactly.
  critic = lambda x: jnp.sum(jnp.sin(x), axis=-1)
  real = jax.random.normal(jax.random.key(0), (8, 3)) * jnp.arange(1.0, 9.0)[:, None]
  keys = jax.random.split(jax.random.key(2), 8)
  whole = dragan_penalty(critic, real, None, keys)
  shard_fn = jax.vmap(lambda r, k: dragan_penalty(critic, r, None, k, axis_name="devices"), axis_name="devices")
  sharded = jax.jit(shard_fn)(real.reshape(2, 4, 3), keys.reshape(2, 4))
  chex.assert_trees_all_close(whole, jnp.mean(sharded), rtol=1e-5)


def test_dragan_rejects_wrong_number_of_keys():
  with pytest.raises(ValueError, match="per-example keys"):
    dragan_penalty(lambda x: x.sum(-1), jnp.zeros((4, 2)), None, jax.random.split(jax.random.key(0), 3))
