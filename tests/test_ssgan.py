"""The semi-supervised GAN (Salimans et al. 2016): the K-class critic's real/fake logit, its losses and feature matching
against the paper's formulas (as its code writes them), the labelled-subset batches, the test error, and a short
toy run through the one train step."""

import json
import os
import pathlib
import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from jaxgan import classifier_eval, data, nets, semi_supervised
from jaxgan.data import labelled
from jaxgan.train import build_gan, init_state, make_train_step

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _toy_config(noise=0.0):
  from experiments.configs import gan_toy

  c = gan_toy.get_config()
  c.name = "ssgan_toy"
  c.data.name, c.batch_size = "ring8", 32
  c.g_optimizer.learning_rate = c.d_optimizer.learning_rate = 3e-3  # the paper's Adam step
  c.generator.features = (32, 32)
  c.critic = ml_collections.ConfigDict(
    {
      "name": "ssgan",
      "classes": 8,
      "features": (32, 16),
      "input_noise": noise,
      "hidden_noise": noise,
      "weight_norm": True,
    }
  )
  c.classifier = ml_collections.ConfigDict(
    {"name": "ssgan", "class_weight": 2.0, "feature_matching": True, "labelled_per_class": 2, "labelled_batch_size": 16}
  )
  return c


def _logsumexp(x):
  m = x.max(-1, keepdims=True)
  return (m + np.log(np.exp(x - m).sum(-1, keepdims=True)))[..., 0]


def _softplus(x):
  return np.logaddexp(0.0, x)


def test_real_fake_logit_is_z_over_z_plus_one():
  logits = np.random.default_rng(0).normal(size=(5, 10)) * 3
  z = np.exp(logits).sum(-1)
  d = jax.nn.sigmoid(semi_supervised.real_fake_logit(jnp.asarray(logits)))
  chex.assert_trees_all_close(d, z / (z + 1), rtol=1e-5)


def test_semi_supervised_critic_outputs_and_parameter_count():
  critic = nets.build_critic(
    ml_collections.ConfigDict({"name": "ssgan", "classes": 3, "features": (16, 8), "weight_norm": True})
  )
  x = jax.random.normal(jax.random.key(0), (4, 2))
  params, state = critic.init(jax.random.key(1), x)
  # Dense 2->16, 16->8, 8->3, each with a weight-norm scale per output unit.
  assert sum(p.size for p in jax.tree.leaves(params)) == (2 * 16 + 16 + 16) + (16 * 8 + 8 + 8) + (8 * 3 + 3 + 3)
  out, _ = critic.apply(params, state, x, False)
  chex.assert_shape((out.score, out.class_logits, out.features), ((4,), (4, 3), (4, 8)))
  chex.assert_trees_all_close(out.score, _logsumexp(np.asarray(out.class_logits)), rtol=1e-5)
  # Training draws Gaussian noise from the dropout key; inference does not.
  noisy = nets.build_critic(
    ml_collections.ConfigDict({"name": "ssgan", "classes": 3, "features": (16, 8), "input_noise": 0.5})
  )
  params, state = noisy.init(jax.random.key(1), x)
  a, _ = noisy.apply(params, state, x, True, jax.random.key(2))
  b, _ = noisy.apply(params, state, x, True, jax.random.key(3))
  c, _ = noisy.apply(params, state, x, False)
  d, _ = noisy.apply(params, state, x, False)
  assert not np.allclose(a.score, b.score)
  chex.assert_trees_all_equal(c, d)


