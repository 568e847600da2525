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

import chex
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
  results = evaluation.evaluate_run(tmp_path, num_samples=200, num_real=1000, progress=False, save_samples=str(samples))
  for key in (
    "inception_score",
    "modified_inception_score",
    "modified_inception_score_per_class",
    "mode_score",
    "fid",
    "kid",
    "precision",
    "recall",
    "one_nn_accuracy",
    "classifier_accuracy",
  ):
    assert np.isfinite(results[key]), key
  assert results["num_real"] == 1000 and results["features"] == "mnist"
  # The protocol: the run's own test split, the classifier's weights, no resize.
  assert results["reference"] == "mnist:test" and results["resize"] == "none"
  assert results["features_weights_digest"] == evaluation.get_extractor("mnist").weights_digest
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
  args = [
    sys.executable,
    "-m",
    "experiments.evaluate",
    f"--real={tmp_path / 'real.npz'}",
    f"--fake={tmp_path / 'fake.npz'}",
    "--features=mnist",
    "--metrics=fid,inception_score",
    f"--output={out}",
    "--no_progress",
  ]
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-2000:]
  results = json.loads(out.read_text())
  assert set(results) >= {"fid", "inception_score", "inception_score_std"} and "kid" not in results
  assert "fid=" in done.stdout
  # Changing the real set invalidates its cache.
  np.savez(tmp_path / "real.npz", images=np.zeros((100, 28, 28, 1), np.uint8))
  with pytest.warns(UserWarning, match="100 samples of 128-d features"):
    again = evaluation.evaluate_image_sets(
      tmp_path / "real.npz", tmp_path / "fake.npz", "mnist", metrics=["fid"], progress=False
    )
  assert again["fid"] != pytest.approx(results["fid"])
  usage = subprocess.run(
    [sys.executable, "-m", "experiments.evaluate", f"--real={tmp_path / 'real.npz'}"],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert usage.returncode != 0 and "--fake" in usage.stderr


def test_num_samples_must_be_positive(tmp_path):
  for kwargs in ({"num_samples": 0}, {"num_samples": -3}, {"num_real": 0}):
    with pytest.raises(ValueError, match=f"{next(iter(kwargs))} must be a positive integer"):
      evaluation.evaluate_run(tmp_path, progress=False, **kwargs)
  done = subprocess.run(
    [sys.executable, "-m", "experiments.evaluate", f"--workdir={tmp_path}", "--num_samples=0"],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  )
  assert done.returncode != 0 and "--num_samples=0: 0 is not a positive integer" in done.stderr
  assert "Traceback" not in done.stderr


def test_results_that_cannot_be_written_warn_and_keep_the_old_file(tmp_path, monkeypatch, caplog):
  # chmod cannot make a folder read-only for root, so the write itself is made to fail.
  path = tmp_path / "eval.json"
  path.write_text('{"fid": 1.0}')

  def refuse(self, *args, **kwargs):
    raise PermissionError(13, "Permission denied", str(self))

  monkeypatch.setattr(evaluation.Path, "write_text", refuse)
  assert not evaluation.write_results(path, {"fid": 2.0})
  assert f"Could not write {path} (Permission denied)" in caplog.text
  assert json.loads(path.read_text()) == {"fid": 1.0} and sorted(os.listdir(tmp_path)) == ["eval.json"]


def test_cli_prints_the_metrics_of_a_run_whose_workdir_cannot_be_written(tmp_path, monkeypatch, capsys, caplog):
  # In-process, with the evaluation itself stubbed: what is under test is the CLI's handling of the results.
  from absl import flags
  from absl import logging as absl_logging

  from experiments import evaluate as evaluate_cli

  def fake_evaluate_run(workdir, *args, write=True, **kwargs):
    del args, kwargs
    assert not write  # the CLI writes (and reports) the results itself
    return {"wasserstein": 0.25, "step": 6}

  monkeypatch.setattr(evaluation, "evaluate_run", fake_evaluate_run)
  (tmp_path / "eval.json").mkdir()  # unwritable as a file, for root too
  verbosity = absl_logging.get_verbosity()
  flags.FLAGS(["evaluate", f"--workdir={tmp_path}", "--no_progress"])
  try:
    evaluate_cli.main(["evaluate"])  # returns, so the exit status is 0
  finally:
    flags.FLAGS.unparse_flags()
    absl_logging.set_verbosity(verbosity)
  out = capsys.readouterr().out
  assert "wasserstein=0.25, step=6" in out and "Wrote" not in out
  assert f"Could not write {tmp_path / 'eval.json'} (Is a directory)" in caplog.text


class _CountingExtractor:
  """A pixel-mean 'network' whose weights are `scale`, counting the images it sees."""

  def __init__(self, scale):
    self.scale, self.calls = scale, 0

  def __call__(self, images, progress, desc):
    del progress, desc
    self.calls += 1
    features = self.scale * images.reshape(len(images), -1)[:, :4].astype(np.float64)
    return np.full((len(images), 10), 0.1), features


def _extractor(scale):
  counting = _CountingExtractor(scale)
  return evaluation.Extractor(counting, evaluation.weights_digest({"scale": np.float32(scale)})), counting


def test_real_statistics_cache_is_keyed_by_the_extractor_weights(tmp_path):
  _write_sets(tmp_path, num=20)
  real = tmp_path / "real.npz"
  first, counting = _extractor(1.0)
  evaluation.real_features(real, "mnist", first, need_features=False)
  same, counting_same = _extractor(1.0)
  cached = evaluation.real_features(real, "mnist", same, need_features=False)
  assert counting.calls == 1 and counting_same.calls == 0
  other, counting_other = _extractor(2.0)
  rebuilt = evaluation.real_features(real, "mnist", other, need_features=False)
  assert counting_other.calls == 1
  chex.assert_trees_all_close(rebuilt.mu, 2.0 * cached.mu, rtol=1e-6)
  # The shipped classifier's extractor is keyed by its variables.
  from jaxgan.metrics import classifier

  assert evaluation.get_extractor("mnist").weights_digest == evaluation.weights_digest(
    classifier.load_classifier("mnist").variables
  )


def test_folder_of_16_bit_pngs_is_read_like_the_training_data(tmp_path):
  from PIL import Image

  wide = np.random.default_rng(3).integers(0, 65536, (2, 8, 8)).astype(np.uint16)
  for i, image in enumerate(wide):
    Image.fromarray(image).save(tmp_path / f"{i}.png")
  chex.assert_trees_all_close(evaluation.load_image_set(tmp_path)[..., 0], wide / 32767.5 - 1.0, atol=1 / 255 + 1e-6)


class _CountingClassifier:
  """The shipped MNIST classifier's extractor, counting its calls."""

  def __init__(self, extractor):
    self.extractor, self.calls = extractor, 0

  def __call__(self, images, progress, desc):
    self.calls += 1
    return self.extractor(images, progress, desc)


def test_reference_statistics_are_computed_once_per_weights_and_resize(tmp_path, monkeypatch):
  from jaxgan.metrics import inception

  monkeypatch.setenv(inception.CACHE_ENV, str(tmp_path / "cache"))
  _write_sets(tmp_path, num=60)
  spec = f"npz:{tmp_path / 'real.npz'}"
  mnist = evaluation.get_extractor("mnist")

  def counting(resize="none", digest=mnist.weights_digest):
    count = _CountingClassifier(mnist)
    return evaluation.Extractor(count, digest, resize), count

  first, count_first = counting()
  computed, path = evaluation.reference_features(spec, "mnist", first)
  again, count_again = counting()
  cached, cached_path = evaluation.reference_features(spec, "mnist", again)
  assert count_first.calls == 1 and count_again.calls == 0 and cached_path == path and path.is_file()
  assert path.parent == tmp_path / "cache" / "reference_stats" and cached.count == 60
  chex.assert_trees_all_close(
    (cached.mu, cached.sigma, cached.features), (computed.mu, computed.sigma, computed.features)
  )
  # The statistics are those of the images themselves.
  with np.load(tmp_path / "real.npz") as archive:
    direct = evaluation.extract_features(archive["images"] / 127.5 - 1.0, mnist)
  chex.assert_trees_all_close(computed.mu, direct.mu, atol=1e-5)
  for other in (counting(resize="clean"), counting(digest="0" * 64)):
    extractor, count = other
    _, other_path = evaluation.reference_features(spec, "mnist", extractor)
    assert count.calls == 1 and other_path != path
  # A later two-set evaluation compares against the cache and records the protocol.
  results = evaluation.evaluate_image_sets(
    None, tmp_path / "fake.npz", "mnist", metrics=["fid"], progress=False, reference=spec
  )
  assert results["reference"] == spec and results["num_real"] == 60 and results["resize"] == "none"
  assert results["features"] == "mnist" and results["features_weights_digest"] == mnist.weights_digest
  assert results["fid"] > 1.0


def test_reference_cli_fills_the_cache(tmp_path, monkeypatch, capsys):
  from absl import flags

  from experiments import evaluate as evaluate_cli
  from jaxgan.metrics import inception

  monkeypatch.setenv(inception.CACHE_ENV, str(tmp_path / "cache"))
  _write_sets(tmp_path, num=30)
  flags.FLAGS(["evaluate", f"--reference=npz:{tmp_path / 'real.npz'}", "--features=mnist", "--no_progress"])
  try:
    evaluate_cli.main(["evaluate"])
  finally:
    flags.FLAGS.unparse_flags()
  out = capsys.readouterr().out
  assert f"reference=npz:{tmp_path / 'real.npz'}" in out and "num_real=30" in out
  assert len(list((tmp_path / "cache" / "reference_stats").glob("*real.npz.mnist.*.npz"))) == 1
  # tfds specs: a name and a split (train by default); npz specs may name the split of a JPEG-packed file.
  assert evaluation.reference_data_config("cifar10:test").to_dict() == {
    "name": "cifar10",
    "source": "tfds",
    "split": "test",
    "data_dir": None,
    "manual_dir": None,
    "max_examples": 0,
  }
  assert evaluation.reference_data_config("npz:a/b.npz:test", 10).split == "test"
  assert evaluation.features_for_reference("mnist") == "mnist" and evaluation.features_for_reference("cifar10") == (
    "inception"
  )


def test_download_failure_in_the_cli_is_one_line(monkeypatch):
  from absl import flags

  from experiments import evaluate as evaluate_cli
  from jaxgan.metrics import inception

  def unreachable(*args, **kwargs):
    raise ConnectionError("Cannot download the FID Inception weights (refused). On a machine with network: curl ...")

  monkeypatch.setattr(inception, "download_weights", unreachable)
  flags.FLAGS(["evaluate", "--download_inception"])
  try:
    with pytest.raises(SystemExit, match=r"^evaluate: Cannot download the FID Inception weights .*curl"):
      evaluate_cli.main(["evaluate"])
  finally:
    flags.FLAGS.unparse_flags()
