"""The original GAN (Goodfellow et al. 2014, eq. 1) on the 25-Gaussian grid with the saturating minimax generator
loss log(1 - D(G(z))) that the paper analyses, rather than the non-saturating one it recommends in practice (that is
gan_toy). Everything else as gan_toy: the toy MLPs, batch 256, Adam 2e-4 with betas (0.5, 0.999), n_critic 1."""

from experiments.configs import gan_toy


def get_config():
  c = gan_toy.get_config()
  c.name = "gan_minimax_toy"
  c.loss = "gan"
  return c
