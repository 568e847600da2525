"""SNGAN on MNIST: the SNGAN ResNet nets (Miyato et al. 2018, Table 4) in their 28x28 variant (z -> 7x7x256, two
up-sampling residual blocks; the critic's two down-sampling blocks end at 7x7), with the CIFAR-10 setup's hinge loss,
n_critic = 5, Adam 2e-4 with betas (0, 0.9) and batch 64 (see `sngan_cifar10`). The paper reports no MNIST run; this
config carries its CIFAR-10 choices over unchanged."""

from experiments.configs import sngan_cifar10
from experiments.configs.base import image_data


def get_config():
  c = sngan_cifar10.get_config()
  c.name = "sngan_mnist"
  c.num_steps = 20000
  c.eval_every = 1000
  c.checkpoint_every = 1000
  c.data = image_data("mnist")
  return c