def test_one_step_matches_the_papers_losses():
  # One SGD step with noise off: recompute L_supervised, L_unsupervised (Salimans et al.'s code, eqs. in Sec. 5),
  # the critic's update and feature matching from the same draws.
  c = _toy_config()
  c.g_optimizer.name = c.d_optimizer.name = "sgd"
  lr, weight = float(c.d_optimizer.learning_rate), float(c.classifier.class_weight)
  gan = build_gan(c)
  state = init_state(gan, jax.random.key(0))
  batch = data.make_batch_fn(c, jax.random.key(1))(0)
  key = jax.random.key(2)
  new_state, metrics = jax.jit(make_train_step(gan))(state, batch, key)

  step_key = jax.random.fold_in(key, 0)

  def latents(update):
    keys = jax.vmap(jax.random.fold_in, (None, 0))(jax.random.fold_in(step_key, update), jnp.arange(c.batch_size))
    return jax.vmap(lambda k: jax.random.normal(jax.random.fold_in(k, 0), (c.latent_dim,)))(keys)

  fake = gan.generator.apply(state.g_params, state.g_state, latents(0), True)[0]
  critic = lambda p, x: gan.critic.apply(p, state.d_state, x, True)[0]

  def paper_losses(p):
    l_lab = critic(p, batch.labelled[0]).class_logits
    l_unl = critic(p, batch.unlabelled[0]).class_logits
    l_gen = critic(p, fake).class_logits
    lse = lambda logits: jax.nn.logsumexp(logits, -1)
    picked = jnp.take_along_axis(l_lab, batch.labels[0][:, None], -1)[:, 0]
    loss_lab = -jnp.mean(picked) + jnp.mean(lse(l_lab))
    loss_unl = (
      -0.5 * jnp.mean(lse(l_unl))
      + 0.5 * jnp.mean(jax.nn.softplus(lse(l_unl)))
      + 0.5 * jnp.mean(jax.nn.softplus(lse(l_gen)))
    )
    return loss_lab, loss_unl

  loss_lab, loss_unl = paper_losses(state.d_params)
  # numpy, as a check of the jnp transcription above
  l_unl, l_gen = (np.asarray(critic(state.d_params, x).class_logits) for x in (batch.unlabelled[0], fake))
  numpy_unl = (
    -0.5 * _logsumexp(l_unl).mean()
    + 0.5 * _softplus(_logsumexp(l_unl)).mean()
    + 0.5 * _softplus(_logsumexp(l_gen)).mean()
  )
  chex.assert_trees_all_close(loss_unl, numpy_unl, rtol=1e-5)
  # Our critic_loss is the unweighted log loss, twice the paper's 1/2-weighted L_unsupervised.
  chex.assert_trees_all_close(metrics["critic_loss"], 2 * loss_unl, rtol=1e-5)
  chex.assert_trees_all_close(metrics["class_loss"], loss_lab, rtol=1e-5)
  logits_lab = np.asarray(critic(state.d_params, batch.labelled[0]).class_logits)
  chex.assert_trees_all_close(metrics["class_accuracy"], np.mean(logits_lab.argmax(-1) == np.asarray(batch.labels[0])))

  def total(p):  # twice the paper's L_supervised + L_unsupervised when weight = 2
    lab, unl = paper_losses(p)
    return 2 * unl + weight * lab

  grads = jax.grad(total)(state.d_params)
  expected = jax.tree.map(lambda p, g: p - lr * g, state.d_params, grads)
  chex.assert_trees_all_close(new_state.d_params, expected, atol=1e-6, rtol=1e-5)

  # Feature matching: the updated critic's last hidden layer on the last real batch and on fresh fakes.
  fake_g = gan.generator.apply(state.g_params, state.g_state, latents(1), True)[0]
  f_real = np.asarray(critic(new_state.d_params, batch.unlabelled[-1]).features)
  f_fake = np.asarray(critic(new_state.d_params, fake_g).features)
  chex.assert_trees_all_close(metrics["generator_loss"], np.mean((f_real.mean(0) - f_fake.mean(0)) ** 2), rtol=1e-4)


def test_feature_matching_defaults_follow_the_head():
  c = _toy_config()
  c.classifier = semi_supervised.default_config()  # as a base config would hold it, feature_matching unset
  c.classifier.name = "ssgan"
  assert semi_supervised.head_from_config(c).feature_matching  # the paper trains G by feature matching
  c.classifier.feature_matching = False
  assert not semi_supervised.head_from_config(c).feature_matching
  c.critic.name, c.classifier.name = "mlp", "none"
  assert semi_supervised.head_from_config(c) is None


