"""Shared test setup: the repository root on sys.path (for `experiments.*`) and small-run helpers."""

import os
import sys
import tempfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)


DATA_DIR = os.environ.get("JAXGAN_DATA_DIR", os.path.join(ROOT, "..", "shared", "datasets"))

# Many tests compile the same small programs (the tiny toy run's step, its evaluation): XLA's persistent cache lets
# every later test, xdist worker and CLI subprocess load them instead of compiling again. Set before jax is imported
# (subprocesses inherit the environment); the cache is keyed by the program, options and versions, so it never
# changes a result. JAXGAN_TEST_XLA_CACHE="" turns it off.
_XLA_CACHE = os.environ.get("JAXGAN_TEST_XLA_CACHE", os.path.join(tempfile.gettempdir(), "jaxgan-test-xla-cache"))
if _XLA_CACHE:
  os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", _XLA_CACHE)
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
  os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")


def pytest_configure(config):
  config.addinivalue_line("markers", "slow: longer end-to-end tests (CI still runs them; skip with -m 'not slow')")


@pytest.fixture
def tiny_toy_config():
  """wgan_gp_toy shrunk to a few tiny steps."""
  from experiments.configs import wgan_gp_toy

  c = wgan_gp_toy.get_config()
  c.num_steps = 6
  c.batch_size = 16
  c.log_every = 2
  c.eval_every = 4
  c.checkpoint_every = 4
  c.eval_samples = 200
  c.generator.features = (16, 16)
  c.critic.features = (16, 16)
  return c


@pytest.fixture(scope="session")
def mnist_manual_dir():
  """Folder with the original MNIST files, from JAXGAN_DATA_DIR (default ../shared/datasets)."""
  path = os.path.join(DATA_DIR, "mnist")
  if not os.path.exists(os.path.join(path, "train-images-idx3-ubyte.gz")):
    pytest.skip(f"real MNIST files not found in {path}; set JAXGAN_DATA_DIR to a folder holding mnist/")
  return path


@pytest.fixture(scope="session")
def tfds_data_dir(tmp_path_factory):
  """One tfds data_dir per test session, so each dataset is prepared once."""
  return str(tmp_path_factory.mktemp("tfds_data"))


def first_cifar10_images(dest: str | os.PathLike, n: int) -> dict:
  """Repacks the first `n` images of the real JPEG-packed CIFAR-10 copy into the npz `dest` (decoding all 60,000
  takes a while) and returns its arrays (jpeg, offsets, labels, is_test); skips the test where the copy is absent."""
  import numpy as np

  path = os.path.join(DATA_DIR, "cifar10", "cifar10_jpeg_q75.npz")
  if not os.path.exists(path):
    pytest.skip(f"{path} not found; set JAXGAN_DATA_DIR to a folder holding cifar10/")
  with np.load(path) as archive:
    offsets = archive["offsets"][: n + 1]
    arrays = {
      "jpeg": archive["jpeg"][: offsets[-1]],
      "offsets": offsets,
      "labels": archive["labels"][:n],
      "is_test": archive["is_test"][:n],
    }
  np.savez(dest, **arrays)
  return arrays
