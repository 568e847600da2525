"""DiffAugment: each op against a NumPy reference written the way the authors' code indexes (Zhao et al. 2020,
DiffAugment_pytorch.py: a 1-pixel zero pad read at clamped indices for translation, a mask scattered at clamped
indices for cutout), the draws' ranges, per-example keys, gradients, and policy parsing."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from jaxgan import augment

# Jitted, so each test compiles once instead of dispatching every primitive.
_augment_examples = jax.jit(augment.augment_examples, static_argnums=1)
_draw = jax.jit(augment.draw, static_argnums=(0, 2))
SHAPES = [(16, 24, 3), (10, 14, 1)]  # H != W catches swapped axes; 10 // 2 and 14 // 2 are odd cutout sizes
DRAW_SHAPE = (10, 24, 3)  # an odd (5) and an even (12) cutout size: the two upper bounds of the centre


def _images(shape, batch=3, seed=0):
  return np.random.default_rng(seed).uniform(-1, 1, (batch, *shape)).astype(np.float32)


# ------------------------------------------------------------------------------------------ NumPy references


def np_brightness(x, shift):
  out = x.copy()
  for b in range(x.shape[0]):
    out[b] = x[b] + shift[b]
  return out


def np_saturation(x, factor):
  out = np.empty_like(x)
  batch, height, width, _ = x.shape
  for b in range(batch):
    for i in range(height):
      for j in range(width):
        mean = x[b, i, j, :].mean()
        out[b, i, j, :] = (x[b, i, j, :] - mean) * factor[b] + mean
  return out


def np_contrast(x, factor):
  out = np.empty_like(x)
  for b in range(x.shape[0]):
    mean = x[b].mean()
    out[b] = (x[b] - mean) * factor[b] + mean
  return out


def np_translation(x, shift):
  batch, height, width, _ = x.shape
  padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  out = np.empty_like(x)
  for b in range(batch):
    for i in range(height):
      for j in range(width):
        pi = min(max(i + shift[b, 0] + 1, 0), height + 1)
        pj = min(max(j + shift[b, 1] + 1, 0), width + 1)
        out[b, i, j] = padded[b, pi, pj]
  return out


def np_cutout(x, centre):
  batch, height, width, _ = x.shape
  size_h, size_w = height // 2, width // 2
  mask = np.ones((batch, height, width), x.dtype)
  for b in range(batch):
    for u in range(size_h):
      for v in range(size_w):
        i = min(max(u + centre[b, 0] - size_h // 2, 0), height - 1)
        j = min(max(v + centre[b, 1] - size_w // 2, 0), width - 1)
        mask[b, i, j] = 0
  return x * mask[..., None]


REFERENCES = {
  "brightness": np_brightness,
  "saturation": np_saturation,
  "contrast": np_contrast,
  "translation": np_translation,
  "cutout": np_cutout,
}


def _fixed_draws(op, shape):
  height, width = shape[:2]
  if op == "translation":  # the extremes, and a mixed one
    return np.array([[-(height // 8), width // 8], [height // 8, -(width // 8)], [1, 0]], np.int32)
  if op == "cutout":  # corners (the square clipped) and an interior centre
    return np.array([[0, 0], [height - (height // 2) % 2, width - (width // 2) % 2], [height // 2 - 1, 3]], np.int32)
  return np.array(
    {"brightness": [-0.5, 0.0, 0.37], "saturation": [0.0, 1.6, 2.0], "contrast": [0.5, 1.0, 1.42]}[op], np.float32
  )


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("op", sorted(augment.OPS))
def test_op_matches_numpy_reference(op, shape):
  x = _images(shape)
  params = _fixed_draws(op, shape)
  out = augment.OPS[op][1](jnp.asarray(x), jnp.asarray(params))
  chex.assert_trees_all_close(np.asarray(out), REFERENCES[op](x, params), atol=1e-6)


def test_saturation_is_a_no_op_on_one_channel():
  x = _images((8, 8, 1))
  chex.assert_trees_all_close(augment.saturation(jnp.asarray(x), jnp.array([0.0, 0.5, 2.0])), x, atol=1e-7)


def test_draws_cover_the_authors_ranges():
  shape = DRAW_SHAPE
  height, width = shape[:2]
  keys = jax.random.split(jax.random.key(0), 2000)
  for op, (low, high) in {"brightness": (-0.5, 0.5), "saturation": (0.0, 2.0), "contrast": (0.5, 1.5)}.items():
    u = np.asarray(_draw(op, keys, shape))
    assert u.shape == (2000,) and u.min() >= low and u.max() < high
    assert u.min() < low + 0.01 and u.max() > high - 0.01, op
  shift = np.asarray(_draw("translation", keys, shape))
  assert shift.dtype.kind == "i" and shift.shape == (2000, 2)
  np.testing.assert_array_equal(shift.min(0), [-(height // 8), -(width // 8)])
  np.testing.assert_array_equal(shift.max(0), [height // 8, width // 8])
  centre = np.asarray(_draw("cutout", keys, shape))
  np.testing.assert_array_equal(centre.min(0), [0, 0])
  np.testing.assert_array_equal(centre.max(0), [height - (height // 2) % 2, width - (width // 2) % 2])


def test_full_policy_is_the_ops_in_order_on_each_examples_draws():
  shape = (16, 24, 3)
  x = _images(shape, batch=4)
  key = jax.random.key(7)
  out = jax.jit(augment.diff_augment, static_argnums=1)(jnp.asarray(x), "color,translation,cutout", key)
  keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(4))
  expected = x
  for position, op in enumerate(("brightness", "saturation", "contrast", "translation", "cutout")):
    params = np.asarray(_draw(op, augment.op_keys(keys, position), shape))
    expected = REFERENCES[op](expected, params)
  chex.assert_trees_all_close(np.asarray(out), expected, atol=1e-5)


def test_each_example_depends_only_on_its_own_key():
  x = jnp.asarray(_images((16, 24, 3), batch=4))
  keys = jax.random.split(jax.random.key(3), 4)
  policy = "color,translation,cutout"
  whole = _augment_examples(x, policy, keys)
  halves = jnp.concatenate([_augment_examples(x[:2], policy, keys[:2]), _augment_examples(x[2:], policy, keys[2:])])
  chex.assert_trees_all_close(whole, halves, atol=1e-6)
  # Different keys give different augmentations.
  assert not np.allclose(whole, _augment_examples(x, policy, keys[::-1]))


def test_empty_policy_is_the_identity():
  x = jnp.asarray(_images((8, 8, 3)))
  for policy in ("", " ", ","):
    assert augment.diff_augment(x, policy, jax.random.key(0)) is x


def test_unknown_policy_names_the_allowed_ones():
  x = jnp.asarray(_images((8, 8, 3)))
  with pytest.raises(ValueError, match=r"'hue'.*\['color', 'cutout', 'translation'\]"):
    augment.diff_augment(x, "color,hue", jax.random.key(0))


def test_bad_shapes_raise():
  with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
    augment.diff_augment(jnp.zeros((4, 8, 8)), "color", jax.random.key(0))
  with pytest.raises(ValueError, match="one key per image"):
    augment.augment_examples(jnp.zeros((4, 8, 8, 3)), "color", jax.random.split(jax.random.key(0), 3))


@pytest.mark.parametrize("op", sorted(augment.OPS))
def test_gradients_reach_the_input_through_every_op(op):
  shape = (16, 24, 3)
  x = jnp.asarray(_images(shape))
  params = jnp.asarray(_fixed_draws(op, shape))
  weights = jnp.asarray(np.random.default_rng(1).normal(size=x.shape).astype(np.float32))
  grad = jax.jit(jax.grad(lambda x: jnp.sum(weights * augment.OPS[op][1](x, params))))(x)
  assert np.all(np.isfinite(grad)) and np.any(grad != 0)
  # For fixed draws every op is linear in x: its derivatives are exact.
  check_grads(jax.jit(lambda x: augment.OPS[op][1](x, params)), (x,), order=1, modes=("rev",), atol=1e-2, rtol=1e-2)