def test_labelled_subset_is_balanced_and_seeded():
  labels = np.random.default_rng(0).integers(0, 4, size=200)
  chosen = labelled.labelled_subset(labels, 5, 4, seed=3)
  assert len(chosen) == 20 and len(set(chosen)) == 20
  np.testing.assert_array_equal(np.bincount(labels[chosen], minlength=4), [5, 5, 5, 5])
  np.testing.assert_array_equal(chosen, labelled.labelled_subset(labels, 5, 4, seed=3))
  assert not np.array_equal(chosen, labelled.labelled_subset(labels, 5, 4, seed=4))
  with pytest.raises(ValueError, match="labelled_per_class"):
    labelled.labelled_subset(labels, 100, 4, seed=3)


def test_toy_batches_shapes_labels_and_shards():
  c = _toy_config()
  c.n_critic = 2
  batch = data.make_batch_fn(c, jax.random.key(1))(3)
  chex.assert_shape((batch.unlabelled, batch.labelled, batch.labels), ((2, 32, 2), (2, 16, 2), (2, 16)))
  # Labelled points sit at their class's mode (ring8's std is 0.01).
  centers = data.get_toy("ring8").centers
  distance = np.linalg.norm(np.asarray(batch.labelled) - centers[np.asarray(batch.labels)], axis=-1)
  assert distance.max() < 0.06
  # Two process shards together are the global batch.
  halves = [data.make_batch_fn(c, jax.random.key(1), (i, 2))(3) for i in range(2)]
  chex.assert_trees_all_close(jax.tree.map(lambda a, b: jnp.concatenate([a, b], 1), *halves), batch)


def test_semi_supervised_toy_run_learns_to_classify():
  c = _toy_config(noise=0.1)
  gan = build_gan(c)
  state = init_state(gan, jax.random.key(0))
  step = jax.jit(make_train_step(gan), donate_argnums=0)
  next_batch = data.make_batch_fn(c, jax.random.key(1))
  samples, labels = data.get_toy("ring8").sample_labeled(jax.random.key(9), (2000,))
  before = classifier_eval.test_error(gan, state, np.asarray(samples), np.asarray(labels))
  for t in range(150):
    state, metrics = step(state, next_batch(t), jax.random.key(2))
  after = classifier_eval.test_error(gan, state, np.asarray(samples), np.asarray(labels))
  predictions = classifier_eval.classify(gan, state, np.asarray(samples), batch_size=300)  # a ragged last batch
  chex.assert_trees_all_close(after, np.mean(predictions != np.asarray(labels)))
  assert before > 0.5 and after < 0.05, (before, after)
  assert all(np.isfinite(float(v)) for v in metrics.values())


def test_bad_semi_supervised_configs_raise():
  def fails(match, **changes):
    c = _toy_config()
    for path, value in changes.items():
      section, _, field = path.rpartition("__")
      (c[section] if section else c)[field] = value
    with pytest.raises(ValueError, match=match):
      build_gan(c)

  fails("config.num_classes=0", num_classes=8)
  fails("config.loss", loss="wgan")
  fails("config.classifier.name", classifier__name="sgan")
  fails("config.critic.name='acgan'", classifier__name="acgan", num_classes=8)
  fails("labelled_per_class", classifier__labelled_per_class=0)
  fails("config.classifier.class_weight", classifier__class_weight=-1.0)
  c = _toy_config()
  c.classifier.name = "none"
  with pytest.raises(ValueError, match="config.classifier.name='ssgan'"):
    build_gan(c)
  c = _toy_config()
  c.classifier.labelled = 3
  with pytest.raises(ValueError, match="labelled"):
    build_gan(c)
  c = _toy_config()
  c.critic.classes = 5
  with pytest.raises(ValueError, match="config.critic.classes"):
    data.make_batch_fn(c, jax.random.key(0))
  gan = build_gan(_toy_config())
  state = init_state(gan, jax.random.key(0))
  with pytest.raises(ValueError, match="SemiSupervisedBatch"):
    make_train_step(gan)(state, jnp.zeros((1, 32, 2)), jax.random.key(0))


def test_train_and_eval_cli_on_toy_data(tmp_path):
  from jaxgan.experiment import train_and_evaluate

  c = _toy_config()
  c.num_steps, c.log_every, c.eval_every, c.checkpoint_every, c.eval_samples = 4, 2, 4, 4, 200
  train_and_evaluate(c, tmp_path, progress=False)
  env = dict(os.environ, PYTHONPATH=str(ROOT))
  done = subprocess.run(
    [sys.executable, "-m", "experiments.ssgan_eval", f"--workdir={tmp_path}"],
    cwd=ROOT,
    env=env,
    capture_output=True,
    text=True,
    timeout=300,
  )
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads((tmp_path / "classifier_eval.json").read_text())
  assert results["step"] == 4 and results["num_test"] == 10_000 and 0.0 <= results["test_error"] <= 1.0
  assert "test_error=" in done.stdout


