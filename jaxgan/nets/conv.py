"""2-D convolutions whose gradients are fast on XLA:CPU, as drop-ins for `lax.conv_general_dilated` and flax's
`nn.Conv` / `nn.ConvTranspose` (same parameters, names and shapes, so checkpoints and parameter counts do not move).

XLA:CPU computes forward convolutions well, but the convolutions that `jax.grad` derives from them poorly: the kernel
gradient is a convolution whose window is the whole output map (0.62 s against 0.17 s for the forward pass of a 3x3
conv 32x32x128 -> 64 at batch 64 on 2 cores), and a convolution that dilates its input (a transposed convolution, or
the input gradient of a strided one) misses XLA's fast kernels (the kernel gradient of the DCGAN generator's 4x4
stride-2 transposed conv 7x7x128 -> 64 takes 30x its forward pass). Here the same derivatives are computed in other
exact forms (`jax.custom_vjp`):

* Kernel gradient: for each kernel tap (p, q), dk[p, q] = x_view(p, q)^T dy, one matmul per tap, where
  x_view(p, q)[b, i, j] = x_padded[b, s * i + p, s * j + q] (a strided slice, not the kh * kw copies of im2col).
  The matmuls run over chunks of the batch in a loop, so each chunk's views are used while in cache, and as
  dy^T x_view with dy^T materialised, the operand order XLA:CPU multiplies fastest.
* Input gradient: the convolution of dy dilated by the stride with the flipped kernel (the textbook identity).
* A convolution with input dilation d is split into its d * d output phases: output pixel d * i + r only meets the
  taps p = p0(r) + d * j, so each phase is a stride-1 convolution of the undilated input with a sub-kernel. Its input
  gradient is a stride-d convolution of dy with the flipped kernel, and its kernel gradient slices the views that
  several phases share once.

The backward passes are built from forward convolutions, slices and matmuls, all differentiable, so `jax.grad` of a
function of `jax.grad` (the gradient penalty of WGAN-GP) stays on these paths. What is lost is forward-mode
differentiation (`jax.jvp`, `jax.jacfwd`) of the 'fast' form, which `jax.custom_vjp` does not support: use
`impl='xla'` there. Layers with fewer than 8 input or output channels (an image's), where the matmuls become
matrix-vector products, stay XLA's convolutions.

`impl='auto'` takes the fast form on the CPU backend only; on GPU and TPU the vendor libraries compute these
derivatives well, and `lax.conv_general_dilated` is used unchanged. Per-layer timings: `benchmarks/conv_layers.py`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

IMPLS = ("auto", "xla", "fast")
_NHWC = ("NHWC", "HWIO", "NHWC")
# Below this many input or output channels the matmuls are matrix-vector products, slower on XLA:CPU than its own
# convolutions (e.g. the 64 -> 1 output layers, 1 -> 16 input layers): such layers stay XLA's.
_MIN_FEATURES = 8
_CHUNK_BYTES = 1 << 20  # padded input per batch chunk of the kernel gradient: best of 0.2-5 MB on the DCGAN layers
Pads = tuple[tuple[int, int], tuple[int, int]]


def resolve_impl(impl: str) -> str:
  """'xla' or 'fast': 'auto' is 'fast' on the CPU backend and 'xla' elsewhere.

  Raises:
    ValueError: for an unknown `impl`.
  """
  if impl not in IMPLS:
    raise ValueError(f"Unknown conv impl {impl!r}; choose one of {IMPLS}.")
  if impl == "auto":
    return "fast" if jax.default_backend() == "cpu" else "xla"
  return impl


# ------------------------------------------------------------------------------------------------ the fast form


def _pad_or_crop(x: jax.Array, pads: Pads) -> jax.Array:
  """x [B, H, W, C] zero-padded (or, for negative entries, cropped) by pads ((top, bottom), (left, right))."""
  config = ((0, 0, 0), (*pads[0], 0), (*pads[1], 0), (0, 0, 0))
  return lax.pad(x, jnp.zeros((), x.dtype), config)


def _xla_conv(x: jax.Array, kernel: jax.Array, strides: tuple[int, int], pads: Pads) -> jax.Array:
  """XLA's convolution, negative padding applied as a crop first: XLA:CPU returns wrong values (even uninitialised
  memory) for some convolutions with negative padding, and wrong gradients for others."""
  crop = tuple((min(lo, 0), min(hi, 0)) for lo, hi in pads)
  if crop != ((0, 0), (0, 0)):
    x = _pad_or_crop(x, crop)
  pads = tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads)
  return lax.conv_general_dilated(x, kernel, strides, pads, dimension_numbers=_NHWC)


def _flip(kernel: jax.Array) -> jax.Array:
  """The kernel of the transposed convolution: spatially flipped, input and output channels exchanged."""
  return jnp.swapaxes(kernel[::-1, ::-1], 2, 3)


def _batch_chunk(padded_image_bytes: int, batch: int) -> int:
  """Images per chunk of the kernel gradient: about _CHUNK_BYTES of padded input, so a chunk's views stay in cache.
  A divisor of the batch within a factor 2 of that is preferred (8 chunks of 8, not 10 of 7 and 6 zero images)."""
  target = max(1.0, _CHUNK_BYTES / padded_image_bytes)
  divisors = [d for d in range(1, batch + 1) if batch % d == 0 and target / 2 <= d <= 2 * target]
  if divisors:
    return min(divisors, key=lambda d: abs(np.log(d / target)))
  return -(-batch // max(1, round(batch / target)))


# (kernel tap (p, q), output part, view offset (u, v)): dk[p, q] = x_view(u, v)^T dy_part (see `_kernel_grad`).
Tap = tuple[tuple[int, int], int, tuple[int, int]]


def _kernel_grad(
  x_padded: jax.Array,
  dys: Sequence[jax.Array],
  taps: Sequence[Tap],
  strides: tuple[int, int],
  kernel_hw: tuple[int, int],
) -> jax.Array:
  """The kernel gradient [kh, kw, C, O] as one matmul per kernel tap, summed over chunks of the batch.

  Args:
    x_padded: [B, Hp, Wp, C], the convolution's padded input.
    dys: the output's cotangent in parts, each [B, H_out, W_out, O]: one part for a strided convolution, one per
      output phase for an input-dilated one.
    taps: one entry per kernel tap: dk[p, q] = sum over the batch and (i, j) of
      x_padded[b, u + s_h * i, v + s_w * j]^T dys[part][b, i, j].
    strides: (s_h, s_w) of the views.
    kernel_hw: (kh, kw).
  """
  b, c = x_padded.shape[0], x_padded.shape[3]
  _, ho, wo, o = dys[0].shape
  (sh, sw), taps = strides, sorted(taps)  # in kernel order, so the products reshape to the kernel
  chunk = _batch_chunk(x_padded[0].size * x_padded.dtype.itemsize, b)
  num_chunks = -(-b // chunk)
  # Zero images added to fill the last chunk contribute nothing to the sums.
  fill = lambda a: jnp.pad(a, ((0, num_chunks * chunk - b), (0, 0), (0, 0), (0, 0)))
  x_padded, dys = fill(x_padded), [fill(dy) for dy in dys]

  def chunk_products(x_chunk, dy_chunks):
    # dk[p, q]^T = dy^T x_view with dy^T materialised (the barriers stop XLA from folding the transposes into the
    # matmul): XLA:CPU runs [O, N] @ [N, C] about twice as fast as the transposed-operand form.
    dy_ts = [lax.optimization_barrier(jnp.reshape(dy, (-1, o)).T) for dy in dy_chunks]
    views = {}
    products = []
    for _, part, (u, v) in taps:
      if (u, v) not in views:  # a view shared by several output phases is sliced once
        view = lax.slice(
          x_chunk, (0, u, v, 0), (chunk, u + sh * (ho - 1) + 1, v + sw * (wo - 1) + 1, c), (1, sh, sw, 1)
        )
        views[u, v] = jnp.reshape(view, (-1, c))
      products.append(lax.optimization_barrier(dy_ts[part] @ views[u, v]))
    return jnp.stack(products)

  if num_chunks == 1:
    products = chunk_products(x_padded, dys)
  else:
    # A loop over batch chunks, not one pass over the batch: each chunk's views are built and consumed while in
    # cache (2x faster on the DCGAN layers), and memory holds one chunk's views, not kh * kw copies of the input.
    def body(total, chunk_inputs):
      return total + chunk_products(*chunk_inputs), None

    split = lambda a: jnp.reshape(a, (num_chunks, chunk, *a.shape[1:]))
    zeros = jnp.zeros((len(taps), o, c), x_padded.dtype)
    products, _ = lax.scan(body, zeros, (split(x_padded), [split(dy) for dy in dys]))
  return jnp.swapaxes(jnp.reshape(products, (*kernel_hw, o, c)), 2, 3)


def _input_grad_pads(size: int, k: int, stride: int, pads: tuple[int, int], out: int) -> tuple[int, int]:
  """Padding of the convolution of dy dilated by `stride` with the flipped kernel that gives dx, along one axis.

  dx_padded[t] = sum over (i, p) with s * i + p = t of dy[i] k[p]: a stride-1 correlation of dy dilated by s with the
  flipped kernel, padded by k - 1 before; after, it runs to the end of x, whose last rows may be read by no window.
  Removing x's own padding (lo, hi) gives these pads.
  """
  lo, _ = pads
  return k - 1 - lo, size + lo - stride * (out - 1) - 1


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_strided(x: jax.Array, kernel: jax.Array, strides: tuple[int, int], pads: Pads) -> jax.Array:
  """conv(x, kernel) with strides and non-negative explicit padding: XLA's forward, the fast gradients."""
  return lax.conv_general_dilated(x, kernel, strides, pads, dimension_numbers=_NHWC)


