"""ResNet nets of SNGAN and WGAN-GP: parameter counts derived layer by layer from the papers' architectures, the
forward pass against an independent reference written from the same description, and one conditional train step."""

import importlib

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from jax import lax

from jaxgan import nets, optim
from jaxgan.train import build_gan, init_state, make_train_step


def _count(params) -> int:
  return sum(x.size for x in jax.tree.leaves(params))


def _cfg(**fields):
  return ml_collections.ConfigDict(fields)


def _shapes(net, *inputs):
  """Parameter and state shapes without running the initialisers."""
  return jax.eval_shape(net.init, jax.random.key(0), *inputs)


# Per-layer parameter counts. Every convolution and linear layer has a bias in the authors' code (chainer's
# Convolution2D / Linear in pfnet-research/sngan_projection, tflib's Conv2D / Linear in igul222/improved_wgan_training),
# and BatchNorm has a scale and an offset per channel; conditional BatchNorm one of each per class and channel.
def conv(k, c_in, c_out):
  return k * k * c_in * c_out + c_out


def dense(n_in, n_out):
  return n_in * n_out + n_out


def generator_count(z, width, base, blocks, channels, num_classes=0):
  """Linear z -> base x base x width; per up block BN, conv3x3, BN, conv3x3, conv1x1 shortcut; BN; conv3x3 -> C."""
  norm = 2 * width * (num_classes or 1)
  block = norm + conv(3, width, width) + norm + conv(3, width, width) + conv(1, width, width)
  return dense(z, base * base * width) + blocks * block + 2 * width + conv(3, width, channels)


def critic_count(width, c_in, num_classes=0):
  """Optimised block (conv3x3, conv3x3, conv1x1 shortcut), down block (the same from width), two blocks of two
  conv3x3 with identity shortcuts, linear to 1 (+ the projection's class embedding)."""
  first = conv(3, c_in, width) + conv(3, width, width) + conv(1, c_in, width)
  down = 2 * conv(3, width, width) + conv(1, width, width)
  return first + down + 2 * 2 * conv(3, width, width) + dense(width, 1) + num_classes * width


def test_parameter_counts_of_the_papers_nets():
  # SNGAN CIFAR-10 (Miyato et al. 2018, Table 4): G 256 channels, D 128 channels.
  g = nets.build_generator(_cfg(name="resnet", base_features=256), (32, 32, 3))
  assert _count(_shapes(g, jnp.zeros((1, 128)))[0]) == generator_count(128, 256, 4, 3, 3) == 4_276_739
  d = nets.build_critic(_cfg(name="resnet", base_features=128, spectral_norm=True))
  d_params, d_state = _shapes(d, jnp.zeros((1, 32, 32, 3)))
  assert _count(d_params) == critic_count(128, 3) == 1_053_825
  assert d_state  # spectral norm keeps its power-iteration vectors as state, not parameters
  # WGAN-GP CIFAR-10 ResNet (Gulrajani et al. 2017, Appendix F, gan_cifar_resnet.py): 128 channels in both.
  g = nets.build_generator(_cfg(name="resnet", base_features=128), (32, 32, 3))
  assert _count(_shapes(g, jnp.zeros((1, 128)))[0]) == generator_count(128, 128, 4, 3, 3) == 1_204_483
  d = nets.build_critic(_cfg(name="resnet", base_features=128, pooling="mean"))
  d_params, d_state = _shapes(d, jnp.zeros((1, 32, 32, 3)))
  assert _count(d_params) == critic_count(128, 3) and d_state == {}


def test_parameter_counts_28x28_and_conditional():
  g = nets.build_generator(_cfg(name="resnet", base_features=256), (28, 28, 1))
  assert _count(_shapes(g, jnp.zeros((1, 128)))[0]) == generator_count(128, 256, 7, 2, 1)
  d = nets.build_critic(_cfg(name="resnet", base_features=128))
  assert _count(_shapes(d, jnp.zeros((1, 28, 28, 1)))[0]) == critic_count(128, 1)
  labels = jnp.zeros((1,), jnp.int32)
  g = nets.build_generator(_cfg(name="conditional_resnet", base_features=32), (32, 32, 3), num_classes=10)
  assert _count(_shapes(g, (jnp.zeros((1, 128)), labels))[0]) == generator_count(128, 32, 4, 3, 3, num_classes=10)
  d = nets.build_critic(_cfg(name="conditional_resnet", base_features=32), num_classes=10)
  assert _count(_shapes(d, (jnp.zeros((1, 32, 32, 3)), labels))[0]) == critic_count(32, 3, num_classes=10)


