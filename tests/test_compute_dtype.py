"""config.compute_dtype = 'bfloat16': the nets compute in bfloat16 while parameters, optimiser states, net state and
every loss stay float32; a few train steps give losses close to float32's."""

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from jax.extend import core as jax_core

from experiments.configs import wgan_gp_toy
from jaxgan import nets
from jaxgan.data import data_shape
from jaxgan.train import build_gan, init_state, make_train_step

HEAVY_OPS = ("dot_general", "conv_general_dilated")


def _equations(jaxpr):
  """Every equation of `jaxpr` and of the jaxprs nested in it (jit, scan, custom_vjp, ...)."""
  for eqn in jaxpr.eqns:
    yield eqn
    for value in eqn.params.values():
      for sub in value if isinstance(value, (tuple, list)) else (value,):
        if isinstance(sub, jax_core.ClosedJaxpr):
          yield from _equations(sub.jaxpr)
        elif isinstance(sub, jax_core.Jaxpr):
          yield from _equations(sub)


def _heavy_ops(jaxpr) -> list[tuple[str, tuple[str, ...], tuple[tuple[int, ...], ...]]]:
  """(primitive, operand dtypes, operand shapes) of every matmul and convolution in `jaxpr`."""
  return [
    (e.primitive.name, tuple(str(v.aval.dtype) for v in e.invars), tuple(v.aval.shape for v in e.invars))
    for e in _equations(jaxpr)
    if e.primitive.name in HEAVY_OPS
  ]


def _is_power_iteration(op) -> bool:
  """Spectral norm's power iteration, kept in float32 on purpose: a float32 matmul with a [1, n] vector operand."""
  _, dtypes, shapes = op
  return op[0] == "dot_general" and set(dtypes) == {"float32"} and shapes[0][0] == 1


def test_compute_dtype_is_validated():
  config = wgan_gp_toy.get_config()
  assert config.compute_dtype == "float32"
  config.compute_dtype = "float16"
  with pytest.raises(ValueError, match=r"config.compute_dtype='float16'.*bfloat16"):
    build_gan(config)
  with pytest.raises(ValueError, match="config.compute_dtype"):
    nets.build_critic(ml_collections.ConfigDict({"name": "mlp", "dtype": "bfloat16"}))


def _cfg(**fields):
  return ml_collections.ConfigDict(fields)


