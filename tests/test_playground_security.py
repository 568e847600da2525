"""The playground server against hostile or broken clients: cross-site requests and DNS rebinding, bad or missing
request bodies, concurrent creates past the session cap, and memory held by ended sessions and old programs.

Cheap by design: the server's requests are refused before anything compiles, the cap test builds stand-in runs, and
the program cache test builds programs without compiling them.
"""

import gc
import http.client
import json
import threading
import time
import weakref

import pytest

from experiments.configs import wgan_gp_toy
from jaxgan.playground import params
from jaxgan.playground import server as server_lib
from jaxgan.playground import session as session_lib

TIMEOUT_S = 1.0  # the server's request timeout here (10 s by default)
TINY = {"g_width": 8, "g_depth": 2, "d_width": 8, "d_depth": 2, "batch_size": 32}


@pytest.fixture(scope="module")
def server():
  srv = server_lib.make_server(wgan_gp_toy.get_config(), port=0, request_timeout_s=TIMEOUT_S, max_sessions=8)
  thread = threading.Thread(target=srv.serve_forever, daemon=True)
  thread.start()
  yield srv
  srv.close()
  thread.join(timeout=10)


def _send(srv, method, path, body=None, headers=None, timeout=10.0):
  """(status, parsed JSON or text, seconds) of one request over a fresh connection."""
  connection = http.client.HTTPConnection(*srv.server_address[:2], timeout=timeout)
  start = time.monotonic()
  try:
    connection.request(method, path, body=body, headers=headers or {})
    reply = connection.getresponse()
    text = reply.read().decode()
    kind = reply.headers.get("Content-Type", "")
    return reply.status, json.loads(text) if kind.startswith("application/json") else text, time.monotonic() - start
  finally:
    connection.close()


# ---------- cross-site requests ----------


def test_cross_site_requests_and_foreign_hosts_are_refused(server):
  port = server.server_address[1]
  own = f"http://127.0.0.1:{port}"
  create = json.dumps({"loss": "bogus"})  # reaches validation (400) only when the request is let through
  refused = [
    ("POST", "/api/sessions", create, {"Origin": "http://evil.example"}),
    ("POST", "/api/sessions", create, {"Host": "evil.example"}),
    ("POST", "/api/sessions", create, {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}),
    ("POST", "/api/sessions/x/close", "{}", {"Origin": "null"}),
    ("GET", "/", None, {"Host": f"evil.example:{port}"}),  # a rebound name loading the page
    ("GET", "/api/options", None, {"Origin": "http://evil.example"}),
    ("GET", "/", None, {"Host": "127.0.0.1:1"}),  # the right address, another port
  ]
  for method, path, body, headers in refused:
    status, reply, _ = _send(server, method, path, body, headers)
    assert status == 403 and reply["error"].startswith("Refused") and "\n" not in reply["error"], (headers, reply)
  assert not server.playground.sessions()
  # The page's own requests, by any loopback name of the bound port.
  status, reply, _ = _send(server, "POST", "/api/sessions", create, {"Origin": own})
  assert status == 400 and "Unknown loss" in reply["error"]
  assert _send(server, "POST", "/api/sessions/x/close", "{}", {"Origin": own})[:2] == (200, {"ok": True})
  for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}"):
    assert _send(server, "GET", "/api/options", headers={"Host": host, "Origin": f"http://{host}"})[0] == 200, host


def test_allowed_hosts_of_other_binds():
  allowed = server_lib.allowed_hosts("::1", 80)
  assert {"[::1]:80", "localhost", "127.0.0.1:80"} <= allowed and "evil.example" not in allowed
  wildcard = server_lib.allowed_hosts("0.0.0.0", 9000)
  assert server_lib.host_allowed("192.168.1.10:9000", wildcard, wildcard_port=9000)
  assert server_lib.host_allowed("[fe80::1]:9000", wildcard, wildcard_port=9000)
  for host in ("evil.example:9000", "192.168.1.10:9001", "", None):
    assert not server_lib.host_allowed(host, wildcard, wildcard_port=9000), host


# ---------- bodies ----------


def test_bad_content_lengths_are_answered_at_once(server):
  for length, status in (("-1", 400), ("abc", 400), ("+5", 400), ("1_0", 400), (str(10**9), 413)):
    got, reply, seconds = _send(server, "POST", "/api/sessions", headers={"Content-Length": length})
    assert got == status and "\n" not in reply["error"], (length, reply)
    assert seconds < TIMEOUT_S / 2, f"Content-Length {length}: {seconds:.2f} s"


