import chex
import jax
import jax.numpy as jnp
import ml_collections
import pytest

from jaxgan import nets


def _count(params) -> int:
  return sum(x.size for x in jax.tree.leaves(params))


def _cfg(**fields):
  return ml_collections.ConfigDict(fields)


def test_mlp_parameter_counts():
  g = nets.build_generator(_cfg(name="mlp", features=(16, 16), activation="relu"), (2,))
  d = nets.build_critic(_cfg(name="mlp", features=(16, 16), activation="leaky_relu"))
  g_params, _ = g.init(jax.random.key(0), jnp.zeros((1, 3)))
  d_params, d_state = d.init(jax.random.key(0), jnp.zeros((1, 2)))
  assert _count(g_params) == (3 * 16 + 16) + (16 * 16 + 16) + (16 * 2 + 2)
  assert _count(d_params) == (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1)
  assert d_state == {}


def test_dcgan_parameter_counts_28x28():
  g = nets.build_generator(_cfg(name="dcgan", base_features=8), (28, 28, 1))
  d = nets.build_critic(_cfg(name="dcgan", base_features=8, batch_norm=False))
  g_params, g_state = g.init(jax.random.key(0), jnp.zeros((1, 10)))
  d_params, _ = d.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
  # Dense 10 -> 7*7*16 (no bias), BN(16), ConvT 16->8 (no bias), BN(8), ConvT 8->1 (+bias).
  assert _count(g_params) == 10 * 784 + 32 + 4 * 4 * 16 * 8 + 16 + 4 * 4 * 8 + 1
  assert "batch_stats" in g_state
  # Conv 1->8, Conv 8->16 (28 -> 14 -> 7), Dense 7*7*16 -> 1.
  assert _count(d_params) == (16 * 8 + 8) + (16 * 8 * 16 + 16) + (7 * 7 * 16 + 1)


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 3)])
@pytest.mark.parametrize("upsample", ["transpose", "resize"])
def test_dcgan_shapes_and_range(shape, upsample):
  g = nets.build_generator(_cfg(name="dcgan", base_features=4, upsample=upsample), shape)
  d = nets.build_critic(_cfg(name="dcgan", base_features=4, batch_norm=True))
  g_params, g_state = g.init(jax.random.key(0), jnp.zeros((1, 8)))
  x, new_state = g.apply(g_params, g_state, 3 * jax.random.normal(jax.random.key(1), (5, 8)), True)
  chex.assert_shape(x, (5, *shape))
  assert float(jnp.max(jnp.abs(x))) <= 1.0
  assert not jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.all(a == b)), g_state, new_state))
  d_params, d_state = d.init(jax.random.key(2), x)
  scores, _ = d.apply(d_params, d_state, x, True)
  chex.assert_shape(scores, (5,))


def test_bad_net_configs_raise():
  with pytest.raises(ValueError, match="config.generator.name"):
    nets.build_generator(_cfg(name="resnet9000"), (2,))
  with pytest.raises(ValueError, match="widths"):
    nets.build_critic(_cfg(name="mlp", widths=(3,)))
  g = nets.build_generator(_cfg(name="dcgan"), (48, 48, 3))
  with pytest.raises(ValueError, match="image sides"):
    g.init(jax.random.key(0), jnp.zeros((1, 8)))


@pytest.mark.parametrize("norm", ["instance", "layer", "weight", "batch"])
def test_dcgan_critic_norm_choices(norm):
  d = nets.build_critic(_cfg(name="dcgan", base_features=4, norm=norm))
  x = jax.random.normal(jax.random.key(0), (3, 28, 28, 1))
  params, state = d.init(jax.random.key(1), x)
  scores, _ = d.apply(params, state, x, True)
  chex.assert_shape(scores, (3,))
  names = str(jax.tree_util.tree_structure(params))
  expected = {"instance": "InstanceNorm", "layer": "LayerNorm", "weight": "WeightNorm", "batch": "BatchNorm"}[norm]
  assert expected in names
  assert nets.critic_uses_batch_norm(_cfg(name="dcgan", norm=norm)) == (norm == "batch")
  if norm != "batch":
    # Per-sample norms: a sample's score does not depend on the rest of the batch.
    alone, _ = d.apply(params, state, x[:1], True)
    chex.assert_trees_all_close(alone, scores[:1], rtol=1e-5, atol=1e-6)


def _maxout_critic(**fields):
  fields = {"name": "mlp", "features": (6, 4), "maxout_pieces": 3, **fields}
  return nets.build_critic(_cfg(**fields))


