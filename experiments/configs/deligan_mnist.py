"""DeLiGAN on all of MNIST (Gurumurthy et al. 2017): the 50-component learnable latent mixture of
deligan_mnist_lowdata with the DCGAN nets and non-saturating loss of dcgan_mnist, trained on the 60,000 images."""

from experiments.configs import deligan_mnist_lowdata


def get_config():
  c = deligan_mnist_lowdata.get_config()
  c.name = "deligan_mnist"
  c.data.max_examples = 0
  return c
