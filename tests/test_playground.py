"""The browser playground (jaxgan/playground): datasets, settings, the HTTP/SSE server in-process, and a real page in
headless Chromium (skipped, saying why, when Chromium or Playwright is missing)."""

import http.client
import json
import shutil
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import playground as playground_cli
from experiments.configs import wgan_gp_toy
from jaxgan import train
from jaxgan.playground import datasets, engine, params
from jaxgan.playground import server as server_lib

TINY = {"g_width": 8, "g_depth": 2, "d_width": 8, "d_depth": 2, "batch_size": 32}
# Compiling is most of this file's time, so the server tests, the half-step test and the browser share two programs
# (the server reuses compilations for equal settings): T-SGAN (pair critic, two G updates a step) with DeLiGAN's
# learned prior, then WGAN-GP.
RUN = {"data": "ring8", "loss": "t_sgan", "prior": "deligan", **TINY}
RUN_WGAN_GP = {**RUN, "loss": "wgan_gp"}


# ---------- datasets and settings ----------


def test_two_moons_are_two_half_circles_around_the_origin():
  points = np.asarray(datasets.get_dataset("two_moons").sample(jax.random.key(0), (4000,)))
  assert points.shape == (4000, 2)
  np.testing.assert_allclose(points.mean(axis=0), [0.0, 0.0], atol=0.05)
  assert datasets.get_dataset("two_moons").centers is None  # no discrete modes to count
  upper = points + np.array([0.5, 0.25])  # back to make_moons' frame: the upper moon lies on the unit circle
  on_unit_circle = np.abs(np.linalg.norm(upper, axis=1) - 1.0) < 0.2
  assert 0.4 < on_unit_circle.mean() < 0.75


def test_drawn_points_are_sampled_with_small_noise():
  drawn = [[-1.0, 0.5], [1.0, -0.5]]
  data = datasets.get_dataset("drawn", drawn)
  points = np.asarray(data.sample(jax.random.key(1), (1000,)))
  distance = np.min(np.linalg.norm(points[:, None] - np.asarray(drawn)[None], axis=-1), axis=1)
  assert np.all(distance < 6 * datasets.DRAWN_NOISE)
  assert 0.4 < np.mean(points[:, 0] < 0) < 0.6  # uniform over the drawn points
  np.testing.assert_array_equal(data.centers, drawn)
  for bad in ([], [[0.0, 9.0]], [[0.0]], [[float("nan"), 0.0]]):
    with pytest.raises(ValueError):
      datasets.get_dataset("drawn", bad)


def test_parse_settings_names_the_bad_field():
  cases = {"loss": "nope", "d_lr": -0.1, "g_width": 100000, "n_critic": 1.5, "seed": "x", "colour": 1}
  for field, value in cases.items():
    with pytest.raises(ValueError, match=field):
      params.parse_settings({field: value})
  settings = params.parse_settings({"loss": "wgan_gp", **TINY})
  assert settings.resolved()["n_critic"] == 5 and settings.resolved()["d_lr"] == params.LOSS_PRESETS["wgan_gp"].lr


