"""A checkpoint written by an earlier version of jaxgan (tests/fixtures/checkpoint_v0, made by
tests/fixtures/make_checkpoint_v0.py) restores into today's code with the same arrays, and one more train step from it
gives the losses that version recorded."""

import os
import shutil

import chex
import jax
import numpy as np

from jaxgan import data, evaluation
from jaxgan.train import make_train_step

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "checkpoint_v0")


def test_checkpoint_v0_restores_and_continues(tmp_path):
  workdir = tmp_path / "run"
  shutil.copytree(FIXTURE, workdir)  # a copy: restoring must not touch the repository's files
  config, gan, state, step = evaluation.load_run(workdir)
  with np.load(os.path.join(FIXTURE, "expected.npz")) as expected:
    expected = dict(expected)
  assert step == int(expected["step"]) == 3
  leaves = {
    f"state{jax.tree_util.keystr(path)}": np.asarray(leaf)
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]
  }
  assert sorted(leaves) == sorted(k for k in expected if k.startswith("state"))
  for name, leaf in leaves.items():
    np.testing.assert_array_equal(leaf, expected[name], err_msg=name)
  batch = data.make_batch_fn(config, jax.random.key(1))(step)
  np.testing.assert_array_equal(np.asarray(batch), expected["batch"])
  _, metrics = jax.jit(make_train_step(gan))(state, batch, jax.random.key(2))
  recorded = {k.split("/", 1)[1]: v for k, v in expected.items() if k.startswith("metrics/")}
  assert sorted(metrics) == sorted(recorded)
  chex.assert_trees_all_close(jax.device_get(metrics), recorded, rtol=1e-5, atol=1e-6)
