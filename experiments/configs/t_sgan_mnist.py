"""T-SGAN on MNIST (Su 2018, eq. 14): the DCGAN generator of dcgan_mnist and the two-argument critic
T(x_r, x_f) = D(E(x_r) - E(x_f)) with a DCGAN encoder and spectral normalisation, the authors' image schedule of one
T update then two G updates, Adam 2e-4 with beta1 0.5 (as t_sgan_cifar10)."""

import ml_collections

from experiments.configs import dcgan_mnist


def get_config():
  c = dcgan_mnist.get_config()
  c.name = "t_sgan_mnist"
  c.loss = "t_sgan"
  c.n_generator = 2
  c.critic = ml_collections.ConfigDict(
    {
      "name": "tgan",
      "encoder": "dcgan",
      "base_features": 64,
      "embedding": 128,
      "head_features": (128,),
      "activation": "relu",
      "spectral_norm": True,
    }
  )
  return c
