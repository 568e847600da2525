"""WGAN with weight clipping on MNIST (Arjovsky et al. 2017): DCGAN nets (BatchNorm in the critic, as the paper's
DCGAN critic), RMSProp 5e-5 as torch's RMSprop, clip 0.01, n_critic 5, batch 64."""

from experiments.configs import dcgan_mnist
from experiments.configs.base import optimizer


def get_config():
  c = dcgan_mnist.get_config()
  c.name = "wgan_mnist"
  c.n_critic = 5
  c.loss = "wgan"
  c.g_optimizer = optimizer("rmsprop", 5e-5, decay=0.99, eps=1e-8)
  c.d_optimizer = optimizer("rmsprop", 5e-5, decay=0.99, eps=1e-8, clip=0.01)
  return c
