"""T-SGAN (Su 2018, eq. 14) on the 25-Gaussian grid: the two-argument critic T(x_r, x_f) = D(E(x_r) - E(x_f)) with
spectral normalisation. The authors' image schedule (one T update, then two G updates, Adam 2e-4, betas (0.5, 0.999))
collapses on this grid (2 of 25 modes after 3,000 steps here); one G update per T update with Adam 1e-4, betas
(0.5, 0.9) covers 21 of 25. `--config.n_generator=2` and the 2e-4 learning rates restore the authors' schedule."""

import ml_collections

from experiments.configs.base import base_config, optimizer


def get_config():
  c = base_config()
  c.name = "t_sgan_toy"
  c.num_steps = 3000
  c.batch_size = 256
  c.n_critic = 1
  c.n_generator = 1
  c.loss = "t_sgan"
  c.latent_dim = 2
  c.data.name = "grid25"
  c.critic = ml_collections.ConfigDict(
    {
      "name": "tgan",
      "encoder": "mlp",
      "features": (128, 128, 128),
      "head_features": (128,),
      "activation": "relu",
      "spectral_norm": True,
    }
  )
  c.g_optimizer = optimizer("adam", 1e-4, b1=0.5, b2=0.9)
  c.d_optimizer = optimizer("adam", 1e-4, b1=0.5, b2=0.9)
  return c
