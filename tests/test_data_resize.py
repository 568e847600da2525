"""jaxgan/data/resize.py: bilinear resizing equals torch's F.interpolate (align_corners=False), and the image loader
upsamples MNIST-sized data to a larger net's shape with it."""

import ml_collections
import numpy as np
import pytest

from jaxgan.data import images as images_lib
from jaxgan.data.resize import interpolation_matrix, resize_bilinear, resize_uint8


@pytest.mark.parametrize(
  "size_in, size_out", [((28, 28), (32, 32)), ((32, 32), (28, 28)), ((5, 7), (11, 3)), ((4, 4), (4, 4))]
)
def test_resize_equals_torch_interpolate_bilinear(size_in, size_out):
  torch = pytest.importorskip("torch")
  images = np.random.default_rng(0).uniform(-1, 1, (3, *size_in, 2)).astype(np.float32)
  expected = torch.nn.functional.interpolate(
    torch.from_numpy(images).permute(0, 3, 1, 2), size=size_out, mode="bilinear", align_corners=False
  )
  np.testing.assert_allclose(resize_bilinear(images, size_out), expected.permute(0, 2, 3, 1).numpy(), atol=2e-5)


def test_interpolation_rows_by_hand():
  # 2 -> 4: sources at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (upper neighbour clamped to 1).
  np.testing.assert_allclose(interpolation_matrix(2, 4), [[1, 0], [0.75, 0.25], [0.25, 0.75], [0, 1]])


def test_loader_upsamples_smaller_images_to_the_nets_shape(tmp_path):
  pixels = np.random.default_rng(1).integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)
  np.savez(tmp_path / "digits.npz", images=pixels)
  data = ml_collections.ConfigDict({"name": "digits", "source": f"npz:{tmp_path / 'digits.npz'}"})
  loaded, _ = images_lib.load_images(data, (32, 32, 1))
  np.testing.assert_array_equal(loaded, resize_uint8(pixels, (32, 32)))
  with pytest.raises(ValueError, match="set config.data.image_shape"):
    images_lib.load_images(data, (24, 24, 1))  # shrinking is not implied
