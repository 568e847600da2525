"""The hinge GAN loss (Lim & Ye 2017, "Geometric GAN"; the form of Miyato et al. 2018, eq. 16) on the 25-Gaussian
grid: the critic minimises E[relu(1 - D(x))] + E[relu(1 + D(G(z)))], the generator -E[D(G(z))]. The toy MLPs and
optimiser of gan_toy (batch 256, Adam 2e-4 with betas (0.5, 0.999), n_critic 1)."""

from experiments.configs import gan_toy


def get_config():
  c = gan_toy.get_config()
  c.name = "hinge_toy"
  c.loss = "hinge"
  return c
