"""The original GAN on MNIST (Goodfellow et al. 2014) as their released pylearn2 experiment (`mnist.yaml` of the
`adversarial` repository) sets it up.

Each setting and its source:
- data: the first 50,000 training images (`MNIST(which_set='train', start=0, stop=50000)`; the last 10,000 were
  their validation set), minibatch 100; the nets compute on pixels in [0, 1] (`unit_output` / `unit_input`
  map the library's [-1, 1] at the nets' boundaries).
- generator: 100 -> 1200 -> 1200 ReLU units (`RectifiedLinear`, `irange` .05) -> 784 sigmoid units; noise
  z ~ U(-sqrt 3, sqrt 3)^100 (`Generator.get_noise`, unit variance).
- discriminator: two maxout layers of 240 units with 5 pieces (`Maxout`, `irange` .005) -> one sigmoid unit; dropout
  with input include probability 0.8 on the image and 0.5 on each hidden layer's output, inverted scaling (their
  `input_scales` 1.25 and 2).
- objective (`AdversaryCost2`): the discriminator minimises 0.5 (BCE(D(x), 1) + BCE(D(G(z)), 0)) (the factor
  halves its step: here its learning rate is 0.05 with the plain sum), the generator BCE(D(G(z)), 1), the
  non-saturating loss; both gradients are taken from the same minibatch, noise and dropout masks at the current
  parameters and applied together (`update_order='simultaneous'`).
- optimiser: SGD at 0.1 with momentum 0.5 rising linearly to 0.7 between epochs 1 and 250 (`MomentumAdjustor`; 500
  updates an epoch), the learning rate divided by 1.000004 every update (`ExponentialDecay`, a half-life of 173,287
  updates) down to 1e-6.

Departures: the generator's output biases start at 0, not at the inverse sigmoid of each pixel's mean
(`init_sigmoid_bias_from_marginals`), which would need the data at initialisation; optax's momentum multiplies the
accumulated trace by the current learning rate where pylearn2 scales each new gradient, a difference under 0.01% of
an update at this decay. No max-norm constraint: the released MNIST configuration has none.
"""

import ml_collections

from experiments.configs.base import base_config, image_data, optimizer

_EPOCH = 500  # updates per epoch: 50,000 images at batch 100
_HALF_LIFE = 173287  # ln 2 / ln 1.000004 updates


def _sgd(learning_rate: float) -> ml_collections.ConfigDict:
  c = optimizer("sgd", learning_rate, momentum=0.5, schedule="exponential", decay_steps=_HALF_LIFE, end_value=1e-6)
  c.final_momentum = 0.7
  c.momentum_begin = 1 * _EPOCH
  c.momentum_saturate = 250 * _EPOCH
  return c


def get_config():
  c = base_config()
  c.name = "gan_mnist"
  c.num_steps = 50000
  c.batch_size = 100
  c.n_critic = 1
  c.update_order = "simultaneous"
  c.log_every = 100
  c.eval_every = 2500
  c.checkpoint_every = 2500
  c.loss = "ns_gan"
  c.prior = "uniform_unit_variance"
  c.latent_dim = 100
  c.data = image_data("mnist")
  c.data.max_examples = 50000
  c.generator = ml_collections.ConfigDict(
    {
      "name": "mlp",
      "features": (1200, 1200),
      "activation": "relu",
      "output_activation": "sigmoid",
      "unit_output": True,
      "init_range": 0.05,
    }
  )
  c.critic = ml_collections.ConfigDict(
    {
      "name": "mlp",
      "features": (240, 240),
      "maxout_pieces": 5,
      "input_dropout": 0.2,
      "hidden_dropout": 0.5,
      "unit_input": True,
      "init_range": 0.005,
    }
  )
  c.g_optimizer = _sgd(0.1)
  c.d_optimizer = _sgd(0.05)
  return c