# An independent forward pass, written from the architecture description (the shortcut of an up block upsamples
# *before* its 1x1 conv, as in the papers' code).
def _conv(x, p):
  return (
    lax.conv_general_dilated(x, p["kernel"], (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + p["bias"]
  )


def _pool(x):
  b, h, w, c = x.shape
  return x.reshape(b, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _up(x):
  rows, cols = jnp.arange(2 * x.shape[1]) // 2, jnp.arange(2 * x.shape[2]) // 2
  return x[:, rows][:, :, cols]


def _bn(x, p):  # training mode: the batch's statistics, flax's epsilon
  mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
  return (x - mean) / jnp.sqrt(var + 1e-5) * p["scale"] + p["bias"]


relu = jax.nn.relu


def reference_critic(p, x, pooling):
  b = p["CriticBlock_0"]
  h = _pool(_conv(relu(_conv(x, b["Conv_0"])), b["Conv_1"])) + _conv(_pool(x), b["Conv_2"])
  b = p["CriticBlock_1"]
  h = _pool(_conv(relu(_conv(relu(h), b["Conv_0"])), b["Conv_1"])) + _pool(_conv(h, b["Conv_2"]))
  for name in ("CriticBlock_2", "CriticBlock_3"):
    h = h + _conv(relu(_conv(relu(h), p[name]["Conv_0"])), p[name]["Conv_1"])
  phi = relu(h).sum(axis=(1, 2)) if pooling == "sum" else relu(h).mean(axis=(1, 2))
  return (phi @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])[:, 0]


def reference_generator(p, z, width):
  h = (z @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]).reshape(z.shape[0], 4, 4, width)
  for i in range(3):
    b = p[f"GeneratorBlock_{i}"]
    t = _conv(_up(relu(_bn(h, b["BatchNorm_0"]))), b["Conv_0"])
    t = _conv(relu(_bn(t, b["BatchNorm_1"])), b["Conv_1"])
    h = t + _conv(_up(h), b["Conv_2"])
  return jnp.tanh(_conv(relu(_bn(h, p["BatchNorm_0"])), p["Conv_0"]))


def _random_variables(net, *inputs, seed=0):
  """Random parameters (and zero state) of `net`'s shapes, without compiling its initialisers: every leaf is away
  from its usual initial value (BatchNorm's scale 1 and offsets 0 would hide mistakes)."""
  params, state = _shapes(net, *inputs)
  leaves, tree = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(seed), len(leaves))
  params = jax.tree.unflatten(tree, [0.2 * jax.random.normal(k, x.shape, x.dtype) for x, k in zip(leaves, keys)])
  return params, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), state)


@pytest.mark.parametrize("pooling", ["sum", "mean"])
def test_critic_matches_reference(pooling):
  d = nets.build_critic(_cfg(name="resnet", base_features=8, pooling=pooling))
  x = jax.random.uniform(jax.random.key(1), (2, 32, 32, 3), minval=-1, maxval=1)
  params, _ = _random_variables(d, x)
  out, expected = jax.jit(lambda p, x: (d.apply(p, {}, x, True)[0], reference_critic(p, x, pooling)))(params, x)
  chex.assert_shape(out, (2,))
  chex.assert_trees_all_close(out, expected, atol=1e-4, rtol=1e-4)


def test_generator_matches_reference():
  g = nets.build_generator(_cfg(name="resnet", base_features=8), (32, 32, 3))
  z = jax.random.normal(jax.random.key(1), (3, 16))
  params, state = _random_variables(g, z)
  (out, new_state), expected = jax.jit(lambda p, s, z: (g.apply(p, s, z, True), reference_generator(p, z, 8)))(
    params, state, z
  )
  chex.assert_shape(out, (3, 32, 32, 3))
  chex.assert_trees_all_close(out, expected, atol=1e-4)
  assert not np.allclose(new_state["batch_stats"]["BatchNorm_0"]["mean"], 0)  # running statistics move


