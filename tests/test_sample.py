"""Sampling a trained run (`jaxgan.sampling`, `python -m experiments.sample`): latents, interpolation, files."""

import functools
import math
import os
import pathlib
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jaxgan import sampling
from jaxgan.checkpoint import Checkpointer
from jaxgan.train import build_gan, generate, init_state

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
  """A GAN toy run of 2 tiny steps through the real training loop (checkpoints/ and best_checkpoint/)."""
  from experiments.configs import gan_toy
  from jaxgan.experiment import train_and_evaluate

  c = gan_toy.get_config()
  c.num_steps, c.batch_size = 2, 8
  c.log_every = c.eval_every = c.checkpoint_every = 2
  c.eval_samples = 100
  c.generator.features = c.critic.features = (8,)
  workdir = tmp_path_factory.mktemp("toy_run")
  train_and_evaluate(c, workdir, progress=False)
  return workdir


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
  """A conditional GAN on 28x28x1 images with 3 classes (small MLPs: convolutions only cost compile time here), its
  initial state saved as step 0; sampling reads a checkpoint however it was trained."""
  from experiments.configs import cgan_toy

  c = cgan_toy.get_config()
  c.data = {"name": "mine", "source": "npz:unused.npz", "image_shape": (28, 28, 1)}
  c.num_classes, c.latent_dim = 3, 8
  c.generator.features = c.critic.features = (8,)
  c.generator.output_activation = "tanh"
  workdir = tmp_path_factory.mktemp("image_run")
  (workdir / "config.json").write_text(c.to_json_best_effort(indent=2))
  checkpointer = Checkpointer(workdir / "checkpoints")
  checkpointer.save(0, jax.jit(functools.partial(init_state, build_gan(c)))(jax.random.key(0)))
  checkpointer.close()
  return workdir


# ---------------------------------------------------------------------------------------------------- latents


def test_slerp_ends_and_closed_forms():
  key0, key1 = jax.random.split(jax.random.key(0))
  z0, z1 = jax.random.normal(key0, (4, 6)), 3.0 * jax.random.normal(key1, (4, 6))
  t = jnp.linspace(0.0, 1.0, 5)
  path = sampling.slerp(z0, z1, t)
  chex.assert_shape(path, (4, 5, 6))
  chex.assert_trees_all_close(path[:, 0], z0, atol=1e-5)
  chex.assert_trees_all_close(path[:, -1], z1, atol=1e-5)

  # Equal norms r: the midpoint is r times the unit bisector, (z0 + z1) / (2 cos(w / 2)).
  r = 2.0
  a = r * z0 / jnp.linalg.norm(z0, axis=-1, keepdims=True)
  b = r * z1 / jnp.linalg.norm(z1, axis=-1, keepdims=True)
  mid = sampling.slerp(a, b, jnp.array([0.5]))[:, 0]
  omega = jnp.arccos(jnp.sum(a * b, -1) / r**2)
  chex.assert_trees_all_close(mid, (a + b) / (2 * jnp.cos(omega / 2))[:, None], atol=1e-5)
  chex.assert_trees_all_close(jnp.linalg.norm(mid, axis=-1), jnp.full(4, r), atol=1e-5)
  # Orthogonal unit vectors: slerp(t) = cos(t pi / 2) e0 + sin(t pi / 2) e1; lerp halves the norm's square.
  e0, e1 = jnp.eye(3)[None, 0], jnp.eye(3)[None, 1]
  chex.assert_trees_all_close(
    sampling.slerp(e0, e1, t)[0],
    jnp.cos(t * math.pi / 2)[:, None] * e0 + jnp.sin(t * math.pi / 2)[:, None] * e1,
    atol=1e-6,
  )
  chex.assert_trees_all_close(sampling.lerp(e0, e1, t)[0], (1 - t)[:, None] * e0 + t[:, None] * e1)
  # A pair pointing the same way falls back to lerp instead of dividing by sin(0).
  chex.assert_trees_all_close(sampling.slerp(e0, 2 * e0, t)[0], (1 + t)[:, None] * e0, atol=1e-6)