def test_maxout_critic_matches_numpy_and_counts_parameters():
  import numpy as np

  critic = _maxout_critic(unit_input=True)
  x = jax.random.uniform(jax.random.key(1), (5, 2, 2, 1), minval=-1.0, maxval=1.0)
  params, _ = jax.jit(critic.init)(jax.random.key(0), x)
  # Each hidden unit has `pieces` linear pieces: 4 -> 6*3, 6 -> 4*3, 4 -> 1.
  assert _count(params) == (4 * 18 + 18) + (6 * 12 + 12) + (4 + 1)
  scores, _ = jax.jit(critic.apply, static_argnums=3)(params, {}, x, False)
  # Reference: pylearn2's Maxout, units' pieces consecutive, on inputs mapped to [0, 1].
  h = (np.asarray(x).reshape(5, -1) + 1) / 2
  for layer, units in (("Dense_0", 6), ("Dense_1", 4)):
    z = h @ np.asarray(params[layer]["kernel"]) + np.asarray(params[layer]["bias"])
    h = z.reshape(5, units, 3).max(axis=-1)
  expected = (h @ np.asarray(params["Dense_2"]["kernel"]) + np.asarray(params["Dense_2"]["bias"]))[:, 0]
  chex.assert_trees_all_close(scores, expected, rtol=1e-5, atol=1e-6)


def test_critic_dropout_rates_and_inverted_scaling():
  critic = nets.build_critic(
    _cfg(
      name="mlp",
      features=(2000,),
      activation="identity",
      input_dropout=0.2,
      init_range=0.0,
      unit_input=False,
      hidden_dropout=0.5,
      maxout_pieces=0,
    )
  )
  x = jnp.ones((1, 4000))
  params, _ = jax.jit(critic.init)(jax.random.key(0), x)
  # A kernel of ones and no bias: the score is the sum of the hidden layer after both dropouts.
  params = jax.tree.map(jnp.ones_like, params)
  params["Dense_0"]["bias"] = jnp.zeros_like(params["Dense_0"]["bias"])
  params["Dense_1"]["bias"] = jnp.zeros_like(params["Dense_1"]["bias"])
  eval_score, _ = jax.jit(critic.apply, static_argnums=3)(params, {}, x, False)
  assert float(eval_score[0]) == 4000 * 2000
  train_scores = jax.jit(jax.vmap(lambda k: critic.apply(params, {}, x, True, k)[0][0]))
  scores = train_scores(jax.random.split(jax.random.key(1), 20))
  # Inverted dropout keeps the expectation; the draws differ between keys.
  assert abs(float(jnp.mean(scores)) / (4000 * 2000) - 1) < 0.02
  assert float(jnp.std(scores)) > 0


def test_init_range_and_unit_output_generator():
  g = nets.build_generator(
    _cfg(name="mlp", features=(8,), activation="relu", output_activation="sigmoid", unit_output=True, init_range=0.05),
    (3,),
  )
  params, _ = jax.jit(g.init)(jax.random.key(0), jnp.zeros((1, 4)))
  kernels = [params[k]["kernel"] for k in params]
  assert all(float(jnp.max(jnp.abs(k))) <= 0.05 for k in kernels)
  assert all(float(jnp.max(jnp.abs(params[k]["bias"]))) == 0 for k in params)
  z = 100 * jax.random.normal(jax.random.key(1), (64, 4))
  x, _ = jax.jit(g.apply, static_argnums=3)(params, {}, z, False)
  # sigmoid in [0, 1], mapped to [-1, 1]: 2 sigmoid(a) - 1 = tanh(a / 2).
  hidden = jax.nn.relu(z @ params["Dense_0"]["kernel"] + params["Dense_0"]["bias"])
  logits = hidden @ params["Dense_1"]["kernel"] + params["Dense_1"]["bias"]
  chex.assert_trees_all_close(x, jnp.tanh(logits / 2), atol=1e-6)


def test_maxout_critic_refuses_bad_rates():
  critic = _maxout_critic(input_dropout=1.0)
  with pytest.raises(ValueError, match="input_dropout"):
    critic.init(jax.random.key(0), jnp.zeros((1, 4)))


def test_uniform_unit_variance_prior():
  from jaxgan import priors

  prior = priors.get_prior("uniform_unit_variance")
  z = jax.jit(jax.vmap(lambda k: prior.sample({}, k, (4,))))(jax.random.split(jax.random.key(0), 20000))
  assert float(jnp.max(jnp.abs(z))) <= 3**0.5
  assert abs(float(jnp.var(z)) - 1.0) < 0.03
