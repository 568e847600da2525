"""RSGAN (Jolicoeur-Martineau 2018) on the 25-Gaussian grid: the relativistic standard GAN loss, pairing each real
with a fake sample, with the toy MLPs of gan_toy (Adam 2e-4, betas (0.5, 0.999), n_critic 1)."""

from experiments.configs import gan_toy


def get_config():
  c = gan_toy.get_config()
  c.name = "rsgan_toy"
  c.loss = "rsgan"
  return c
