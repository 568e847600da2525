"""DCGAN on DeLiGAN's low-data MNIST (1,000 training images): dcgan_mnist unchanged but for the data, the baseline
that deligan_mnist_lowdata's learnable latent mixture is compared with."""

from experiments.configs import dcgan_mnist


def get_config():
  c = dcgan_mnist.get_config()
  c.name = "dcgan_mnist_lowdata"
  c.data.max_examples = 1000
  return c