def test_a_body_shorter_than_its_length_times_out(server):
  connection = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
  try:
    start = time.monotonic()
    connection.putrequest("POST", "/api/sessions")
    connection.putheader("Content-Length", "100")
    connection.endheaders(b'{"loss": ')  # and then nothing, the connection left open
    reply = connection.getresponse()
    seconds = time.monotonic() - start
    assert reply.status == 408 and "did not arrive" in json.loads(reply.read())["error"]
    assert TIMEOUT_S * 0.9 < seconds < TIMEOUT_S + 3
  finally:
    connection.close()
  assert _send(server, "GET", "/api/options")[0] == 200


def test_bodies_of_the_wrong_shape_get_400(server):
  bodies = [
    b"[" * 50_000,  # nesting too deep for the JSON parser
    json.dumps({"data": "drawn", "points": {"x": 1}}).encode(),
    json.dumps({"data": "drawn", "points": [[[0.0, 0.0]]]}).encode(),
    json.dumps({"loss": ["wgan"]}).encode(),
    json.dumps({"seed": {"a": 1}}).encode(),
    json.dumps(["not", "an", "object"]).encode(),
    b"\xff\xfe{}",
  ]
  for body in bodies:
    status, reply, _ = _send(server, "POST", "/api/sessions", body)
    assert status == 400 and "\n" not in reply["error"], (body[:40], reply)
  # Nested deeply enough to parse, too deeply to print.
  deep = "[" * 900 + "]" * 900
  status, reply, _ = _send(server, "POST", "/api/sessions", f'{{"loss": {deep}}}')
  assert status == 400, reply
  assert _send(server, "GET", "/api/options")[0] == 200


# ---------- the session cap under concurrent creates ----------


class _StandInSession:
  """A session that trains nothing, so that the cap test compiles nothing."""

  def __init__(self, engine, settings, idle_timeout_s):
    del engine, idle_timeout_s
    self.id, self.settings, self.alive = f"s{id(self):x}", settings, True

  def close(self):
    self.alive = False

  def join(self, timeout=None):
    del timeout


def test_concurrent_creates_do_not_pass_the_session_cap(server, monkeypatch):
  def slow_engine(raw_settings):
    time.sleep(0.3)  # a build: long enough for every create to arrive while the first ones still build
    return None, raw_settings

  monkeypatch.setattr(server.playground, "engine", slow_engine)
  monkeypatch.setattr(server_lib, "Session", _StandInSession)
  replies = [None] * 12

  def create(index):
    replies[index] = _send(server, "POST", "/api/sessions", json.dumps({"seed": index}))

  threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
  try:
    for thread in threads:
      thread.start()
    for thread in threads:
      thread.join(timeout=30)
    statuses = sorted(reply[0] for reply in replies)
    assert statuses == [201] * 8 + [429] * 4, statuses
    assert all("sessions are open already" in reply[1]["error"] for reply in replies if reply[0] == 429)
    assert len(server.playground.sessions()) == 8
  finally:
    server.playground.close()
  # A create that fails (bad settings) gives its slot back.
  monkeypatch.undo()
  assert _send(server, "POST", "/api/sessions", json.dumps({"loss": "bogus"}))[0] == 400
  assert server.playground._starting == 0


# ---------- memory ----------


def test_programs_are_shared_by_equal_settings_and_evicted_beyond_the_cache():
  playground = server_lib.Playground(wgan_gp_toy.get_config(), max_programs=1)
  first, _ = playground.engine({"loss": "ns_gan", "seed": 1, **TINY})
  second, _ = playground.engine({"loss": "ns_gan", "seed": 2, **TINY})
  assert first.program is second.program  # only the seed differs: one compiled program
  program = weakref.ref(first.program)
  del first, second
  other, _ = playground.engine({"loss": "hinge", **TINY})
  assert other.program is not program() and playground.program.cache_info().currsize == 1
  gc.collect()
  assert program() is None, "an evicted program is still referenced"


class _StandInEngine:
  steps = 0

  def reset(self):
    pass

  def warm_up(self):
    pass

  def frame(self):
    return {"finite": True}


def test_an_ended_session_lets_go_of_its_run():
  engine = _StandInEngine()
  run = weakref.ref(engine)
  session = session_lib.Session(engine, params.Settings().resolved(), idle_timeout_s=0.05)
  del engine
  session.join(timeout=10)  # no stream attached: it ends after idle_timeout_s
  assert not session.alive
  gc.collect()
  assert run() is None, "an ended session still holds its engine"
