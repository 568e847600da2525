"""The Flax FID Inception network against torch's (pytorch-fid's `fid_inception_v3` architecture, torchvision blocks).

`tests/fixtures/fid_inception_expected.npz` holds the torch network's pool3 features and logits under deterministic
numpy weights (written by `tests/fixtures/fid_inception_reference.py` in a separate torch environment); here the same
weights are regenerated, converted with the same function that converts pytorch-fid's .pth file, and must reproduce
them to 1e-4.
"""

import builtins
import collections
import importlib.util
import os
import pickle
import subprocess
import time
import zipfile

import chex
import jax
import numpy as np
import pytest

from jaxgan.metrics import inception

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def _reference_module():
  spec = importlib.util.spec_from_file_location(
    "fid_inception_reference", os.path.join(FIXTURES, "fid_inception_reference.py")
  )
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope="module")
def expected():
  path = os.path.join(FIXTURES, "fid_inception_expected.npz")
  if not os.path.exists(path):
    pytest.skip(f"{path} is absent; write it with tests/fixtures/fid_inception_reference.py in a torch environment.")
  with np.load(path) as archive:
    return {k: archive[k] for k in archive.files}


@pytest.fixture(scope="module")
def state_dict(expected):
  reference = _reference_module()
  shapes = [tuple(int(d) for d in s.split(",")) if s else () for s in expected["shapes"]]
  weights = reference.fixture_weights(zip(expected["names"].tolist(), shapes), int(expected["seed"]))
  sums = np.array([np.sum(weights[n], dtype=np.float64) for n in expected["names"]])
  # A mismatch here means numpy drew different weights, not that the network is wrong.
  np.testing.assert_allclose(sums, expected["weight_sums"], rtol=1e-6, atol=1e-6)
  return weights


def test_parameter_count_matches_torch(expected):
  assert inception.parameter_count() == int(expected["num_params"]) == 23_850_960


def test_flax_port_matches_torch_reference(expected, state_dict):
  net = inception.Inception(inception.FIDInceptionV3(), inception.convert_state_dict(state_dict))
  groups = _reference_module().fixture_inputs(int(expected["seed"]))
  # batch_size=2 for both groups: one compiled network serves both resizes.
  outputs = [inception.inception_outputs(images, net, batch_size=2) for images in groups]
  pool3 = np.concatenate([o[0] for o in outputs])
  logits = np.concatenate([o[1] for o in outputs])
  chex.assert_shape(pool3, (3, inception.POOL3_DIM))
  chex.assert_shape(logits, (3, inception.NUM_LOGITS))
  assert np.std(expected["pool3"]) > 0.1  # the fixture's activations are neither vanishing nor saturated
  np.testing.assert_allclose(pool3, expected["pool3"], atol=1e-4, rtol=0)
  np.testing.assert_allclose(logits, expected["logits"], atol=1e-4, rtol=0)


def test_resize_is_bilinear_half_pixel_without_antialias():
  # torch F.interpolate(bilinear, align_corners=False) of a 2x2 ramp to 4x4: 0, .25, .75, 1 along each axis.
  ramp = np.array([[0.0, 1.0], [0.0, 1.0]], np.float32)[None, :, :, None].repeat(3, -1)
  out = jax.image.resize(ramp, (1, 4, 4, 3), method="bilinear", antialias=False)
  np.testing.assert_allclose(np.asarray(out)[0, 0, :, 0], [0.0, 0.25, 0.75, 1.0], atol=1e-7)
  # Downsampling 4 -> 2 without antialiasing samples between the two central pixels of each half.
  row = np.array([0.0, 1.0, 2.0, 3.0], np.float32)[None, None, :, None].repeat(3, -1).repeat(2, 1)
  down = jax.image.resize(row, (1, 2, 2, 3), method="bilinear", antialias=False)
  np.testing.assert_allclose(np.asarray(down)[0, 0, :, 0], [0.5, 2.5], atol=1e-7)


def test_missing_weights_name_the_file_and_its_source(tmp_path, monkeypatch):
  monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
  with pytest.raises(FileNotFoundError, match=r"pt_inception-2015-12-05-6726825d\.pth.*github\.com/mseitzer"):
    inception.load_inception(tmp_path / "nope.pth")
  with pytest.raises(FileNotFoundError, match=inception.WEIGHTS_ENV):
    inception.load_inception()