def test_a_bad_value_is_named_with_the_field_and_what_is_allowed():
  cases = [
    ({"loss": "bogus"}, ["loss", "'bogus'", "'ns_gan'"]),
    ({"loss": ""}, ["loss", "an empty field", "'ns_gan'"]),  # not '' (an address's unknown loss used to say that)
    ({"prior": 3}, ["prior", "3", "'deligan'"]),
    ({"g_width": "abc"}, ["g_width", "'abc'", "a whole number from 1 to 512"]),
    ({"g_width": None}, ["g_width", "an empty field", "from 1 to 512"]),  # only n_critic and the rates may be null
    ({"d_lr": -0.1}, ["d_lr", "-0.1", "a number from 1e-06 to 1"]),
    ({"n_critic": 1.5}, ["n_critic", "1.5", "a whole number from 1 to 20"]),
    ({"seed": 2**31}, ["seed", str(2**31), "from 0 to 2147483647"]),
    ({"colour": "red"}, ["colour", "'red'", "'seed'"]),
  ]
  for raw, words in cases:
    with pytest.raises(ValueError) as error:
      params.parse_settings(raw)
    message = str(error.value)
    assert "\n" not in message and all(word in message for word in words), (raw, message)
  assert params.parse_settings({"n_critic": None, "d_lr": None}).resolved()["n_critic"] == 1  # the preset's
  assert params.parse_live_changes({"n_critic": 3.0, "g_lr": 2e-4}) == {"n_critic": 3, "g_lr": 2e-4}
  live_cases = [
    ({"d_lr": "fast"}, ["d_lr", "'fast'", "from 1e-06 to 1"]),
    ({"g_width": 9}, ["g_width", "n_critic"]),
    ({}, ["n_critic", "{}"]),
    ("d_lr", ["'d_lr'"]),
  ]
  for raw, words in live_cases:
    with pytest.raises(ValueError) as error:
      params.parse_live_changes(raw)
    assert all(word in str(error.value) for word in words), (raw, str(error.value))


def test_every_preset_makes_a_config_the_library_builds():
  for loss in params.LOSS_PRESETS:
    for prior in ("normal", "uniform", "deligan"):
      config = params.make_config(
        params.parse_settings({"loss": loss, "prior": prior, **TINY}), wgan_gp_toy.get_config()
      )
      gan = train.build_gan(config)
      assert gan.data_shape == (2,) and gan.latent_shape == (2,)
  wgan_gp = params.make_config(params.parse_settings({"loss": "wgan_gp"}), wgan_gp_toy.get_config())
  assert (wgan_gp.loss, wgan_gp.penalty, wgan_gp.n_critic) == ("wgan", "gradient_penalty", 5)
  assert params.make_config(params.parse_settings({"loss": "wgan_clip"}), wgan_gp_toy.get_config()).d_optimizer.clip


# ---------- the server, in-process ----------


@pytest.fixture(scope="module")
def server():
  srv = server_lib.make_server(wgan_gp_toy.get_config(), port=0, idle_timeout_s=2.0)
  thread = threading.Thread(target=srv.serve_forever, daemon=True)
  thread.start()
  yield srv
  srv.close()
  thread.join(timeout=10)


def _request(srv, path, body=None):
  """(status, parsed JSON or text) of GET path, or POST of `body` (a dict, or raw bytes)."""
  data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
  request = urllib.request.Request(srv.url.rstrip("/") + path, data=data, method="GET" if body is None else "POST")
  try:
    with urllib.request.urlopen(request, timeout=120) as reply:
      status, text, kind = reply.status, reply.read().decode(), reply.headers.get("Content-Type", "")
  except urllib.error.HTTPError as error:
    status, text, kind = error.code, error.read().decode(), error.headers.get("Content-Type", "")
  return status, json.loads(text) if kind.startswith("application/json") else text


