"""T-WGAN (Su 2018, eq. 17) on the 25-Gaussian grid: T minimises E[T(x_f, x_r) - T(x_r, x_f)] under the Lipschitz
constraint of spectral normalisation of E and D (the authors' t_wgan_sn scripts). On this toy grid the authors'
image schedule (one T update, two G updates, Adam 2e-4) collapses to a single moving blob (0 of 25 modes after 3,000
steps here); WGAN's schedule, five T updates per G update with Adam 1e-4 and betas (0.5, 0.9), covers 23 of 25.
`--config.n_critic=1 --config.n_generator=2` restores the authors' schedule."""

from experiments.configs import t_sgan_toy


def get_config():
  c = t_sgan_toy.get_config()
  c.name = "t_wgan_toy"
  c.loss = "t_wgan"
  c.n_critic = 5
  return c