def test_wrong_state_dict_is_refused(state_dict):
  broken = dict(state_dict)
  broken["AuxLogits.fc.weight"] = np.zeros((1000, 768), np.float32)
  del broken["Mixed_7c.branch_pool.conv.weight"]
  with pytest.raises(ValueError, match=r"unexpected keys \['AuxLogits.fc.weight'\].*Mixed_7c.branch_pool.conv"):
    inception.convert_state_dict(broken)


def tiny_state_dict():
  """What `fid_inception_reference.write_tiny_checkpoints` saved: a float32 conv weight, a transposed (strided) view,
  a float64 vector and an int64 scalar."""
  weight = np.arange(24, dtype=np.float32).reshape(2, 3, 2, 2) / 7
  return {
    "conv.weight": weight,
    "fc.weight": np.arange(6, dtype=np.float32).reshape(2, 3).T,
    "bn.running_var": np.linspace(0.5, 1.5, 5),
    "bn.num_batches_tracked": np.int64(7),
  }


@pytest.mark.parametrize("name", ["tiny_state_dict_zip.pth", "tiny_state_dict_legacy.pth"])
def test_torch_checkpoints_are_read_without_torch(name):
  path = os.path.join(FIXTURES, name)
  if not os.path.exists(path):
    pytest.skip(f"{path} is absent; write it with tests/fixtures/fid_inception_reference.py in a torch environment.")
  loaded = inception.read_torch_state_dict(path)
  expected = tiny_state_dict()
  assert list(loaded) == list(expected)
  for key, value in expected.items():
    assert loaded[key].dtype == np.asarray(value).dtype, key
    np.testing.assert_array_equal(loaded[key], value)


def test_npz_weights_drive_the_two_set_evaluation(state_dict, tmp_path):
  from jaxgan import evaluation

  weights = tmp_path / "fid_inception.npz"
  np.savez(weights, **state_dict)
  rng = np.random.default_rng(0)
  np.savez(tmp_path / "real.npz", images=rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8))
  np.savez(tmp_path / "fake.npz", images=rng.uniform(-1, 1, (3, 32, 32, 3)).astype(np.float32))
  with pytest.warns(UserWarning):  # 3 samples for 2048-d features: FID is finite but biased, and says so
    results = evaluation.evaluate_image_sets(
      tmp_path / "real.npz",
      tmp_path / "fake.npz",
      "inception",
      metrics=["fid", "inception_score"],
      inception_weights=str(weights),
      progress=False,
    )
  assert results["num_real"] == results["num_fake"] == 3 and np.isfinite(results["fid"]) and results["fid"] > 0
  from jaxgan.metrics import inception_score

  with np.load(tmp_path / "fake.npz") as fake:
    probs, _ = evaluation.get_extractor("inception", str(weights))(fake["images"], False, "check")
  assert results["inception_score"] == pytest.approx(
    inception_score(np.asarray(probs, np.float64), splits=1)[0], rel=1e-4
  )
  with np.load(tmp_path / "real.inception_stats.npz") as cached:
    assert cached["mu"].shape == (2048,) and cached["marginal"].shape == (1008,)


# ---------- weights files that must be refused, not run ----------


class _Reduce:
  """Pickles as a call of `function(*args)` (the payload a hostile file carries); calling it here does nothing."""

  def __init__(self, function, *args):
    self.function, self.args = function, args

  def __reduce__(self):
    return self.function, self.args

  def __call__(self, *args):
    raise AssertionError("only pickled, never called")


def _payloads(marker):
  command = f"touch {marker}"
  return {
    "os.system": _Reduce(os.system, command),
    "builtins.eval": _Reduce(builtins.eval, f"__import__('os').system({command!r})"),
    "subprocess.Popen": _Reduce(subprocess.Popen, ["touch", str(marker)]),
    # A reduce whose argument is itself a reduce, under a global the state-dict reader allows.
    "nested reduce": _Reduce(collections.OrderedDict, _Reduce(os.system, command)),
    # A reduce whose callable is itself a reduce: getattr(__import__('os'), 'system')(command).
    "reduced callable": _Reduce(_Reduce(getattr, _Reduce(builtins.__import__, "os"), "system"), command),
  }


def _legacy_pickles(position, payload):
  """A legacy .pth's five pickles (magic, protocol, system info, state dict, storage keys), `payload` at `position`."""
  parts = [0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}, {}, []]
  parts[position] = payload
  return b"".join(pickle.dumps(part, protocol=2) for part in parts)


def _zip_pickle(path, payload):
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("weights/data.pkl", pickle.dumps(payload, protocol=4))
    archive.writestr("weights/version", "3\n")


