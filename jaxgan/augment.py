"""Differentiable augmentation of the critic's inputs (DiffAugment; Zhao et al. 2020, "Differentiable Augmentation
for Data-Efficient GAN Training", Sec. 3 and their DiffAugment_pytorch.py in mit-han-lab/data-efficient-gans).

A policy is a comma-separated list of groups, applied in order:
* 'color': brightness x + U(-0.5, 0.5), then saturation (x - mean_c) * U(0, 2) + mean_c (mean over the channels, so a
  no-op on one channel), then contrast (x - mean) * U(0.5, 1.5) + mean (mean over the whole image);
* 'translation': a shift by integers t_h, t_w ~ U{-H//8, ..., H//8} (W//8 for t_w): out[i, j] = x[i + t_h, j + t_w],
  zero where that pixel lies outside the image;
* 'cutout': zeroes a (H//2) x (W//2) square whose centre (o_h, o_w) ~ U{0, ..., H - (H//2) % 2} (and the same in W):
  rows o_h - H//4 ... o_h - H//4 + H//2 - 1, clipped to the image.
As in the authors' code, the ops act on the values as the GAN produces them ([-1, 1] here), without rescaling and
without clipping the result, and every draw is per example.

Each example's draws come from its own key: `augment_examples` takes one key per example, so a data-parallel step
that derives them from the *global* example index (`jaxgan.train.example_keys`) augments exactly as one device does.
The ops are linear in x for fixed draws (translation and cutout select and zero pixels), so gradients reach the
generator through all of them.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

GROUPS: dict[str, tuple[str, ...]] = {
  "color": ("brightness", "saturation", "contrast"),
  "translation": ("translation",),
  "cutout": ("cutout",),
}


def parse_policy(policy: str) -> tuple[str, ...]:
  """The ops a policy string names, in order: 'color,cutout' -> ('brightness', 'saturation', 'contrast', 'cutout').

  Raises:
    ValueError: for a group that is not one of `GROUPS`.
  """
  ops: list[str] = []
  for group in (part.strip() for part in policy.split(",")):
    if not group:
      continue
    if group not in GROUPS:
      raise ValueError(
        f"Unknown DiffAugment policy {group!r} in {policy!r}; use a comma-separated list of "
        f"{sorted(GROUPS)} (or '' for no augmentation)."
      )
    ops.extend(GROUPS[group])
  return tuple(ops)


def _check_images(x: jax.Array) -> None:
  if x.ndim != 4:
    raise ValueError(f"DiffAugment expects images [B, H, W, C]; got shape {x.shape}.")


# --------------------------------------------------------------------------- the ops, given each example's draw


def brightness(x: jax.Array, shift: jax.Array) -> jax.Array:
  """x [B, H, W, C] + shift [B]."""
  return x + shift[:, None, None, None]


def saturation(x: jax.Array, factor: jax.Array) -> jax.Array:
  """Scales each pixel's deviation from its channel mean by factor [B]: x [B, H, W, C] -> [B, H, W, C]."""
  mean = jnp.mean(x, axis=3, keepdims=True)
  return (x - mean) * factor[:, None, None, None] + mean


def contrast(x: jax.Array, factor: jax.Array) -> jax.Array:
  """Scales each image's deviation from its mean (over H, W and C) by factor [B]: x [B, H, W, C] -> same."""
  mean = jnp.mean(x, axis=(1, 2, 3), keepdims=True)
  return (x - mean) * factor[:, None, None, None] + mean


def translation(x: jax.Array, shift: jax.Array) -> jax.Array:
  """out[b, i, j] = x[b, i + shift[b, 0], j + shift[b, 1]], zero outside the image.

  Args:
    x: [B, H, W, C].
    shift: int [B, 2], each entry within [-H, H] (rows) and [-W, W] (columns).
  """
  _, height, width, channels = x.shape
  padded = jnp.pad(x, ((0, 0), (height, height), (width, width), (0, 0)))

  def one(image, s):
    return jax.lax.dynamic_slice(image, (height + s[0], width + s[1], 0), (height, width, channels))

  return jax.vmap(one)(padded, shift)


