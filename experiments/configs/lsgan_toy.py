"""LSGAN (Mao et al. 2017, eq. 9: a = 0, b = c = 1) on the 25-Gaussian grid: least-squares critic and generator
losses with the toy MLPs and optimiser of gan_toy (batch 256, Adam 2e-4 with betas (0.5, 0.999), n_critic 1)."""

from experiments.configs import gan_toy


def get_config():
  c = gan_toy.get_config()
  c.name = "lsgan_toy"
  c.loss = "lsgan"
  return c