@pytest.mark.parametrize("where", ["legacy header", "legacy state dict", "legacy storage keys", "zip data.pkl"])
def test_pickled_code_in_a_weights_file_is_refused_not_run(tmp_path, where):
  for name, payload in _payloads(tmp_path / "PWNED").items():
    path = tmp_path / f"{name.replace(' ', '_')}.pth"
    if where == "zip data.pkl":
      _zip_pickle(path, payload)
    else:
      position = {"legacy header": 0, "legacy state dict": 3, "legacy storage keys": 4}[where]
      path.write_bytes(_legacy_pickles(position, payload))
    with pytest.raises(ValueError, match=rf"{path.name} holds disallowed content") as error:
      inception.load_inception(path)
    assert "\n" not in str(error.value), error.value
  time.sleep(0.1)  # a Popen would have run by now
  assert not (tmp_path / "PWNED").exists(), f"a payload in the {where} ran"


def _fixture_bytes(name):
  path = os.path.join(FIXTURES, name)
  if not os.path.exists(path):
    pytest.skip(f"{path} is absent; write it with tests/fixtures/fid_inception_reference.py in a torch environment.")
  with open(path, "rb") as f:
    return f.read()


def test_a_tensor_outside_its_storage_is_refused(tmp_path):
  legacy = _fixture_bytes("tiny_state_dict_legacy.pth")
  size = b"K\x02K\x03K\x02K\x02t"  # conv.weight's size (2, 3, 2, 2) over a storage of 24 floats
  assert legacy.count(size) == 1
  path = tmp_path / "strided.pth"
  path.write_bytes(legacy.replace(size, b"K\xffK\x03K\x02K\x02t"))  # (255, 3, 2, 2): reads past the storage
  with pytest.raises(ValueError, match=r"strided\.pth cannot be read.*outside its storage"):
    inception.read_weights(path)


@pytest.mark.parametrize(
  "kind",
  [
    "empty",
    "random bytes",
    "truncated legacy",
    "truncated zip",
    "directory",
    "truncated npz",
    "random npz",
    "directory npz",
  ],
)
def test_an_unreadable_weights_file_gets_one_line_naming_it(tmp_path, kind):
  rng = np.random.default_rng(0)
  suffix = ".npz" if kind.endswith("npz") else ".pth"
  path = tmp_path / f"weights{suffix}"
  if kind.startswith("directory"):
    path.mkdir()
  elif kind == "empty":
    path.write_bytes(b"")
  elif kind.startswith("random"):
    path.write_bytes(rng.bytes(4096))
  elif kind == "truncated npz":
    np.savez(path, **tiny_state_dict())
    path.write_bytes(path.read_bytes()[:300])
  else:
    content = _fixture_bytes(f"tiny_state_dict_{kind.split()[1]}.pth")
    path.write_bytes(content[: len(content) // 2])
  with pytest.raises(ValueError, match=rf"weights{suffix} (is a directory|cannot be read).*pt_inception") as error:
    inception.load_inception(path)
  assert "\n" not in str(error.value), error.value


class _Server:
  """A file server on 127.0.0.1 in a thread, counting the requests it answers."""

  def __init__(self, folder):
    import functools
    import http.server
    import threading

    server = self

    class Handler(http.server.SimpleHTTPRequestHandler):
      def do_GET(self):  # noqa: N802 (http.server's name)
        server.requests += 1
        super().do_GET()

      def log_message(self, *args):
        del args

    self.requests = 0
    self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=folder))
    self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    self.thread.start()
    self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

  def close(self):
    self.httpd.shutdown()
    self.httpd.server_close()


@pytest.fixture
def file_server(tmp_path, monkeypatch):
  for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
    monkeypatch.delenv(name, raising=False)  # 127.0.0.1 directly
  monkeypatch.setenv(inception.CACHE_ENV, str(tmp_path / "cache"))
  served = tmp_path / "served"
  served.mkdir()
  payload = os.urandom(3000)
  (served / "weights-1234.pth").write_bytes(payload)
  server = _Server(str(served))
  yield server, payload
  server.close()


def test_download_is_checked_cached_and_fetched_once(file_server, tmp_path):
  import hashlib

  server, payload = file_server
  url, digest = f"{server.url}/weights-1234.pth", hashlib.sha256(payload).hexdigest()
  path = inception.download_weights(url, digest, timeout=5)
  assert path == tmp_path / "cache" / "weights-1234.pth" and path.read_bytes() == payload
  assert inception.download_weights(url, digest, timeout=5) == path
  assert server.requests == 1
  assert sorted(os.listdir(tmp_path / "cache")) == ["weights-1234.pth"]  # no temporary file left


