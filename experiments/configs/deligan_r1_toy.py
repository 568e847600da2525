"""A sharp, full-coverage toy config, tuned for PacGAN's metrics (Lin et al. 2018, Sec. 5.1) on the 25-Gaussian grid
and the 8-Gaussian ring: the non-saturating GAN loss with the R1 penalty (Mescheder et al. 2018, eq. 9, gamma = 0.3)
and DeLiGAN's learnable mixture prior (Gurumurthy et al. 2017) with 200 narrow components (sigma starts in
(0.001, 0.005], no sigma regulariser), Adam 5e-4 decayed linearly to 0 over the 20,000 steps.

Why: PacGAN counts a sample as high quality only within 3 std of a mode (0.15 on the grid, 0.03 on the ring). A
continuous N(0, I) latent must be folded onto disjoint modes, and the folds leave mass between them (the other toy
configs reach 10-50% high quality). Narrow latent components are nearly points, so each lands on a mode with no
bridge between modes; R1 makes the game converge onto the data instead of circling it, and the decaying learning rate
lets the components settle (at 2e-4 they had not settled after 20,000 steps: 77% high quality). The toy MLPs,
batch 256 and Adam betas (0.5, 0.999) are gan_toy's.

Variant `:ema` (`--config=experiments/configs/deligan_r1_toy.py:ema`) evaluates a moving average of the generator and
its prior (Yazici et al. 2019; `jaxgan.ema`, decay 0.999 with StyleGAN2-ADA's ramp-up 0.05); training is unchanged.
"""

import ml_collections

from experiments.configs import gan_toy

VARIANTS = ("", "ema")


def get_config(variant: str = ""):
  if variant not in VARIANTS:
    raise ValueError(f"deligan_r1_toy has variants {VARIANTS[1:]}; got {variant!r}.")
  c = gan_toy.get_config()
  c.name = "deligan_r1_toy"
  c.num_steps = 20000
  c.eval_every = 5000
  c.checkpoint_every = 5000
  c.log_every = 500
  c.loss = "ns_gan"
  c.penalty = "r1"
  c.penalty_weight = 0.3
  c.prior = "deligan"
  c.deligan = ml_collections.ConfigDict(
    {"num_components": 200, "sigma_init_min": 0.001, "sigma_init_max": 0.005, "sigma_reg": 0.0}
  )
  for opt in (c.g_optimizer, c.d_optimizer):
    opt.learning_rate = 5e-4
    opt.schedule = "linear"
    opt.decay_steps = c.num_steps  # n_critic = n_generator = 1: one update of each per step
    opt.end_value = 0.0
  if variant == "ema":
    c.name = "deligan_r1_toy_ema"
    c.ema.update(decay=0.999, rampup=0.05)
  return c
