"""The shipped MNIST / Fashion-MNIST classifiers: weights load, accuracy on real test images, FID reference values."""

import os

import chex
import ml_collections
import numpy as np
import pytest

from jaxgan.data.images import load_images, to_unit_range
from jaxgan.metrics import classifier, classifier_accuracy, fid_from_features

NUM_TEST = 2000


def _mnist(split, tfds_data_dir, manual_dir):
  config = ml_collections.ConfigDict(
    {"name": "mnist", "source": "tfds", "split": split, "data_dir": tfds_data_dir, "manual_dir": manual_dir}
  )
  images, labels = load_images(config, (28, 28, 1))
  return to_unit_range(images), labels


@pytest.fixture(scope="module")
def mnist_test(tfds_data_dir, mnist_manual_dir):
  images, labels = _mnist("test", tfds_data_dir, mnist_manual_dir)
  return images[:NUM_TEST], labels[:NUM_TEST]


@pytest.mark.parametrize("dataset,min_accuracy", [("mnist", 0.993), ("fashion_mnist", 0.91)])
def test_shipped_weights_load_small_and_accurate(dataset, min_accuracy):
  path = classifier.weights_path(dataset)
  assert os.path.getsize(path) < 2 * 2**20
  net = classifier.load_classifier(dataset)
  # The accuracy the training script measured on all 10,000 test images.
  assert net.meta["dataset"] == dataset and net.meta["test_accuracy"] >= min_accuracy
  images = np.random.default_rng(0).uniform(-1, 1, (3, 28, 28, 1)).astype(np.float32)
  probs, features = classifier.classifier_outputs(images, dataset)
  chex.assert_shape(probs, (3, 10))
  chex.assert_shape(features, (3, net.module.hidden))
  np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
  assert features.min() >= 0  # after a ReLU


def test_bad_inputs_are_refused():
  with pytest.raises(ValueError, match="to_unit_range"):
    classifier.softmax_probs(np.zeros((2, 28, 28, 1), np.uint8))
  with pytest.raises(ValueError, match=r"\[N, 28, 28, 1\]"):
    classifier.softmax_probs(np.zeros((2, 32, 32, 3), np.float32))
  with pytest.raises(ValueError, match="No classifier"):
    classifier.load_classifier("cifar10")


def test_mnist_accuracy_on_real_test_images(mnist_test):
  images, labels = mnist_test
  probs = classifier.softmax_probs(images, "mnist", batch_size=512)  # 2000 = 3 full batches + a padded one
  accuracy = classifier_accuracy(probs, labels)
  assert accuracy >= 0.993, accuracy
  # Batching and padding do not change the outputs.
  np.testing.assert_allclose(classifier.softmax_probs(images[:7], "mnist"), probs[:7], atol=1e-6)


def test_real_vs_real_fid_is_small_and_noise_fid_large(mnist_test, tfds_data_dir, mnist_manual_dir):
  test_images, _ = mnist_test
  train_images, _ = _mnist("train", tfds_data_dir, mnist_manual_dir)
  train_images = train_images[np.random.default_rng(0).choice(len(train_images), NUM_TEST, replace=False)]
  noise = np.random.default_rng(1).uniform(-1, 1, test_images.shape).astype(np.float32)
  test_f, train_f, noise_f = (classifier.penultimate_features(x) for x in (test_images, train_images, noise))
  real_vs_real = fid_from_features(train_f, test_f)
  real_vs_noise = fid_from_features(noise_f, test_f)
  # README "Evaluation" lists the values these bounds bracket.
  assert real_vs_real < 5.0, real_vs_real
  assert real_vs_noise > 100 * real_vs_real, (real_vs_noise, real_vs_real)