def test_truncated_normal_keeps_the_plain_draw_within_the_threshold():
  key, shape, threshold = jax.random.key(1), (2000, 16), 0.5
  plain = jax.random.normal(key, shape)
  z = sampling.truncated_normal(key, shape, threshold)
  assert float(jnp.abs(z).max()) <= threshold
  within = jnp.abs(plain) <= threshold
  assert 0.3 < float(within.mean()) < 0.5  # about 38% of N(0, 1) lies within 0.5: most coordinates were redrawn
  chex.assert_trees_all_equal(jnp.where(within, z, 0.0), jnp.where(within, plain, 0.0))
  # The redrawn ones are spread over the interval (mean ~ 0), not stuck at its edges.
  assert abs(float(z[~within].mean())) < 0.02 and float(jnp.abs(z[~within]).mean()) < 0.3
  with pytest.raises(ValueError, match="positive"):
    sampling.truncated_normal(key, shape, 0.0)


def test_truncation_needs_a_normal_prior():
  sampling.check_truncation("normal", 1.0)
  sampling.check_truncation("uniform", None)
  with pytest.raises(ValueError, match="config.prior is 'uniform'"):
    sampling.check_truncation("uniform", 1.0)
  with pytest.raises(ValueError, match="positive"):
    sampling.check_truncation("normal", -1.0)


def test_samples_are_those_of_generate_whatever_the_batch_size(image_run):
  _, gan, state, step = sampling.load_checkpoint(image_run)
  assert step == 0
  key, labels = jax.random.key(3), sampling.cycling_labels(7, 3)
  z = sampling.draw_latents(gan, state, key, 7)
  ours = sampling.generate_from_latents(gan, state.g_params, state.g_state, z, labels, batch_size=3)
  chex.assert_trees_all_close(ours, np.asarray(generate(gan, state, key, 7, jnp.asarray(labels))), atol=1e-5)
  np.testing.assert_array_equal(sampling.class_labels(2, 3), [0, 0, 1, 1, 2, 2])
  np.testing.assert_array_equal(labels, [0, 1, 2, 0, 1, 2, 0])


# -------------------------------------------------------------------------------------------------- whole runs


def test_toy_run_to_npz_and_scatter(toy_run, tmp_path):
  message, files = sampling.sample_run(toy_run, tmp_path / "points", num=50, seed=1)
  assert files == [tmp_path / "points" / "samples.npz", tmp_path / "points" / "samples.png"] and "step 2" in message
  with np.load(files[0]) as saved:
    points = saved["points"]
    assert points.shape == (50, 2) and np.all(np.isfinite(points)) and int(saved["step"]) == 2
    assert np.isnan(saved["truncation"]) and "labels" not in saved.files
  assert Image.open(files[1]).size == (500, 500)

  # The run kept its best checkpoint by reverse KL apart; --checkpoint=best restores it.
  assert sampling.load_checkpoint(toy_run, "best")[3] == 2

  _, walk = sampling.sample_run(toy_run, tmp_path / "walk", interpolate=3, interp_steps=5)
  with np.load(walk[0]) as saved:
    assert saved["points"].shape == (3, 5, 2) and saved["latents"].shape == (3, 5, 2)
    latents = saved["latents"]
  _, gan, state, _ = sampling.load_checkpoint(toy_run)
  ends = np.asarray(sampling.draw_latents(gan, state, jax.random.key(0), 6))  # pair k: draws 2k and 2k + 1
  chex.assert_trees_all_close(latents[:, 0], ends[0::2], atol=1e-6)
  chex.assert_trees_all_close(latents[:, -1], ends[1::2], atol=1e-6)
  assert walk[1].exists()