@pytest.mark.slow
def test_mnist_100_labels_batches(mnist_manual_dir, tfds_data_dir):
  from experiments.configs import ssgan_mnist_100labels

  c = ssgan_mnist_100labels.get_config()
  c.data.manual_dir, c.data.data_dir = mnist_manual_dir, tfds_data_dir
  c.batch_size, c.classifier.labelled_batch_size = 50, 100
  next_batch = data.make_batch_fn(c, jax.random.key(0))
  first, second = next_batch(0), next_batch(1)
  chex.assert_shape(
    (first.unlabelled, first.labelled, first.labels), ((1, 50, 28, 28, 1), (1, 100, 28, 28, 1), (1, 100))
  )
  # A batch of 100 from the 100 labelled images is one pass over them: each class 10 times, no image twice.
  np.testing.assert_array_equal(np.bincount(np.asarray(first.labels[0]), minlength=10), [10] * 10)
  images = np.asarray(first.labelled[0]).reshape(100, -1)
  assert len(np.unique(images, axis=0)) == 100
  # The same 100 images come back (reordered) in the next batch, and none of them is in the unlabelled stream.
  again = np.asarray(second.labelled[0]).reshape(100, -1)
  assert {x.tobytes() for x in images} == {x.tobytes() for x in again}
  unlabelled = np.asarray(first.unlabelled[0]).reshape(50, -1)
  assert not {x.tobytes() for x in images} & {x.tobytes() for x in unlabelled}


_PARALLEL_CHECK = """
import functools, json, sys
sys.path.insert(0, "tests")
import chex, jax
import test_acgan, test_ssgan
from jaxgan import data
from jaxgan.parallel import make_parallel_train_step
from jaxgan.train import build_gan, init_state

out = {}
for name, c in (("ssgan", test_ssgan._toy_config()), ("acgan", test_acgan._toy_config())):
  c.g_optimizer.name = c.d_optimizer.name = "sgd"  # Adam's first steps magnify float noise into +-lr
  c.n_critic = 2
  next_batch = data.make_batch_fn(c, jax.random.key(1))
  batches = [next_batch(t) for t in range(2)]
  runs = {}
  for mode in ("none", "pmap", "shard_map"):
    step = make_parallel_train_step(c, mode)
    state = step.put_state(jax.jit(functools.partial(init_state, build_gan(c)))(jax.random.key(0)))
    for batch in batches:
      state, metrics = step(state, batch, jax.random.key(2))
    runs[mode] = (jax.device_get(step.unreplicate(state)), step.host_metrics(metrics), step.num_devices)
  for mode in ("pmap", "shard_map"):
    chex.assert_trees_all_close(runs[mode][0], runs["none"][0], atol=1e-5, rtol=1e-5)
    out[f"{name}/{mode}"] = (runs[mode][2], max(abs(runs[mode][1][k] - runs["none"][1][k]) for k in runs["none"][1]))
print(json.dumps(out))
"""


@pytest.mark.slow
def test_parallel_steps_match_one_device():
  # SSGAN (its batch of three arrays split over devices, feature matching over the global batch) and AC-GAN on two
  # fake CPU devices, in a fresh process: the parameters and metrics of the one-device step.
  env = dict(
    os.environ,
    PYTHONPATH=str(ROOT),
    JAX_PLATFORMS="cpu",
    XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip(),
  )
  done = subprocess.run(
    [sys.executable, "-c", _PARALLEL_CHECK], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
  )
  assert done.returncode == 0, done.stderr[-3000:]
  results = json.loads(done.stdout.strip().splitlines()[-1])
  assert sorted(results) == ["acgan/pmap", "acgan/shard_map", "ssgan/pmap", "ssgan/shard_map"]
  for devices, metric_diff in results.values():
    assert devices == 2 and metric_diff < 1e-4
