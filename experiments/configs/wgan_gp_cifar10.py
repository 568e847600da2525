"""WGAN-GP on CIFAR-10 (Gulrajani et al. 2017, unconditional DCGAN-style nets): the critic without BatchNorm
(the penalty is per sample), lambda = 10, n_critic 5, Adam 1e-4 with betas (0.5, 0.9), batch 64, 100k generator
updates in the paper (fewer here by default). Offline, pass --config.data.source=npz:FILE (see README)."""

from experiments.configs import wgan_gp_mnist
from experiments.configs.base import image_data


def get_config():
  c = wgan_gp_mnist.get_config()
  c.name = "wgan_gp_cifar10"
  c.num_steps = 50000
  c.eval_every = 2500
  c.checkpoint_every = 2500
  c.data = image_data("cifar10")
  return c