def test_bad_requests_are_refused_with_the_fix(toy_run, tmp_path):
  (tmp_path / "out").mkdir()
  (tmp_path / "out" / "samples.png").write_bytes(b"kept")
  with pytest.raises(ValueError, match="exists already.*--overwrite"):
    sampling.sample_run(toy_run, tmp_path / "out", num=5)
  assert (tmp_path / "out" / "samples.png").read_bytes() == b"kept" and not (tmp_path / "out" / "samples.npz").exists()
  with pytest.raises(ValueError, match="--num must be positive"):
    sampling.sample_run(toy_run, tmp_path / "x", num=0)
  with pytest.raises(ValueError, match="--per_class needs a conditional run"):
    sampling.sample_run(toy_run, tmp_path / "x", num=5, per_class=True)
  with pytest.raises(ValueError, match="at least 2 points"):
    sampling.sample_run(toy_run, tmp_path / "x", interpolate=2, interp_steps=1)
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(FileNotFoundError, match="config.json not found"):
    sampling.sample_run(empty, tmp_path / "x", num=5)
  (empty / "config.json").write_text((toy_run / "config.json").read_text())
  with pytest.raises(FileNotFoundError, match="No checkpoints/"):
    sampling.sample_run(empty, tmp_path / "x", num=5)
  with pytest.raises(FileNotFoundError, match="--checkpoint=latest"):
    sampling.sample_run(empty, tmp_path / "x", num=5, checkpoint="best")


def test_image_run_per_class_pngs_npz_and_interpolation(image_run, tmp_path):
  sampling.sample_run(image_run, tmp_path / "pngs", num=4, per_class=True, seed=2)
  pngs = sorted((tmp_path / "pngs").rglob("*.png"))
  assert [p.relative_to(tmp_path / "pngs").as_posix() for p in pngs[:5]] == [
    "class_0/class_0_00000.png",
    "class_0/class_0_00001.png",
    "class_0/class_0_00002.png",
    "class_0/class_0_00003.png",
    "class_1/class_1_00000.png",
  ]
  assert len(pngs) == 12
  # The same draw as an .npz: the PNGs are its images in [0, 255].
  _, (npz,) = sampling.sample_run(image_run, tmp_path / "same.npz", num=4, per_class=True, seed=2)
  with np.load(npz) as saved:
    images, labels = saved["images"], saved["labels"]
  assert images.shape == (12, 28, 28, 1) and images.dtype == np.float32
  assert images.min() >= -1.0 and images.max() <= 1.0 and images.std() > 0
  np.testing.assert_array_equal(labels, np.repeat([0, 1, 2], 4))
  first = np.asarray(Image.open(tmp_path / "pngs" / "class_1" / "class_1_00000.png"))
  assert first.shape == (28, 28) and first.dtype == np.uint8
  np.testing.assert_array_equal(first, np.round((images[4, ..., 0] + 1) * 127.5).astype(np.uint8))

  # Truncated latents: the same classes, other images.
  sampling.sample_run(image_run, tmp_path / "truncated.npz", num=4, per_class=True, seed=2, truncation=0.5)
  with np.load(tmp_path / "truncated.npz") as saved:
    assert saved["images"].shape == images.shape and float(saved["truncation"]) == 0.5
    np.testing.assert_array_equal(saved["labels"], labels)
    assert not np.allclose(saved["images"], images)

  _, walk = sampling.sample_run(image_run, tmp_path / "walk", interpolate=2, interp_steps=4, interp_mode="lerp")
  assert [p.name for p in walk] == ["interpolation.npz", "interpolation.png", "interpolation.gif"]
  with np.load(walk[0]) as saved:
    assert saved["images"].shape == (2, 4, 28, 28, 1) and saved["latents"].shape == (2, 4, 8)
    chex.assert_trees_all_close(
      saved["latents"][:, 1], (2 * saved["latents"][:, 0] + saved["latents"][:, 3]) / 3, atol=1e-5
    )
  assert Image.open(walk[1]).size == (4 * 29 + 1, 2 * 29 + 1)
  gif = Image.open(walk[2])
  assert gif.n_frames == 2 * 4 - 2 and gif.size == (2 * 29 + 1, 29 + 1)


def test_cli_bad_input_is_one_line_and_non_zero(tmp_path):
  env = {**os.environ, "PYTHONPATH": str(ROOT)}
  done = subprocess.run(
    [sys.executable, "-m", "experiments.sample", f"--workdir={tmp_path}", "--num=0", f"--output={tmp_path / 'out'}"],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=120,
    check=False,
  )
  assert done.returncode != 0
  assert done.stderr.strip() == "Error: --num must be positive; got 0."
