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