class _Stream:
  """An open event stream; `next(predicate)` returns the first frame that satisfies it."""

  def __init__(self, srv, session_id):
    host, port = srv.server_address[:2]
    self.connection = http.client.HTTPConnection(host, port, timeout=120)
    self.connection.request("GET", f"/api/sessions/{session_id}/events")
    self.reply = self.connection.getresponse()
    assert self.reply.status == 200 and self.reply.headers["Content-Type"] == "text/event-stream"

  def next(self, predicate=lambda frame: True, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
      line = self.reply.readline()
      if not line:
        raise AssertionError("the event stream ended")
      if line.startswith(b"data: "):
        frame = json.loads(line[6:])
        if frame and predicate(frame):
          return frame
    raise AssertionError("no matching frame in time")

  def close(self):
    self.reply.close()  # the response holds the socket open too
    self.connection.close()


@pytest.fixture(scope="module")
def session(server):
  status, reply = _request(server, "/api/sessions", RUN)
  assert status == 201, reply
  stream = _Stream(server, reply["session"])
  yield reply["session"], stream
  stream.close()


def test_page_and_options_are_served(server):
  status, page = _request(server, "/")
  assert status == 200 and "/static/app.js" in page and "main-canvas" in page
  status, script = _request(server, "/static/app.js")
  assert status == 200 and "EventSource" in script
  status, options = _request(server, "/api/options")
  assert status == 200
  assert [d["name"] for d in options["datasets"]] == ["ring8", "grid25", "swiss_roll", "two_moons", "drawn"]
  assert {"gan", "ns_gan", "wgan_clip", "wgan_gp", "rsgan", "t_sgan", "t_wgan", "hinge", "lsgan"} <= {
    loss["name"] for loss in options["losses"]
  }
  assert {p["name"] for p in options["priors"]} == {"normal", "uniform", "deligan"}  # each has a latent grid
  assert {p["name"] for p in options["priors"]} <= set(engine.LATENT_GRIDS)


def test_frames_have_every_panel_with_their_shapes(session):
  _, stream = session
  frame = stream.next()
  assert frame["steps"] == 0 and frame["playing"] is False and frame["error"] is None
  n = engine.SHOWN_POINTS
  for name in ("real", "fake", "arrows", "latent"):
    assert np.asarray(frame[name]).shape == (n, 2), name
  assert np.asarray(frame["heat"]).shape == (engine.HEAT_SIZE, engine.HEAT_SIZE)
  lines = (2 * engine.GRID_LINES, engine.GRID_POINTS, 2)
  assert np.asarray(frame["manifold"]).shape == lines and np.asarray(frame["latent_grid"]).shape == lines
  assert frame["heat_kind"] == "score" and frame["heat_range"][0] < frame["heat_range"][1]
  assert np.min(frame["heat"]) == 0 and np.max(frame["heat"]) == 1  # scaled; heat_range holds the scale
  assert np.max(np.linalg.norm(frame["arrows"], axis=1)) == pytest.approx(1, abs=2e-3) and frame["arrow_scale"] > 0
  components = params.DELIGAN_COMPONENTS
  assert np.asarray(frame["latent_means"]).shape == np.asarray(frame["latent_sigmas"]).shape == (components, 2)
  assert set(frame["coverage"]) == {"modes_covered", "high_quality_fraction", "reverse_kl", "num_modes"}
  assert frame["coverage"]["num_modes"] == 8 and frame["extent"] > 1


def test_play_trains_with_bounded_frame_rate_then_pause_stops(server, session):
  session_id, stream = session
  assert _request(server, f"/api/sessions/{session_id}/command", {"action": "play"})[0] == 200
  first = stream.next(lambda f: f["playing"] and f["steps"] > 0)
  frames = [stream.next() for _ in range(6)]
  assert frames[-1]["steps"] > first["steps"]
  assert set(frames[-1]["metrics"]) == {
    "critic_loss",
    "generator_loss",
    "gradient_penalty",
    "wasserstein_estimate",
    "real_accuracy",
    "fake_accuracy",
    "critic_grad_norm",
    "generator_grad_norm",
  }
  assert all(np.isfinite(v) for v in frames[-1]["metrics"].values())
  rate = (len(frames) - 1) / (frames[-1]["time"] - frames[0]["time"])
  assert rate <= 11, f"{rate:.1f} frames/s; the server promises at most 10"
  assert _request(server, f"/api/sessions/{session_id}/command", {"action": "pause"})[0] == 200
  paused = stream.next(lambda f: not f["playing"])
  assert paused["steps"] >= frames[-1]["steps"]


def test_step_buttons_count_updates(server, session):
  session_id, stream = session
  _request(server, f"/api/sessions/{session_id}/command", {"action": "reset"})
  start = stream.next(lambda f: f["steps"] == 0 and f["d_updates"] == 0)
  for action in ("step_d", "step_g", "step"):
    assert _request(server, f"/api/sessions/{session_id}/command", {"action": action})[0] == 200
  end = stream.next(lambda f: f["d_updates"] == 2 and f["g_updates"] == 3)  # T-SGAN: n_generator = 2
  assert (start["steps"], end["steps"]) == (0, 1)


def _same(a, b) -> bool:
  return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def test_half_steps_update_one_player_only(server):
  run, _ = server.playground.engine(RUN)  # compiled already by the step buttons above
  run.reset()
  before = jax.device_get(run.state)  # copies: the half steps donate the state
  run.step_critic()
  after_d = jax.device_get(run.state)
  assert not _same(before.d_params, after_d.d_params)
  assert _same(before.g_params, after_d.g_params) and _same(before.prior_params, after_d.prior_params)
  run.step_generator()
  after_g = jax.device_get(run.state)
  assert _same(after_d.d_params, after_g.d_params)
  assert not _same(after_d.g_params, after_g.g_params)
  assert not _same(after_d.prior_params["mu"], after_g.prior_params["mu"])  # DeLiGAN's means learn too
  assert (run.d_updates, run.g_updates, run.steps) == (1, 1, 0)


# ---------- live learning rates and n_critic ----------

LIVE = {"d_lr": 3e-3, "g_lr": 2e-4, "n_critic": 2}


def test_live_settings_step_as_a_run_built_with_them(server):
  run, _ = server.playground.engine(RUN)  # RUN's program, compiled by the tests above
  run.reset()
  run.step()
  run.step()
  run.set_hyperparameters(**LIVE)
  before = jax.device_get(run.state)  # a copy: the step donates the state
  run.step()
  after, metrics = jax.device_get((run.state, run.metrics))
  assert (int(after.step), run.steps, run.d_updates, run.g_updates) == (3, 3, 1 + 1 + 2, 3 * 2)
  # The library's own train step (updates unrolled, the optimisers at the config's constant rates) from a config with
  # the new values, on the engine's batches: critic update i's real batch from fold_in(fold_in(data key, step), i).
  config = params.make_config(params.parse_settings({**RUN, **LIVE}), wgan_gp_toy.get_config())
  keys = engine.run_keys(run.seed)
  data_key = jax.random.fold_in(keys["data"], 2)
  draw = jax.vmap(lambda i: run.data.sample(jax.random.fold_in(data_key, i), (TINY["batch_size"],)))
  batch = jax.jit(draw)(jnp.arange(LIVE["n_critic"]))
  expected, expected_metrics = jax.jit(train.make_train_step(config))(before, batch, keys["step"])
  chex.assert_trees_all_close(after, expected, rtol=1e-5, atol=1e-7)
  chex.assert_trees_all_close(metrics, expected_metrics, rtol=1e-5, atol=1e-7)
  # A fresh engine built with the new values, from the same state and keys, steps the same; one with the old, not.
  for values, same in ((LIVE, True), (None, False)):
    fresh, _ = server.playground.engine({**RUN, **(values or {})})
    fresh.reset()
    fresh.state = jax.device_put(before)
    fresh.step()
    assert _same(jax.device_get(fresh.state), after) is same, values


def test_live_settings_compile_nothing(server):
  program = server.playground.engine(RUN)[0].program
  run, _ = server.playground.engine({**RUN, "n_critic": 2, "d_lr": 1e-4})
  assert run.program is program  # the live settings are no part of a program's cache key
  steps = (program.full_step, program.critic_step, program.generator_step)
  run.reset()
  for change in ({}, {"n_critic": 7}, {"d_lr": 0.5, "g_lr": 1e-6}, {"n_critic": 1, "d_lr": 1e-3, "g_lr": 1e-3}):
    run.set_hyperparameters(**change)
    run.step()
    run.step_critic()
    run.step_generator()
    assert [step._cache_size() for step in steps] == [1, 1, 1], change  # one compilation each, for every value
  assert (int(run.state.step), run.d_updates) == (4, (2 + 1) + (7 + 1) + (7 + 1) + (1 + 1))


def test_bad_live_settings_are_refused_in_one_line_and_change_nothing(server):
  run, _ = server.playground.engine({**RUN, **LIVE})
  cases = [
    ({"d_lr": -0.1}, "d_lr must be a number from 1e-06 to 1; got -0.1."),
    ({"g_lr": 0.0}, "g_lr must be a number from 1e-06 to 1; got 0.0."),
    ({"n_critic": 0}, "n_critic must be a whole number from 1 to 20; got 0."),
    ({"n_critic": 21}, "n_critic must be a whole number from 1 to 20; got 21."),
    ({"d_lr": 0.01, "n_critic": 2.5}, "n_critic must be a whole number from 1 to 20; got 2.5."),
  ]
  for change, message in cases:
    with pytest.raises(ValueError) as error:
      run.set_hyperparameters(**change)
    assert str(error.value) == message, change
  assert run.hyperparameters == LIVE
  with pytest.raises(ValueError, match="n_critic must be a whole number from 1 to 20; got 0"):
    engine.Engine(run.program, 0, {"n_critic": 0})


def test_bad_requests_get_an_error_json_and_the_server_lives_on(server, session):
  session_id, _ = session
  cases = [
    ("/api/sessions", {"loss": "bogus"}, 400, "Unknown loss"),
    ("/api/sessions", {"d_lr": -0.01}, 400, "d_lr"),
    ("/api/sessions", {"g_width": 10**6}, 400, "g_width"),
    ("/api/sessions", {"data": "drawn"}, 400, "points"),
    ("/api/sessions", b"{not json", 400, "not valid JSON"),
    (f"/api/sessions/{session_id}/settings", {"prior": "cauchy"}, 400, "Unknown prior"),
    (f"/api/sessions/{session_id}/command", {"action": "fly"}, 400, "Unknown action"),
    (f"/api/sessions/{session_id}/command", {"action": "speed", "value": -3}, 400, "speed"),
    ("/api/sessions/nosuchsession/command", {"action": "play"}, 404, "No session"),
    ("/api/nothing", None, 404, "No route"),
  ]
  for path, body, status, words in cases:
    got_status, reply = _request(server, path, body)
    assert got_status == status and words in reply["error"], (path, body, got_status, reply)
  assert server.playground.get(session_id).alive
  assert _request(server, "/api/options")[0] == 200


def test_a_set_command_reaches_the_engine_or_asks_for_a_new_run(server, session, monkeypatch):
  session_id, stream = session
  path = f"/api/sessions/{session_id}/command"
  before = server.playground.get(session_id).settings
  # An engine without set_hyperparameters: 409, and the page sends the settings (a new run) instead.
  monkeypatch.delattr(engine.Engine, "set_hyperparameters", raising=False)
  assert _request(server, "/api/options")[1]["live"] == []
  status, reply = _request(server, path, {"action": "set", "value": {"d_lr": 2e-4}})
  assert status == 409 and "d_lr" in reply["error"], reply
  calls = []
  monkeypatch.setattr(
    engine.Engine, "set_hyperparameters", lambda self, **changes: calls.append(changes), raising=False
  )
  assert _request(server, "/api/options")[1]["live"] == ["n_critic", "d_lr", "g_lr"]
  for value, words in [
    ({"d_lr": -1}, "d_lr must be a number from 1e-06 to 1; got -1"),
    ({"g_width": 16}, "'g_width' cannot change"),
    (None, "live change"),
  ]:
    status, reply = _request(server, path, {"action": "set", "value": value})
    assert status == 400 and words in reply["error"], reply
  status, reply = _request(server, path, {"action": "set", "value": {"d_lr": 2e-4, "n_critic": 3}})
  assert status == 200, reply
  frame = stream.next(lambda f: f["settings"]["d_lr"] == 2e-4)
  assert calls == [{"d_lr": 2e-4, "n_critic": 3}]
  assert frame["settings"] == {**before, "d_lr": 2e-4, "n_critic": 3} and frame["error"] is None
  assert server.playground.get(session_id).settings["n_critic"] == 3


def test_a_live_change_goes_on_with_the_run_and_a_bad_one_is_refused(server, session):
  session_id, stream = session
  path = f"/api/sessions/{session_id}/command"
  _request(server, path, {"action": "reset"})
  _request(server, path, {"action": "step"})
  before = stream.next(lambda f: f["steps"] == 1)
  for value, message in [
    ({"n_critic": 0}, "n_critic must be a whole number from 1 to 20; got 0."),
    ({"n_critic": 21}, "n_critic must be a whole number from 1 to 20; got 21."),
    ({"g_lr": -0.5}, "g_lr must be a number from 1e-06 to 1; got -0.5."),
  ]:
    assert _request(server, path, {"action": "set", "value": value}) == (400, {"error": message})
  assert _request(server, path, {"action": "set", "value": {"n_critic": 4, "d_lr": 5e-4}})[0] == 200
  _request(server, path, {"action": "step"})
  after = stream.next(lambda f: f["steps"] == 2)  # the run went on: no new run, whose counters start at 0
  assert (after["d_updates"] - before["d_updates"], after["g_updates"] - before["g_updates"]) == (4, 2)
  assert after["settings"] == {**before["settings"], "n_critic": 4, "d_lr": 5e-4} and after["error"] is None
  assert server.playground.engine(RUN)[0].program.full_step._cache_size() == 1


def test_new_settings_replace_the_run(server, session):
  session_id, stream = session
  status, reply = _request(server, f"/api/sessions/{session_id}/settings", RUN_WGAN_GP)
  assert status == 200 and reply["settings"]["loss"] == "wgan_gp" and reply["settings"]["n_critic"] == 5
  frame = stream.next(lambda f: f["settings"]["loss"] == "wgan_gp")
  assert frame["steps"] == 0 and frame["heat_kind"] == "score" and frame["error"] is None
  _request(server, f"/api/sessions/{session_id}/command", {"action": "step"})
  frame = stream.next(lambda f: f["steps"] == 1)
  assert frame["d_updates"] == 5 and frame["metrics"]["gradient_penalty"] > 0


def test_drawn_points_become_the_dataset(server):
  points = [[x / 10, (x / 10) ** 2 - 1] for x in range(-10, 11)]
  run, resolved = server.playground.engine({"data": "drawn", "points": points, **TINY})  # builds, compiles nothing
  assert resolved["data"] == "drawn" and "points" not in resolved
  np.testing.assert_allclose(run.data.centers, points, atol=1e-6)
  assert run.data.extent == datasets.DRAWN_EXTENT


def test_sessions_are_independent_and_a_closed_tab_stops_only_its_own(server, session):
  session_id, stream = session
  # Another tab with the same settings but another seed: it shares the compiled program, not the state.
  status, reply = _request(server, "/api/sessions", {**RUN_WGAN_GP, "seed": 1})
  assert status == 201 and reply["session"] != session_id
  other = _Stream(server, reply["session"])
  frame = other.next()
  assert frame["session"] == reply["session"] and frame["steps"] == 0
  other.close()  # the tab goes away: its session stops after idle_timeout_s
  deadline = time.monotonic() + 60
  while reply["session"] in server.playground.sessions() and time.monotonic() < deadline:
    time.sleep(0.2)
  assert reply["session"] not in server.playground.sessions()
  assert server.playground.get(session_id).alive
  _request(server, f"/api/sessions/{session_id}/command", {"action": "step"})
  assert stream.next()["session"] == session_id


def test_close_ends_the_stream(server):
  status, reply = _request(server, "/api/sessions", RUN)
  assert status == 201
  assert _request(server, f"/api/sessions/{reply['session']}/close", {})[0] == 200
  deadline = time.monotonic() + 60
  while reply["session"] in server.playground.sessions() and time.monotonic() < deadline:
    time.sleep(0.2)
  assert _request(server, f"/api/sessions/{reply['session']}/events")[0] == 404


def test_non_loopback_binds_are_refused_unless_asked_for():
  for host in ("127.0.0.1", "localhost", "::1"):
    assert server_lib.is_loopback(host), host
  for host in ("0.0.0.0", "", "::", "192.168.1.10"):
    assert not server_lib.is_loopback(host), host
  with pytest.raises(ValueError, match="--host"):
    server_lib.make_server(wgan_gp_toy.get_config(), host="0.0.0.0", port=0)
  assert playground_cli.parse_args([]).host is None  # the CLI allows remote binds only for an explicit --host
  assert playground_cli.parse_args(["--host", "0.0.0.0", "--port", "9"]).host == "0.0.0.0"


# ---------- a real browser ----------


def _chromium():
  for name in ("chromium", "chromium-browser"):
    if shutil.which(name):
      return shutil.which(name)
  return None


def test_page_trains_in_headless_chromium(server, tmp_path):
  executable = _chromium()
  if executable is None:
    pytest.skip("Chromium is not installed (apt-get install -y chromium); the browser test needs it.")
  sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright).")
  with sync_api.sync_playwright() as driver:
    browser = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
    try:
      page = browser.new_page(viewport={"width": 1400, "height": 950})
      # The server compiles in this test process while other test workers load the cores: generous waits.
      page.set_default_timeout(120_000)
      page.set_default_navigation_timeout(120_000)
      errors = []
      page.on("pageerror", lambda error: errors.append(str(error)))
      # Settings in the query string; small nets keep the test fast (the page's defaults are 64 x 3).
      query = "&".join(f"{k}={v}" for k, v in RUN.items())
      page.goto(f"{server.url}?{query}&hide=arrows", wait_until="domcontentloaded")
      page.wait_for_function("document.getElementById('steps').textContent === '0'", timeout=120_000)
      # The controls show the address's settings, and the page writes the run's resolved settings back to it.
      assert page.eval_on_selector("#loss", "e => e.value") == "t_sgan"
      assert page.eval_on_selector("#g_width", "e => e.value") == "8"
      assert not page.is_checked("#show-arrows") and page.is_checked("#show-heat")
      address = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
      assert address["d_lr"] == [str(params.LOSS_PRESETS["t_sgan"].lr)] and address["n_critic"] == ["1"], page.url
      assert address["hide"] == ["arrows"] and address["prior"] == ["deligan"] and "autoplay" not in address
      blank = page.evaluate("document.getElementById('main-canvas').toDataURL()")
      page.click("#play", no_wait_after=True)  # nothing navigates; do not wait on a busy page
      page.wait_for_function("Number(document.getElementById('steps').textContent) > 50", timeout=120_000)
      first = page.evaluate("document.getElementById('main-canvas').toDataURL()")
      page.wait_for_function("Number(document.getElementById('steps').textContent) > 300", timeout=120_000)
      second = page.evaluate("document.getElementById('main-canvas').toDataURL()")
      assert first != second != blank  # the canvas changes as training runs
      colours = page.evaluate("""() => {
        const c = document.getElementById('main-canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 7) seen.add(d[i] << 16 | d[i + 1] << 8 | d[i + 2]);
        return seen.size; }""")
      assert colours > 50, "the canvas looks blank"
      page.wait_for_function("Number(document.getElementById('steps-per-s').textContent) > 0", timeout=60_000)
      rates = page.inner_text(".counters")
      # Every chart names its axes (drawn on the canvas; the names are also in its data- attributes).
      axes = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('canvas')].map(
        (c) => [c.id, [c.dataset.xLabel, c.dataset.yLabel]]))""")
      assert axes == {
        "main-canvas": ["x₁", "x₂"],
        "latent-canvas": ["z₁", "z₂"],
        "modes-chart": ["training step", "modes (of 8)"],
        "coverage-chart": ["training step", "fraction (0–1)"],
        "loss-chart": ["training step", "loss (per sample)"],
        "w-chart": ["training step", "gap (critic units)"],
      }, axes
      page.select_option("#loss", "wgan_gp", no_wait_after=True)
      page.wait_for_function(
        "document.getElementById('model-overview').textContent.includes('WGAN-GP')", timeout=60_000
      )
      page.wait_for_function("document.getElementById('steps').textContent === '0'", timeout=120_000)
      page.click("#play", no_wait_after=True)  # nothing navigates; do not wait on a busy page
      page.wait_for_function("Number(document.getElementById('steps-per-s').textContent) > 0", timeout=120_000)
      page.screenshot(path=str(tmp_path / "playground.png"))
      assert not errors, errors
      assert page.inner_text("#error") == ""
      # Round trip: change controls (a seed and a layer: the same compiled program), then open the address they
      # wrote, with autoplay=1: the same controls, and training starts without a click.
      page.fill("#seed", "7", no_wait_after=True)
      page.dispatch_event("#seed", "change")
      page.uncheck("#show-real", no_wait_after=True)
      page.wait_for_function(
        "location.search.includes('seed=7') && location.search.includes('hide=real,arrows')", timeout=60_000
      )
      address = urllib.parse.parse_qs(urllib.parse.urlsplit(page.url).query)
      assert address["loss"] == ["wgan_gp"] and address["n_critic"] == ["5"], page.url
      page.goto(page.url + "&autoplay=1", wait_until="domcontentloaded")
      page.wait_for_function("Number(document.getElementById('steps').textContent) > 0", timeout=120_000)
      assert page.evaluate("[...'loss,seed,n_critic,g_width'.split(',')].map((id) => $(id).value)") == [
        "wgan_gp",
        "7",
        "5",
        "8",
      ]
      assert not page.is_checked("#show-real") and not page.is_checked("#show-arrows")
      assert "autoplay=1" in page.url and "seed=7" in page.url
      # n_critic changes the running run: it goes on playing from where it was (a new run starts paused at step 0),
      # and the address holds the new value.
      assert page.inner_text("#live-hint").startswith("n_critic, d_lr, g_lr change the running run")
      steps = page.evaluate("app.frame.steps")
      page.fill("#n_critic", "2", no_wait_after=True)
      page.dispatch_event("#n_critic", "change")
      page.wait_for_function("app.frame.settings.n_critic === 2 && location.search.includes('n_critic=2')")
      assert page.evaluate("[app.frame.playing, app.frame.steps >= " + str(steps) + "]") == [True, True]
      assert "n_critic = 2 from now on; the run goes on." in page.inner_text("#notice")
      page.fill("#g_lr", "-1", no_wait_after=True)  # a bad setting: a message on the page, the run goes on
      page.dispatch_event("#g_lr", "change")
      page.wait_for_function("document.getElementById('error').textContent.includes('g_lr must be')", timeout=30_000)
      assert server.playground.get(page.evaluate("app.session")).alive
      print(f"\nbrowser test, T-SGAN: {rates}\nbrowser test, WGAN-GP: {page.inner_text('.counters')}")
      # An address with bad values: the message names each, as written, until its control is changed.
      page.goto(f"{server.url}?loss=bogus&g_width=abc&colour=red", wait_until="domcontentloaded")
      page.wait_for_function("document.getElementById('error').textContent.includes('bogus')", timeout=30_000)
      assert "Unknown loss 'bogus'; choose one of" in page.inner_text("#error")
      assert "Ignored in the address: colour=red" in page.inner_text("#error")
      page.select_option("#loss", "ns_gan", no_wait_after=True)
      page.wait_for_function("document.getElementById('error').textContent.includes('g_width')", timeout=30_000)
      assert "g_width must be a whole number from 1 to 512; got 'abc'." in page.inner_text("#error")
      assert "colour" not in page.inner_text("#error")
      assert not errors, errors
    finally:
      browser.close()
