"""DeLiGAN (Gurumurthy et al. 2017) on the 25-Gaussian grid: a learnable mixture of 50 Gaussians as the latent
prior (sigma regulariser 0.05 as the authors' code), the non-saturating GAN loss and the toy MLPs of gan_toy."""

import ml_collections

from experiments.configs import gan_toy


def get_config():
  c = gan_toy.get_config()
  c.name = "deligan_toy"
  c.prior = "deligan"
  c.deligan = ml_collections.ConfigDict(
    {"num_components": 50, "sigma_init_min": 0.05, "sigma_init_max": 0.2, "sigma_reg": 0.05}
  )
  return c
