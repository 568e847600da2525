"""dcgan_mnist with the training tips switched on: two-sided label smoothing, 5% label flipping and annealed
instance noise on the discriminator's inputs (real and fake batches stay separate through its BatchNorm)."""

import ml_collections

from experiments.configs import dcgan_mnist


def get_config():
  c = dcgan_mnist.get_config()
  c.name = "dcgan_mnist_tips"
  c.tips = ml_collections.ConfigDict(
    {
      "label_smoothing": "two_sided",
      "real_label": 0.9,
      "fake_label": 0.1,
      "flip_fraction": 0.05,
      "instance_noise": 0.1,
      "instance_noise_anneal_steps": 5000,
    }
  )
  return c
