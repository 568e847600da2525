"""The original GAN (Goodfellow et al. 2014) on the 25-Gaussian grid with the non-saturating generator loss the paper
recommends in practice (Sec. 3); Adam 2e-4 with betas (0.5, 0.999), n_critic 1, the same MLPs as wgan_gp_toy.
Set `--config.loss=gan` for the saturating minimax loss."""

from experiments.configs.base import base_config, optimizer


def get_config():
  c = base_config()
  c.name = "gan_toy"
  c.num_steps = 5000
  c.batch_size = 256
  c.n_critic = 1
  c.loss = "ns_gan"
  c.latent_dim = 2
  c.data.name = "grid25"
  c.g_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  c.d_optimizer = optimizer("adam", 2e-4, b1=0.5, b2=0.999)
  return c
