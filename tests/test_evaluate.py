"""Evaluation entry points: a trained run (`evaluate_run`, `python -m experiments.evaluate --workdir`) and the two-set
mode with its real-statistics cache.

The toy runs come from `train_and_evaluate`; the MNIST run is written at step 0 in the same layout (config.json and an
orbax checkpoint), which skips compiling a DCGAN train step on the CPU.
"""

import functools
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from jaxgan import evaluation
from jaxgan.checkpoint import Checkpointer
from jaxgan.experiment import train_and_evaluate
from jaxgan.train import build_gan, init_state

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_conditional_toy_run_is_evaluated(tiny_toy_config, tmp_path):
  from experiments.configs import cgan_toy

  c = cgan_toy.get_config()
  for field in ("num_steps", "batch_size", "log_every", "eval_every", "checkpoint_every", "eval_samples"):
    c[field] = tiny_toy_config[field]
  c.generator.features = c.critic.features = (16, 16)
  train_and_evaluate(c, tmp_path, progress=False)
  results = evaluation.evaluate_run(tmp_path, num_samples=300, progress=False)
  assert json.loads((tmp_path / "eval.json").read_text()) == results
  assert results["step"] == 6 and results["num_samples"] == 300 and results["features"] is None
  assert 0 <= results["modes_covered"] <= 8 and 0 <= results["high_quality_fraction"] <= 1
  assert results["wasserstein"] > 0 and 0.5 <= results["one_nn_accuracy"] <= 1
  assert 0 <= results["mode_accuracy"] <= 1


def test_toy_metrics_can_be_chosen():
  centers = np.array([[0.0, 0.0], [4.0, 0.0]])
  samples = np.concatenate([centers[0] + 0.01 * np.ones((5, 2)), centers[1] + np.zeros((5, 2))])
  chosen = evaluation.toy_run_metrics(samples, "grid25", jax.random.key(0), metrics=["toy_metrics"])
  assert set(chosen) == {"modes_covered", "high_quality_fraction", "reverse_kl"}
  assert chosen["modes_covered"] == 2 and chosen["high_quality_fraction"] == 1.0


def test_missing_run_says_what_to_do(tmp_path):
  with pytest.raises(FileNotFoundError, match="experiments.train"):
    evaluation.evaluate_run(tmp_path, progress=False)
  with pytest.raises(ValueError, match="Unknown metrics"):
    evaluation.toy_run_metrics(np.zeros((10, 2)), "grid25", None, metrics=["fid"])


def _write_untrained_run(config, workdir):
  """A run directory as train_and_evaluate leaves it (config.json, an orbax checkpoint), at step 0: evaluating it
  exercises the same files without compiling a train step."""
  workdir.mkdir(parents=True, exist_ok=True)
  (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))
  state = jax.jit(functools.partial(init_state, build_gan(config)))(jax.random.key(config.seed))
  checkpointer = Checkpointer(workdir / "checkpoints")
  checkpointer.save(0, state)
  checkpointer.close()


def test_conditional_mnist_run_is_evaluated(tmp_path, tfds_data_dir, mnist_manual_dir):
  from experiments.configs import cgan_mnist

  c = cgan_mnist.get_config()
  c.generator.base_features = c.critic.base_features = 4
  c.data.data_dir, c.data.manual_dir = tfds_data_dir, mnist_manual_dir
  _write_untrained_run(c, tmp_path)
  samples = tmp_path / "samples.npz"
  results = evaluation.evaluate_run(tmp_path, num_samples=200, num_real=1000, progress=False,
                                    save_samples=str(samples))
  for key in ("inception_score", "modified_inception_score", "modified_inception_score_per_class", "mode_score", "fid",
              "kid", "precision", "recall", "one_nn_accuracy", "classifier_accuracy"):
    assert np.isfinite(results[key]), key
  assert results["num_real"] == 1000 and results["features"] == "mnist"
  # An untrained generator is far from the data (real-vs-real MNIST FID on these features is about 1).
  assert results["fid"] > 20
  with np.load(samples) as saved:
    images, labels = saved["images"], saved["labels"]
  assert images.shape == (200, 28, 28, 1) and list(labels[:3]) == [0, 1, 2]
  # The scores again, straight from the classifier's softmax on the saved samples.
  from jaxgan.metrics import inception_score

  probs, _ = evaluation.get_extractor("mnist")(images.astype(np.float32), False, "check")
  probs = np.asarray(probs, np.float64)
  assert results["inception_score"] == pytest.approx(inception_score(probs, splits=1)[0], rel=1e-4)
  assert results["classifier_accuracy"] == pytest.approx(float(np.mean(probs.argmax(1) == labels)))


def _write_sets(tmp_path, num=300):
  rng = np.random.default_rng(0)
  real = rng.integers(0, 256, (num, 28, 28, 1), dtype=np.uint8)
  np.savez(tmp_path / "real.npz", images=real)
  # Dark noise: another distribution than the real (uniform) noise, as floats in [-1, 1].
  np.savez(tmp_path / "fake.npz", images=rng.uniform(-1, -0.5, (num, 28, 28, 1)).astype(np.float32))
  np.savez(tmp_path / "same.npz", images=real.astype(np.float32) / 255.0)  # the real set, as floats in [0, 1]


def test_two_sets_with_statistics_cache(tmp_path):
  _write_sets(tmp_path)
  real = str(tmp_path / "real.npz")
  first = evaluation.evaluate_image_sets(real, tmp_path / "fake.npz", "mnist", progress=False)
  cache = tmp_path / "real.mnist_stats.npz"
  assert cache.exists() and first["num_real"] == first["num_fake"] == 300
  with np.load(cache) as cached:
    assert cached["mu"].shape == (128,) and cached["sigma"].shape == (128, 128) and "features" in cached.files
  # The cached statistics give the same numbers; the same images in another encoding give FID 0.
  second = evaluation.evaluate_image_sets(real, tmp_path / "fake.npz", "mnist", progress=False)
  for key in ("fid", "kid", "precision", "recall", "mode_score"):
    assert second[key] == pytest.approx(first[key], rel=1e-9, abs=1e-12), key
  same = evaluation.evaluate_image_sets(real, tmp_path / "same.npz", "mnist", metrics=["fid"], progress=False)
  assert same["fid"] == pytest.approx(0.0, abs=1e-3) and first["fid"] > 1.0


def test_two_set_cli_and_cache_invalidation(tmp_path):
  _write_sets(tmp_path, num=100)
  out = tmp_path / "out.json"
  args = [sys.executable, "-m", "experiments.evaluate", f"--real={tmp_path / 'real.npz'}",
          f"--fake={tmp_path / 'fake.npz'}", "--features=mnist", "--metrics=fid,inception_score",
          f"--output={out}", "--no_progress"]
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]
  results = json.loads(out.read_text())
  assert set(results) >= {"fid", "inception_score", "inception_score_std"} and "kid" not in results
  assert "fid=" in done.stdout
  # Changing the real set invalidates its cache.
  np.savez(tmp_path / "real.npz", images=np.zeros((100, 28, 28, 1), np.uint8))
  with pytest.warns(UserWarning, match="100 samples of 128-d features"):
    again = evaluation.evaluate_image_sets(tmp_path / "real.npz", tmp_path / "fake.npz", "mnist", metrics=["fid"],
                                           progress=False)
  assert again["fid"] != pytest.approx(results["fid"])
  usage = subprocess.run([sys.executable, "-m", "experiments.evaluate", f"--real={tmp_path / 'real.npz'}"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert usage.returncode != 0 and "--fake" in usage.stderr