def test_download_with_a_wrong_checksum_caches_nothing(file_server, tmp_path):
  server, _ = file_server
  with pytest.raises(ValueError, match=r"has SHA-256 [0-9a-f]{64}, not the published 0{64}; it was discarded.*curl"):
    inception.download_weights(f"{server.url}/weights-1234.pth", "0" * 64, timeout=5)
  assert server.requests == 1 and os.listdir(tmp_path / "cache") == []


def test_unreachable_download_fails_fast_with_the_manual_steps(tmp_path, monkeypatch):
  monkeypatch.setenv(inception.CACHE_ENV, str(tmp_path / "cache"))
  for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
    monkeypatch.delenv(name, raising=False)
  start = time.perf_counter()
  with pytest.raises(
    ConnectionError,
    match=r"Cannot download .* curl -L -o w\.pth http://127\.0\.0\.1:9/w\.pth, then "
    r"copy the file to .*cache/w\.pth",
  ):
    inception.download_weights("http://127.0.0.1:9/w.pth", "0" * 64, timeout=3)  # port 9: nothing listens
  assert time.perf_counter() - start < 5 and os.listdir(tmp_path / "cache") == []


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
  monkeypatch.delenv(inception.CACHE_ENV, raising=False)
  monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
  assert inception.cached_weights_path() == tmp_path / "xdg" / "jaxgan" / inception.FID_WEIGHTS_FILE
  monkeypatch.setenv(inception.CACHE_ENV, str(tmp_path / "mine"))
  assert inception.cache_dir() == tmp_path / "mine"
  # The missing-weights message says how to download, and where to put the file by hand.
  monkeypatch.delenv(inception.WEIGHTS_ENV, raising=False)
  with pytest.raises(FileNotFoundError, match=r"--download_inception.*curl -L -o pt_inception-2015-12-05-6726825d"):
    inception.read_weights()


def test_published_digest_matches_the_file_name():
  # torch hub names a release file by the first 8 hex digits of its SHA-256.
  assert inception.FID_WEIGHTS_FILE.rsplit("-", 1)[1].removesuffix(".pth") == inception.FID_WEIGHTS_SHA256[:8]
  assert len(inception.FID_WEIGHTS_SHA256) == 64


def test_clean_resize_is_pil_bicubic_per_image():
  from PIL import Image

  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (2, 12, 9, 3), dtype=np.uint8)
  resized = inception.clean_resize(images / 255.0)
  assert resized.shape == (2, 299, 299, 3) and resized.dtype == np.float32
  for image, out in zip(images, resized):
    # clean-fid's recipe, spelled out: each channel a float PIL image, bicubic, clipped to [0, 255].
    channels = [
      np.asarray(Image.fromarray(image[..., c].astype(np.float32), mode="F").resize((299, 299), Image.BICUBIC))
      for c in range(3)
    ]
    chex.assert_trees_all_equal(out, np.clip(np.stack(channels, -1), 0, 255) / np.float32(255))
    # PIL's 8-bit RGB path rounds (and clips) between its two passes, but is the same filter.
    eight_bit = np.asarray(Image.fromarray(image).resize((299, 299), Image.BICUBIC)) / 255.0
    assert np.abs(out - eight_bit).mean() < 1 / 255
  grey = inception.clean_resize(images[..., :1] / 255.0)
  chex.assert_trees_all_close(
    grey, np.repeat(inception.clean_resize(images[..., :1].repeat(3, -1) / 255.0)[..., :1], 3, -1)
  )


def test_clean_resize_antialiases_where_pytorch_fid_aliases():
  # Stripes of period 2 shrunk by 3: without antialiasing every sample lands on one stripe (full contrast kept);
  # clean-fid's bicubic averages them to grey.
  stripes = np.broadcast_to((np.arange(897) % 2).astype(np.float32)[None, :, None], (897, 897, 3))[None]
  clean = inception.clean_resize(stripes)
  pytorch_fid = np.asarray(inception.preprocess(stripes) + 1.0) / 2.0
  assert clean.std() < 0.1 and pytorch_fid.std() > 0.45
  with pytest.raises(ValueError, match=r"Unknown resize mode 'bicubic'; choose one of \['pytorch_fid', 'clean'\]"):
    inception.check_resize("bicubic")