def cutout(x: jax.Array, centre: jax.Array) -> jax.Array:
  """Zeroes the (H//2) x (W//2) square whose rows start at centre[b, 0] - H//4 (columns likewise), clipped.

  Args:
    x: [B, H, W, C].
    centre: int [B, 2].
  """
  _, height, width, _ = x.shape
  size_h, size_w = height // 2, width // 2
  top = centre[:, 0, None] - size_h // 2  # [B, 1]
  left = centre[:, 1, None] - size_w // 2
  rows = jnp.arange(height)[None, :]
  cols = jnp.arange(width)[None, :]
  in_rows = (rows >= top) & (rows < top + size_h)  # [B, H]
  in_cols = (cols >= left) & (cols < left + size_w)  # [B, W]
  keep = ~(in_rows[:, :, None] & in_cols[:, None, :])
  return x * keep[:, :, :, None].astype(x.dtype)


# ------------------------------------------------------------------------------ the draws, one key per example


def _uniform(low: float, high: float) -> Callable[[jax.Array, tuple[int, ...]], jax.Array]:
  return lambda key, image_shape: jax.random.uniform(key, (), minval=low, maxval=high)


def _draw_shift(key: jax.Array, image_shape) -> jax.Array:
  height, width = image_shape[0], image_shape[1]
  k_h, k_w = jax.random.split(key)
  return jnp.stack(
    [
      jax.random.randint(k_h, (), -(height // 8), height // 8 + 1),
      jax.random.randint(k_w, (), -(width // 8), width // 8 + 1),
    ]
  )


def _draw_centre(key: jax.Array, image_shape) -> jax.Array:
  height, width = image_shape[0], image_shape[1]
  k_h, k_w = jax.random.split(key)
  # The authors' upper bounds: H + (1 - (H//2) % 2), exclusive.
  return jnp.stack(
    [
      jax.random.randint(k_h, (), 0, height + 1 - (height // 2) % 2),
      jax.random.randint(k_w, (), 0, width + 1 - (width // 2) % 2),
    ]
  )


# op name -> (draw(example key, image shape [H, W, C]) -> one example's parameter, op(x, parameters [B, ...]))
OPS: dict[str, tuple[Callable, Callable]] = {
  "brightness": (_uniform(-0.5, 0.5), brightness),
  "saturation": (_uniform(0.0, 2.0), saturation),
  "contrast": (_uniform(0.5, 1.5), contrast),
  "translation": (_draw_shift, translation),
  "cutout": (_draw_centre, cutout),
}


def draw(op: str, keys: jax.Array, image_shape) -> jax.Array:
  """The parameters [B] (or int [B, 2]) that `op` uses, one draw from each example key [B]."""
  sample = OPS[op][0]
  return jax.vmap(lambda k: sample(k, tuple(image_shape)))(keys)


def op_keys(keys: jax.Array, position: int) -> jax.Array:
  """Each example's key [B] for the op at `position` in the parsed policy."""
  return jax.vmap(jax.random.fold_in, in_axes=(0, None))(keys, position)


def augment_examples(x: jax.Array, policy: str, keys: jax.Array) -> jax.Array:
  """DiffAugment with one key per example.

  Args:
    x: images [B, H, W, C], values in [-1, 1].
    policy: e.g. 'color,translation,cutout'; '' is the identity.
    keys: [B] keys; example b's draws depend on keys[b] only (the op at position p of the parsed policy draws from
      fold_in(keys[b], p)).

  Returns:
    Augmented images [B, H, W, C].

  Raises:
    ValueError: for an unknown policy group, images that are not [B, H, W, C], or keys that are not [B].
  """
  ops = parse_policy(policy)
  if not ops:
    return x
  _check_images(x)
  if keys.shape != (x.shape[0],):
    raise ValueError(f"augment_examples needs one key per image: keys [{x.shape[0]}]; got shape {keys.shape}.")
  for position, op in enumerate(ops):
    x = OPS[op][1](x, draw(op, op_keys(keys, position), x.shape[1:]))
  return x


def diff_augment(x: jax.Array, policy: str, key: jax.Array) -> jax.Array:
  """DiffAugment of a batch from one key: example b draws from fold_in(key, b), as `augment_examples` does.

  Args:
    x: images [B, H, W, C], values in [-1, 1].
    policy: e.g. 'color,translation,cutout'; '' is the identity.
    key: a PRNG key.

  Returns:
    Augmented images [B, H, W, C].

  Raises:
    ValueError: for an unknown policy group or images that are not [B, H, W, C].
  """
  if not parse_policy(policy):
    return x
  _check_images(x)
  keys = jax.vmap(jax.random.fold_in, in_axes=(None, 0))(key, jnp.arange(x.shape[0]))
  return augment_examples(x, policy, keys)
