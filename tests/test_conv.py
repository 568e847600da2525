"""jaxgan.nets.conv: values, first and second reverse-mode derivatives equal XLA's convolution's; the flax drop-ins
hold flax's parameters and compute flax's outputs; the DCGAN nets compute the same function with either impl."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import pytest
from jax import lax

from jaxgan import nets
from jaxgan.nets import conv
from jaxgan.nets.zoo import _upsample_conv_subpixel

NHWC = ("NHWC", "HWIO", "NHWC")
TOL = dict(atol=1e-5, rtol=1e-5)
TOL2 = dict(atol=1e-3, rtol=1e-3)  # second derivatives: longer float32 sums in different orders


def _reference(x, kernel, strides, padding, lhs_dilation=(1, 1)):
  """XLA's convolution; negative padding applied as a crop first (XLA's own gradient gets it wrong, see below)."""
  if not isinstance(padding, str):
    (top, bottom), (left, right) = padding
    x = x[:, max(-top, 0) : x.shape[1] - max(-bottom, 0), max(-left, 0) : x.shape[2] - max(-right, 0)]
    padding = tuple((max(lo, 0), max(hi, 0)) for lo, hi in padding)
  return lax.conv_general_dilated(x, kernel, strides, padding, lhs_dilation=lhs_dilation, dimension_numbers=NHWC)


def _fast(strides, padding, lhs_dilation=(1, 1)):
  return lambda x, kernel: conv.conv2d(x, kernel, strides, padding, lhs_dilation, impl="fast")


def _loss(f):
  """A non-linear scalar of the output, so every output pixel gets its own cotangent."""
  return lambda x, kernel: jnp.sum(jnp.sin(f(x, kernel)))


def _penalty(f):
  """A function of both first derivatives, to be differentiated again (WGAN-GP's penalty uses the input one)."""

  def penalty(x, kernel):
    grad_x, grad_kernel = jax.grad(_loss(f), (0, 1))(x, kernel)
    return jnp.sum(grad_x**2) + jnp.sum(grad_kernel**2)

  return penalty


def _inputs(x_shape, kernel_shape):
  kx, kk = jax.random.split(jax.random.key(0))
  return jax.random.normal(kx, x_shape), jax.random.normal(kk, kernel_shape) * 0.3


# (x shape, kernel shape, strides, padding, lhs dilation): the nets' layers at toy size, odd sizes, 1x1 and 2x2
# kernels, asymmetric and negative padding, transposed convolutions with kernels shorter than their stride.
CASES = [
  ((2, 8, 8, 8), (3, 3, 8, 8), (1, 1), "SAME", (1, 1)),
  ((2, 7, 9, 8), (3, 3, 8, 16), (2, 2), ((1, 1), (1, 1)), (1, 1)),
  ((2, 7, 7, 8), (4, 4, 8, 16), (2, 2), "SAME", (1, 1)),
  ((2, 6, 5, 8), (2, 3, 8, 8), (1, 2), "VALID", (1, 1)),
  ((2, 5, 6, 8), (2, 2, 8, 8), (1, 1), ((1, 0), (0, 1)), (1, 1)),
  ((2, 5, 6, 8), (1, 1, 8, 8), (1, 1), ((1, 0), (2, -1)), (1, 1)),
  ((2, 6, 6, 8), (3, 3, 8, 8), (3, 3), ((0, 2), (1, 1)), (1, 1)),
  ((2, 7, 7, 8), (3, 3, 8, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),  # 3 outputs: XLA's convolution throughout
  ((2, 4, 4, 8), (4, 4, 8, 8), (1, 1), ((2, 2), (2, 2)), (2, 2)),  # ConvTranspose 4x4/2 'SAME'
  ((2, 5, 4, 8), (3, 3, 8, 8), (1, 1), ((2, 2), (1, 2)), (2, 2)),
  ((2, 4, 5, 8), (2, 3, 8, 8), (1, 1), ((1, 1), (0, 2)), (3, 2)),
  ((2, 4, 4, 8), (1, 1, 8, 8), (1, 1), ((0, 0), (0, 0)), (2, 2)),  # phases with no taps
]


@pytest.mark.parametrize("x_shape, kernel_shape, strides, padding, dilation", CASES)
def test_conv2d_values_and_gradients_match_xla(x_shape, kernel_shape, strides, padding, dilation):
  x, kernel = _inputs(x_shape, kernel_shape)
  reference = lambda x, k: _reference(x, k, strides, padding, dilation)
  fast = _fast(strides, padding, dilation)
  chex.assert_trees_all_close(jax.jit(fast)(x, kernel), reference(x, kernel), **TOL)
  chex.assert_trees_all_close(
    jax.jit(jax.grad(_loss(fast), (0, 1)))(x, kernel), jax.jit(jax.grad(_loss(reference), (0, 1)))(x, kernel), **TOL
  )


@pytest.mark.parametrize("chunk_bytes", [2000, 4500])  # 5 chunks of 1 image; 2 chunks of 3 (one a zero image)
def test_kernel_gradient_over_batch_chunks_matches_xla(monkeypatch, chunk_bytes):
  monkeypatch.setattr(conv, "_CHUNK_BYTES", chunk_bytes)  # padded images here are 8 * 8 * 8 * 4 = 2048 bytes
  x, kernel = _inputs((5, 6, 6, 8), (3, 3, 8, 8))
  reference = lambda x, k: _reference(x, k, (1, 1), "SAME")
  chex.assert_trees_all_close(
    jax.jit(jax.grad(_loss(_fast((1, 1), "SAME")), 1))(x, kernel),
    jax.jit(jax.grad(_loss(reference), 1))(x, kernel),
    **TOL,
  )
  chex.assert_trees_all_close(
    jax.jit(jax.grad(_penalty(_fast((1, 1), "SAME")), 1))(x, kernel),
    jax.jit(jax.grad(_penalty(reference), 1))(x, kernel),
    **TOL2,
  )
  assert conv._batch_chunk(2048, 5) == {2000: 1, 4500: 3}[chunk_bytes]


@pytest.mark.parametrize("x_shape, kernel_shape, strides, padding, dilation", CASES[:3] + CASES[8:9])
def test_conv2d_second_derivatives_match_xla(x_shape, kernel_shape, strides, padding, dilation):
  x, kernel = _inputs(x_shape, kernel_shape)
  reference = lambda x, k: _reference(x, k, strides, padding, dilation)
  got = jax.jit(jax.grad(_penalty(_fast(strides, padding, dilation)), (0, 1)))(x, kernel)
  chex.assert_trees_all_close(got, jax.jit(jax.grad(_penalty(reference), (0, 1)))(x, kernel), **TOL2)


def _conv_windows(f, *args):
  """Window sizes ('3x3', ...) of the convolutions XLA compiles for f(*args)."""
  hlo = jax.jit(f).lower(*args).compile().as_text()
  return {
    line.split("window={size=")[1].split()[0].rstrip("},")
    for line in hlo.splitlines()
    if " convolution(" in line and "window={size=" in line
  }


def test_fast_backward_avoids_xla_kernel_gradient_convolution():
  # The point of the module: no convolution whose window is the output map (XLA's kernel gradient) in the backward.
  x, kernel = _inputs((2, 8, 8, 16), (3, 3, 16, 16))
  assert _conv_windows(jax.grad(_loss(_fast((1, 1), "SAME")), 1), x, kernel) == {"3x3"}
  assert "8x8" in _conv_windows(jax.grad(_loss(lambda x, k: _reference(x, k, (1, 1), "SAME")), 1), x, kernel)


def test_xla_negative_padding_gradient_is_why_the_reference_crops():
  # lax.conv_general_dilated's input gradient with negative padding differs from the crop it stands for (JAX 0.10);
  # if this starts failing, XLA fixed it and `_reference` can pass negative padding straight through.
  x, kernel = _inputs((2, 5, 6, 8), (1, 1, 8, 8))
  padding = ((1, 0), (2, -1))
  direct = jax.grad(_loss(lambda x, k: lax.conv_general_dilated(x, k, (1, 1), padding, dimension_numbers=NHWC)))
  cropped = jax.grad(_loss(lambda x, k: _reference(x, k, (1, 1), padding)))
  assert not jnp.allclose(direct(x, kernel), cropped(x, kernel), atol=1e-3)
  chex.assert_trees_all_close(jax.grad(_loss(_fast((1, 1), padding)))(x, kernel), cropped(x, kernel), **TOL)


def test_impl_names():
  assert conv.resolve_impl("auto") == ("fast" if jax.default_backend() == "cpu" else "xla")
  assert conv.resolve_impl("xla") == "xla"
  with pytest.raises(ValueError, match="conv impl"):
    conv.resolve_impl("cudnn")
  with pytest.raises(ValueError, match="conv impl"):
    conv.Conv(4, (3, 3), impl="im2col")


@pytest.mark.parametrize(
  "kwargs",
  [
    dict(kernel_size=(3, 3)),
    dict(kernel_size=(4, 4), strides=(2, 2)),
    dict(kernel_size=(3, 3), strides=(2, 2), padding=((1, 1), (1, 1))),
    dict(kernel_size=(3, 3), padding="VALID", use_bias=False),
  ],
)
def test_conv_module_is_flax_conv(kwargs):
  x = jax.random.normal(jax.random.key(0), (2, 9, 9, 3))
  ours, theirs = conv.Conv(8, impl="fast", **kwargs), nn.Conv(8, **kwargs)
  params = theirs.init(jax.random.key(1), x)
  chex.assert_trees_all_equal(ours.init(jax.random.key(1), x), params)  # same names, shapes and initial values
  loss = lambda module: lambda p, x: jnp.sum(jnp.sin(module.apply(p, x)))
  chex.assert_trees_all_close(ours.apply(params, x), theirs.apply(params, x), **TOL)
  chex.assert_trees_all_close(jax.grad(loss(ours), (0, 1))(params, x), jax.grad(loss(theirs), (0, 1))(params, x), **TOL)


@pytest.mark.parametrize(
  "kwargs",
  [
    dict(kernel_size=(4, 4), strides=(2, 2)),
    dict(kernel_size=(3, 3), strides=(2, 2), padding="VALID"),
    dict(kernel_size=(4, 4), strides=(2, 2), padding=((2, 1), (1, 2))),
    dict(kernel_size=(3, 3), strides=(2, 2), transpose_kernel=True, use_bias=False),
  ],
)
def test_conv_transpose_module_is_flax_conv_transpose(kwargs):
  x = jax.random.normal(jax.random.key(0), (2, 5, 6, 8))
  ours, theirs = conv.ConvTranspose(8, impl="fast", **kwargs), nn.ConvTranspose(8, **kwargs)
  params = theirs.init(jax.random.key(1), x)
  chex.assert_trees_all_equal(ours.init(jax.random.key(1), x), params)
  loss = lambda module: lambda p, x: jnp.sum(jnp.sin(module.apply(p, x)))
  chex.assert_trees_all_close(ours.apply(params, x), theirs.apply(params, x), **TOL)
  chex.assert_trees_all_close(jax.grad(loss(ours), (0, 1))(params, x), jax.grad(loss(theirs), (0, 1))(params, x), **TOL)


def test_subpixel_upsample_conv_fast_matches_xla():
  x, kernel = _inputs((2, 5, 6, 8), (3, 3, 8, 8))
  fast = lambda x, k: _upsample_conv_subpixel(x, k, "fast")
  xla = lambda x, k: _upsample_conv_subpixel(x, k, "xla")
  chex.assert_trees_all_close(fast(x, kernel), xla(x, kernel), **TOL)
  chex.assert_trees_all_close(jax.grad(_loss(fast), (0, 1))(x, kernel), jax.grad(_loss(xla), (0, 1))(x, kernel), **TOL)


def _net_pair(kind, fields, shape):
  build = nets.build_generator if kind == "generator" else nets.build_critic
  extra = (shape,) if kind == "generator" else ()
  return [build(ml_collections.ConfigDict({**fields, "conv_impl": impl}), *extra) for impl in ("xla", "fast")]


# 8 base features: layers narrower than conv._MIN_FEATURES channels stay XLA's, so the nets' inner layers take the fast
# form and their input and output layers XLA's.
@pytest.mark.parametrize(
  "kind, fields, in_shape, out_shape",
  [
    ("generator", {"name": "dcgan", "base_features": 8, "upsample": "transpose"}, (2, 8), (28, 28, 1)),
    ("generator", {"name": "dcgan", "base_features": 8, "upsample": "resize"}, (2, 8), (32, 32, 3)),
    ("critic", {"name": "dcgan", "base_features": 8, "batch_norm": True}, (2, 28, 28, 1), None),
    ("generator", {"name": "zoo_dcgan", "base_features": 8, "upsample": "subpixel"}, (2, 8), (16, 16, 1)),
    ("critic", {"name": "zoo_dcgan", "base_features": 8, "dropout_rate": 0.0}, (2, 32, 32, 1), None),
  ],
)
def test_nets_same_function_with_either_impl(kind, fields, in_shape, out_shape):
  xla, fast = _net_pair(kind, fields, out_shape)
  x = jax.random.normal(jax.random.key(0), in_shape)
  params, state = xla.init(jax.random.key(1), x)
  chex.assert_trees_all_equal(fast.init(jax.random.key(1), x), (params, state))

  def outputs_and_grads(net):
    def loss(params, x):
      y = net.apply(params, state, x, True)[0]
      return jnp.sum(jnp.sin(y)), y

    return jax.jit(jax.value_and_grad(loss, (0, 1), has_aux=True))(params, x)

  chex.assert_trees_all_close(outputs_and_grads(fast), outputs_and_grads(xla), atol=1e-4, rtol=1e-4)


def test_critic_gradient_penalty_nested_grad_matches_xla():
  # WGAN-GP differentiates the critic's input gradient w.r.t. the critic's parameters (grad of grad); spectral
  # normalisation wraps the convolution modules.
  xla, fast = _net_pair("critic", {"name": "dcgan", "base_features": 8, "norm": "layer", "spectral_norm": True}, None)
  x = jax.random.normal(jax.random.key(0), (2, 28, 28, 1))
  params, state = xla.init(jax.random.key(1), x)

  def penalty(net):
    def fn(params):
      grads = jax.grad(lambda x: jnp.sum(net.apply(params, state, x, True)[0]))(x)
      return jnp.mean((jnp.sqrt(jnp.sum(grads**2, axis=(1, 2, 3))) - 1.0) ** 2)

    return fn

  chex.assert_trees_all_close(
    jax.jit(jax.value_and_grad(penalty(fast)))(params), jax.jit(jax.value_and_grad(penalty(xla)))(params), **TOL2
  )
