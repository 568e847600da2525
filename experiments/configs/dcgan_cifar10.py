"""DCGAN on CIFAR-10 (Radford et al. 2016): the DCGAN nets at 32x32x3 (transposed-conv generator with BatchNorm
and ReLU, strided-conv discriminator with LeakyReLU 0.2 and BatchNorm), non-saturating loss, Adam 2e-4 with betas
(0.5, 0.999), batch 64 (the paper's 128 halved for CPUs; set --config.batch_size=128 for the paper's), z ~ N(0, I)
of dimension 100. Offline, pass the images as --config.data.source=npz:FILE (see README)."""

from experiments.configs import dcgan_mnist
from experiments.configs.base import image_data


def get_config():
  c = dcgan_mnist.get_config()
  c.name = "dcgan_cifar10"
  c.num_steps = 50000
  c.eval_every = 2500
  c.checkpoint_every = 2500
  c.data = image_data("cifar10")
  return c