# (kind, net config, net input) for every registered net, tiny; B = 4. Spectral norm is on where a net has it.
_B = 2
_Z = jnp.zeros((_B, 3))
_IMG = jnp.zeros((_B, 28, 28, 1))
_LABELS = jnp.zeros((_B,), jnp.int32)
NETS = {
  "g/mlp": ("generator", _cfg(name="mlp", features=(8,), batch_norm=True), _Z, (2,)),
  "g/dcgan": ("generator", _cfg(name="dcgan", conv_impl="xla", base_features=8), _Z, (28, 28, 1)),
  "g/conditional": (
    "generator",
    _cfg(name="conditional", backbone="dcgan", conv_impl="xla", base_features=8),
    (_Z, _LABELS),
    (28, 28, 1),
  ),
  "g/zoo_mlp": ("generator", _cfg(name="zoo_mlp", base_features=8, num_layers=2), _Z, (4, 4, 1)),
  "g/zoo_dcgan": (
    "generator",
    _cfg(name="zoo_dcgan", conv_impl="xla", base_features=8, upsample="subpixel"),
    _Z,
    (8, 8, 1),
  ),
  "g/resnet": ("generator", _cfg(name="resnet", conv_impl="xla", base_features=8), _Z, (28, 28, 1)),
  "g/conditional_resnet": (
    "generator",
    _cfg(name="conditional_resnet", conv_impl="xla", base_features=8),
    (_Z, _LABELS),
    (28, 28, 1),
  ),
  "d/mlp": ("critic", _cfg(name="mlp", features=(8,), spectral_norm=True), _IMG, None),
  "d/mlp_maxout": ("critic", _cfg(name="mlp", features=(8,), maxout_pieces=2, input_dropout=0.2), _IMG, None),
  "d/dcgan": (
    "critic",
    _cfg(name="dcgan", conv_impl="xla", base_features=8, norm="layer", spectral_norm=True),
    _IMG,
    None,
  ),
  "d/tgan": (
    "critic",
    _cfg(name="tgan", encoder="dcgan", base_features=8, embedding=8, head_features=(8,)),
    None,
    None,
  ),
  "d/conditional": (
    "critic",
    _cfg(name="conditional", backbone="dcgan", conv_impl="xla", base_features=8, embedding=8),
    None,
    None,
  ),
  "d/conditional_concat": ("critic", _cfg(name="conditional", conditioning="concat", features=(8,)), None, None),
  "d/zoo_dcgan": ("critic", _cfg(name="zoo_dcgan", conv_impl="xla", base_features=8), _IMG, None),
  "d/resnet": ("critic", _cfg(name="resnet", conv_impl="xla", base_features=8, spectral_norm=True), _IMG, None),
  "d/conditional_resnet": ("critic", _cfg(name="conditional_resnet", conv_impl="xla", base_features=8), None, None),
  "d/ssgan": ("critic", _cfg(name="ssgan", features=(8,), weight_norm=True, hidden_noise=0.5, classes=3), _IMG, None),
  "d/acgan": ("critic", _cfg(name="acgan", backbone="dcgan", base_features=8, embedding=8), None, None),
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_every_net_computes_in_bfloat16_and_returns_float32(name):
  kind, config, x, output_shape = NETS[name]
  conditional = config.name in ("conditional", "conditional_resnet", "acgan")
  num_classes = 3 if conditional else 0
  if kind == "generator":
    net = nets.build_generator(config, output_shape, num_classes=num_classes, dtype=jnp.bfloat16)
  else:
    net = nets.build_critic(config, num_classes=num_classes, dtype=jnp.bfloat16)
    if x is None:
      x = (_IMG, _LABELS) if conditional else jnp.zeros((2, _B, 28, 28, 1))  # the T-GAN critic's (real, fake) pair
  key = jax.random.key(0)
  params, state = jax.eval_shape(net.init, key, x)
  apply = lambda params, state: net.apply(params, state, x, True, key)
  # The forward pass only: a layer built without the dtype would run in float32 here (flax promotes bfloat16 inputs
  # and float32 kernels to float32), and its backward pass runs in the forward's dtypes.
  ops = _heavy_ops(jax.make_jaxpr(apply)(params, state).jaxpr)
  assert ops
  spectral = bool(config.get("spectral_norm", name == "d/tgan"))
  assert [op for op in ops if not (set(op[1]) == {"bfloat16"} or (spectral and _is_power_iteration(op)))] == []
  assert spectral == any(_is_power_iteration(op) for op in ops)
  out, new_state = jax.eval_shape(apply, params, state)
  dtypes = lambda tree: {str(leaf.dtype) for leaf in jax.tree.leaves(tree)}
  assert dtypes(params) == {"float32"}
  assert dtypes(out) == {"float32"}  # the net boundary casts back
  assert dtypes(new_state) <= {"float32"}  # BatchNorm and spectral-norm statistics


def _shrink(config, name: str):
  config.batch_size = 4
  config.n_critic = 1
  if name == "dcgan":
    config.generator.base_features = 8
    config.critic.base_features = 8
  else:
    config.generator.features = (8, 8)
    config.critic.features = (8, 8)
  return config


# A gradient penalty through bfloat16 nets. Convolutions in bfloat16 are checked by tracing every net above and by
# tests/test_export.py's bfloat16 DCGAN step; training a DCGAN here would cost four convolutional step compiles.
CONFIGS = {"mlp": wgan_gp_toy}
# |loss_bf16 - loss_f32| <= ATOL + RTOL * |loss_f32| after 3 steps: bfloat16 keeps 8 significant bits (2^-8 = 0.4%).
ATOL, RTOL = 0.02, 0.05


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_bfloat16_train_steps_stay_close_to_float32(name):
  results = {}
  state0 = batches = None
  for compute_dtype in ("float32", "bfloat16"):
    config = _shrink(CONFIGS[name].get_config(), name)
    config.compute_dtype = compute_dtype
    gan = build_gan(config)
    if state0 is None:
      # One initial state for both runs: the parameters are float32 and the same whatever the compute dtype.
      state0 = init_state(gan, jax.random.key(0))
      shape = (config.n_critic, config.batch_size, *data_shape(config.data))  # any data do: the numbers are tested
      batches = [jax.random.uniform(jax.random.key(i), shape, minval=-1, maxval=1) for i in range(3)]
    traced = jax.jit(make_train_step(gan)).trace(state0, batches[0], jax.random.key(2))
    ops = _heavy_ops(traced.jaxpr.jaxpr)
    assert ops and {dtype for op in ops for dtype in op[1]} == {compute_dtype}
    step = traced.lower().compile()
    state, history = state0, []
    for batch in batches:
      state, metrics = step(state, batch, jax.random.key(2))
      history.append(jax.device_get(metrics))
    leaves = jax.tree.leaves((state.g_params, state.g_state, state.g_opt_state, state.d_params, state.d_opt_state))
    assert {leaf.dtype for leaf in leaves if jnp.issubdtype(leaf.dtype, jnp.floating)} == {jnp.dtype("float32")}
    assert all(math.isfinite(float(v)) for m in history for v in m.values())
    results[compute_dtype] = history
  for f32, bf16 in zip(results["float32"], results["bfloat16"]):
    for metric in ("critic_loss", "generator_loss", "gradient_penalty"):
      np.testing.assert_allclose(bf16[metric], f32[metric], atol=ATOL, rtol=RTOL, err_msg=metric)
  last = (results["float32"][-1], results["bfloat16"][-1])
  assert any(last[0][m] != last[1][m] for m in ("critic_loss", "generator_loss"))  # bfloat16 did change the numbers