def test_conditional_nets_use_the_labels():
  g = nets.build_generator(_cfg(name="conditional_resnet", base_features=4), (32, 32, 3), num_classes=3)
  d = nets.build_critic(_cfg(name="conditional_resnet", base_features=4), num_classes=3)
  # The same z and the same image under two labels.
  z = jnp.tile(jax.random.normal(jax.random.key(1), (1, 8)), (2, 1))
  labels = jnp.array([0, 2])
  g_vars = _random_variables(g, (z, labels))
  d_vars = _random_variables(d, (jnp.zeros((2, 32, 32, 3)), labels), seed=1)

  @jax.jit
  def run(g_vars, d_vars):
    x, _ = g.apply(*g_vars, (z, labels), True)
    return x, d.apply(*d_vars, (jnp.tile(x[:1], (2, 1, 1, 1)), labels), False)[0]

  x, scores = run(g_vars, d_vars)
  chex.assert_shape(scores, (2,))
  assert not np.allclose(x[0], x[1]) and scores[0] != scores[1]


def test_bad_inputs_raise():
  with pytest.raises(ValueError, match=r"sides \(28, 32\); got 64"):
    g = nets.build_generator(_cfg(name="resnet", base_features=4), (64, 64, 3))
    g.init(jax.random.key(0), jnp.zeros((1, 8)))
  with pytest.raises(ValueError, match="config.critic.pooling"):
    d = nets.build_critic(_cfg(name="resnet", base_features=4, pooling="max"))
    d.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  with pytest.raises(ValueError, match="unconditional but config.num_classes = 10"):
    nets.build_critic(_cfg(name="resnet"), num_classes=10)


def _config(name):
  return importlib.import_module(f"experiments.configs.{name}").get_config()


def test_configs_follow_the_papers():
  sngan = _config("sngan_cifar10")
  assert (sngan.loss, sngan.n_critic, sngan.batch_size, sngan.latent_dim) == ("hinge", 5, 64, 128)
  assert (sngan.critic.name, sngan.critic.spectral_norm, sngan.critic.pooling) == ("resnet", True, "sum")
  assert (sngan.generator.base_features, sngan.critic.base_features) == (256, 128)
  wgan = _config("wgan_gp_resnet_cifar10")
  assert (wgan.loss, wgan.penalty, wgan.penalty_weight, wgan.n_critic) == ("wgan", "gradient_penalty", 10.0, 5)
  assert (wgan.critic.spectral_norm, wgan.critic.pooling, wgan.generator.base_features) == (False, "mean", 128)
  for c in (sngan, wgan, _config("sngan_mnist")):
    for opt in (c.g_optimizer, c.d_optimizer):
      assert (opt.name, opt.learning_rate, opt.b1, opt.b2) == ("adam", 2e-4, 0.0, 0.9)
  # WGAN-GP decays both learning rates linearly to 0 over 100k generator updates (5 critic updates each).
  g_lr = optim.learning_rate_schedule(wgan.g_optimizer)
  d_lr = optim.learning_rate_schedule(wgan.d_optimizer)
  np.testing.assert_allclose([g_lr(0), g_lr(50_000), g_lr(100_000)], [2e-4, 1e-4, 0.0], atol=1e-12)
  np.testing.assert_allclose([d_lr(0), d_lr(250_000), d_lr(500_000)], [2e-4, 1e-4, 0.0], atol=1e-12)


def test_conditional_sngan_trains_two_steps():
  # The unconditional configs train a step in tests/test_configs.py; this is the class-conditional form.
  config = _config("sngan_cifar10")
  config.num_classes = 10
  config.n_critic = 1
  config.batch_size = 2
  # XLA's convolutions: the fast CPU gradients (tests/test_conv.py) compile longer, which a 2-step test does not repay.
  config.generator = _cfg(name="conditional_resnet", base_features=4, conv_impl="xla")
  config.critic = _cfg(name="conditional_resnet", base_features=4, spectral_norm=True, conv_impl="xla")
  gan = build_gan(config)
  state = init_state(gan, jax.random.key(0))
  step = jax.jit(make_train_step(gan))
  for i in range(2):
    images = jax.random.uniform(jax.random.key(10 + i), (1, 2, 32, 32, 3), minval=-1, maxval=1)
    labels = jax.random.randint(jax.random.key(20 + i), (1, 2), 0, 10)
    state, metrics = step(state, (images, labels), jax.random.key(i))
  assert int(state.step) == 2
  assert all(np.isfinite(float(v)) for v in metrics.values())