def _conv_strided_fwd(x, kernel, strides, pads):
  return _conv_strided(x, kernel, strides, pads), (x, kernel)


def _conv_strided_bwd(strides, pads, residuals, dy):
  x, kernel = residuals
  kh, kw = kernel.shape[:2]
  taps = [((p, q), 0, (p, q)) for p in range(kh) for q in range(kw)]
  dk = _kernel_grad(_pad_or_crop(x, pads), [dy], taps, strides, (kh, kw))
  grad_pads = tuple(
    _input_grad_pads(n, k, s, pad, m) for n, k, s, pad, m in zip(x.shape[1:3], (kh, kw), strides, pads, dy.shape[1:3])
  )
  dx = conv2d(dy, _flip(kernel), (1, 1), grad_pads, lhs_dilation=strides, impl="fast")
  return dx, dk


_conv_strided.defvjp(_conv_strided_fwd, _conv_strided_bwd)


class _Phase(NamedTuple):
  """Output phase r of a convolution with input dilation d along one axis: output d * i + r meets kernel taps
  first + d * j (j < num_taps), at input pixel x[i + j + offset]."""

  first: int
  num_taps: int
  offset: int


def _phases(k: int, d: int, lo: int) -> list[_Phase]:
  """The d phases along one axis of a kernel of size k over an input dilated by d and padded by lo before.

  Output o = d * i + r reads dilated position o - lo + p, a real input pixel only when d divides it, i.e. for taps
  p = p0 + d * j with p0 = (lo - r) mod d; that pixel is x[i + j + e] with e = (r - lo + p0) / d.
  """
  phases = []
  for r in range(d):
    p0 = (lo - r) % d
    phases.append(_Phase(p0, max(0, -(-(k - p0) // d)), (r - lo + p0) // d))
  return phases


def _dilated_out(size: int, k: int, d: int, pads: tuple[int, int]) -> int:
  return (size - 1) * d + 1 + sum(pads) - k + 1


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_dilated(x: jax.Array, kernel: jax.Array, pads: Pads, dilation: tuple[int, int]) -> jax.Array:
  """conv(x dilated by `dilation`, kernel), stride 1, as d_h * d_w interleaved stride-1 convolutions of x."""
  (dh, dw), (kh, kw) = dilation, kernel.shape[:2]
  b, h, w, _ = x.shape
  out_h, out_w = _dilated_out(h, kh, dh, pads[0]), _dilated_out(w, kw, dw, pads[1])
  rows, cols = -(-out_h // dh), -(-out_w // dw)  # every phase's output, padded to the longest phase's
  phases = []
  for ph in _phases(kh, dh, pads[0][0]):
    row = []
    for pw in _phases(kw, dw, pads[1][0]):
      if ph.num_taps == 0 or pw.num_taps == 0:  # a kernel shorter than the dilation leaves phases without taps
        row.append(jnp.zeros((b, rows, cols, kernel.shape[3]), x.dtype))
        continue
      sub = kernel[ph.first :: dh, pw.first :: dw]
      # Phase output i reads x[i + j + offset]: pad -offset before, and after as far as the longest phase reads.
      phase_pads = (
        (-ph.offset, rows + ph.num_taps - 1 - h + ph.offset),
        (-pw.offset, cols + pw.num_taps - 1 - w + pw.offset),
      )
      row.append(_xla_conv(x, sub, (1, 1), phase_pads))
    phases.append(jnp.stack(row, axis=3))  # [B, rows, cols, dw, O]
  y = jnp.reshape(jnp.stack(phases, axis=2), (b, rows * dh, cols * dw, kernel.shape[3]))
  return y[:, :out_h, :out_w]


def _conv_dilated_fwd(x, kernel, pads, dilation):
  return _conv_dilated(x, kernel, pads, dilation), (x, kernel)


def _conv_dilated_bwd(pads, dilation, residuals, dy):
  x, kernel = residuals
  (dh, dw), (kh, kw) = dilation, kernel.shape[:2]
  h, w = x.shape[1:3]
  out_h, out_w = dy.shape[1:3]
  rows, cols = -(-out_h // dh), -(-out_w // dw)
  # dx: dx[m] = sum over p of dy[lo + d * m - p] k[p], a stride-d convolution of dy with the flipped kernel.
  grad_pads = tuple(
    (k - 1 - lo, d * (n - 1) + k - out - (k - 1 - lo))
    for k, d, (lo, _), n, out in zip((kh, kw), dilation, pads, (h, w), (out_h, out_w))
  )
  dx = conv2d(dy, _flip(kernel), dilation, grad_pads, impl="fast")
  # dk: every phase's taps read x at offsets i + j + e; one padding of x serves all of them.
  phases_h, phases_w = _phases(kh, dh, pads[0][0]), _phases(kw, dw, pads[1][0])
  used_h = [ph for ph in phases_h if ph.num_taps]
  used_w = [pw for pw in phases_w if pw.num_taps]
  lo_h = max(0, -min(ph.offset for ph in used_h))
  lo_w = max(0, -min(pw.offset for pw in used_w))
  hi_h = max(0, max(rows + ph.num_taps - 2 + ph.offset for ph in used_h) - (h - 1))
  hi_w = max(0, max(cols + pw.num_taps - 2 + pw.offset for pw in used_w) - (w - 1))
  x_padded = _pad_or_crop(x, ((lo_h, hi_h), (lo_w, hi_w)))
  parts, taps = [], []
  for r, ph in enumerate(phases_h):
    for c, pw in enumerate(phases_w):
      if ph.num_taps == 0 or pw.num_taps == 0:
        continue
      part = dy[:, r::dh, c::dw]  # this phase's outputs, zero-padded to the common phase shape
      parts.append(jnp.pad(part, ((0, 0), (0, rows - part.shape[1]), (0, cols - part.shape[2]), (0, 0))))
      taps += [
        ((ph.first + dh * i, pw.first + dw * j), len(parts) - 1, (i + ph.offset + lo_h, j + pw.offset + lo_w))
        for i in range(ph.num_taps)
        for j in range(pw.num_taps)
      ]
  dk = _kernel_grad(x_padded, parts, taps, (1, 1), (kh, kw))
  return dx, dk


_conv_dilated.defvjp(_conv_dilated_fwd, _conv_dilated_bwd)


def conv2d(
  x: jax.Array,
  kernel: jax.Array,
  strides: Sequence[int] = (1, 1),
  padding: str | Sequence[tuple[int, int]] = "SAME",
  lhs_dilation: Sequence[int] | None = None,
  impl: str = "auto",
) -> jax.Array:
  """2-D convolution (cross-correlation, as `lax.conv_general_dilated`) with fast gradients on CPU.

  Args:
    x: [B, H, W, C].
    kernel: [kh, kw, C, O] (HWIO, flax's layout).
    strides: (s_h, s_w) window strides.
    padding: 'SAME', 'VALID' (as `lax.padtype_to_pads` on the dilated input) or ((top, bottom), (left, right));
      negative entries crop.
    lhs_dilation: (d_h, d_w) input dilation (a transposed convolution's stride); None for 1.
    impl: 'auto' (the fast form on CPU, XLA's elsewhere), 'xla' (`lax.conv_general_dilated` and its derivatives,
      negative padding applied as a crop first) or 'fast' (see the module docstring).

  Returns:
    [B, H_out, W_out, O], equal to `lax.conv_general_dilated(x, kernel, strides, padding, lhs_dilation,
    dimension_numbers=('NHWC', 'HWIO', 'NHWC'))` up to float rounding, as are its first and higher reverse-mode
    derivatives.
  """
  strides = tuple(int(s) for s in strides)
  dilation = (1, 1) if lhs_dilation is None else tuple(int(d) for d in lhs_dilation)
  if isinstance(padding, str):
    dilated = [(n - 1) * d + 1 for n, d in zip(x.shape[1:3], dilation)]
    padding = lax.padtype_to_pads(dilated, kernel.shape[:2], strides, padding)
  pads = tuple((int(lo), int(hi)) for lo, hi in padding)
  fast = resolve_impl(impl) == "fast" and min(kernel.shape[2:]) >= _MIN_FEATURES
  if dilation != (1, 1):
    # Strides and input dilation together are no layer's; XLA computes them.
    if fast and strides == (1, 1):
      return _conv_dilated(x, kernel, pads, dilation)
    return lax.conv_general_dilated(x, kernel, strides, pads, lhs_dilation=dilation, dimension_numbers=_NHWC)
  if not fast:
    return _xla_conv(x, kernel, strides, pads)
  # Negative padding crops: a slice, whose gradient autodiff computes.
  crop = tuple((min(lo, 0), min(hi, 0)) for lo, hi in pads)
  if crop != ((0, 0), (0, 0)):
    x = _pad_or_crop(x, crop)
  return _conv_strided(x, kernel, strides, tuple((max(lo, 0), max(hi, 0)) for lo, hi in pads))


# ----------------------------------------------------------------------------------------------- drop-in forms


def conv_general_dilated(
  lhs,
  rhs,
  window_strides,
  padding,
  lhs_dilation=None,
  rhs_dilation=None,
  dimension_numbers=None,
  feature_group_count=1,
  batch_group_count=1,
  precision=None,
  preferred_element_type=None,
  *,
  impl: str = "auto",
) -> jax.Array:
  """`lax.conv_general_dilated`'s signature; 2-D NHWC/HWIO convolutions take `conv2d`, anything else XLA's."""
  plain = (
    lhs.ndim == 4
    and feature_group_count == 1
    and batch_group_count == 1
    and precision is None
    and preferred_element_type is None
    and all(d == 1 for d in (rhs_dilation or (1, 1)))
    and lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    == lax.conv_dimension_numbers(lhs.shape, rhs.shape, _NHWC)
  )
  if plain and resolve_impl(impl) == "fast":
    return conv2d(lhs, rhs, window_strides, padding, lhs_dilation, impl="fast")
  return lax.conv_general_dilated(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation,
    rhs_dilation,
    dimension_numbers,
    feature_group_count,
    batch_group_count,
    precision,
    preferred_element_type,
  )


# One function object per impl, so modules built with the same impl compare equal.
_CONV_FNS = {impl: functools.partial(conv_general_dilated, impl=impl) for impl in IMPLS}


class Conv(nn.Conv):
  """`flax.linen.Conv` whose convolution is `conv_general_dilated` above: the same parameters and outputs.

  Attributes:
    impl: 'auto' | 'xla' | 'fast', as in `conv2d`.
  """

  impl: str = "auto"

  def __post_init__(self):
    if self.conv_general_dilated is None and self.conv_general_dilated_cls is None:
      resolve_impl(self.impl)  # fail at construction on a bad name
      object.__setattr__(self, "conv_general_dilated", _CONV_FNS[self.impl])
    super().__post_init__()


def _transpose_padding(k: int, s: int, padding: str | tuple[int, int]) -> tuple[int, int]:
  """`lax.conv_transpose`'s padding of the dilated input along one axis (its 'SAME' / 'VALID' convention)."""
  if padding == "SAME":
    total = k + s - 2
    lo = k - 1 if s > k - 1 else int(np.ceil(total / 2))
  elif padding == "VALID":
    total = k + s - 2 + max(k - s, 0)
    lo = k - 1
  else:
    return tuple(padding)
  return lo, total - lo


class ConvTranspose(nn.ConvTranspose):
  """`flax.linen.ConvTranspose` (2-D, as `lax.conv_transpose`) computed by `conv2d`: the same parameters and outputs.

  Masks, 'CIRCULAR' padding, kernel dilation and other ranks are left to flax's layer (they raise here).

  Attributes:
    impl: 'auto' | 'xla' | 'fast', as in `conv2d`.
  """

  impl: str = "auto"

  @nn.compact
  def __call__(self, inputs: jax.Array) -> jax.Array:
    """inputs [B, H, W, C] -> [B, H', W', features] (H' = s_h * H for 'SAME')."""
    kernel_size = (self.kernel_size,) * 2 if isinstance(self.kernel_size, int) else tuple(self.kernel_size)
    strides = (1, 1) if self.strides is None else tuple(self.strides)
    if (
      inputs.ndim != 4
      or len(kernel_size) != 2
      or self.mask is not None
      or self.padding == "CIRCULAR"
      or self.kernel_dilation not in (None, 1, (1, 1))
    ):
      raise NotImplementedError(
        "jaxgan's ConvTranspose computes 2-D [B, H, W, C] transposed convolutions without "
        "mask, circular padding or kernel dilation; use flax.linen.ConvTranspose for those."
      )
    in_features = inputs.shape[-1]
    shape = kernel_size + ((self.features, in_features) if self.transpose_kernel else (in_features, self.features))
    kernel = self.param("kernel", self.kernel_init, shape, self.param_dtype)
    bias = self.param("bias", self.bias_init, (self.features,), self.param_dtype) if self.use_bias else None
    inputs, kernel, bias = self.promote_dtype(inputs, kernel, bias, dtype=self.dtype)
    if self.transpose_kernel:
      kernel = jnp.swapaxes(kernel[::-1, ::-1], 2, 3)
    padding = nn.linear.canonicalize_padding(self.padding, 2)
    pads = [
      _transpose_padding(k, s, padding if isinstance(padding, str) else padding[i])
      for i, (k, s) in enumerate(zip(kernel_size, strides))
    ]
    y = conv2d(inputs, kernel, (1, 1), pads, lhs_dilation=strides, impl=self.impl)
    return y if bias is None else y + bias
