"""The playground's HTTP server: the page, a small JSON API and one Server-Sent Events stream per session.

Standard library only (`http.server.ThreadingHTTPServer`): each request, and each open event stream, has its own
thread; training runs in the sessions' threads. Routes:

    GET  /                                   the page (static/index.html; static/app.js beside it)
    GET  /api/options                        what the pickers offer, defaults and limits
    POST /api/sessions                       {settings} -> {"session": id, "settings": resolved settings}
    POST /api/sessions/<id>/settings         {settings}: a new run in the same session (paused)
    POST /api/sessions/<id>/command          {"action": play|pause|step|step_d|step_g|reset|speed, "value": ...}
    POST /api/sessions/<id>/close            ends the session (the page sends it when the tab closes)
    GET  /api/sessions/<id>/events           text/event-stream of JSON frames, at most 10 per second

Every error is a JSON object {"error": message} with a 4xx/5xx status, shown on the page; no request can take the
server down. The server binds to loopback unless told otherwise (`allow_remote`), since anyone who reaches it can
make it compute.
"""

from __future__ import annotations

import dataclasses
import functools
import http.server
import importlib.resources
import ipaddress
import json
import logging
import re
import socket
import threading
from typing import Any, Callable

import ml_collections

from jaxgan.playground import datasets, params
from jaxgan.playground.engine import Engine, Program
from jaxgan.playground.session import Session

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1 << 20
KEEPALIVE_S = 1.0  # an idle stream writes a comment this often, which is how a closed tab is noticed
_CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                  ".css": "text/css; charset=utf-8", ".png": "image/png"}


class RequestError(Exception):
  """A request the server refuses, with the HTTP status and the message for the page."""

  def __init__(self, status: int, message: str):
    super().__init__(message)
    self.status = status


def is_loopback(host: str) -> bool:
  """Whether binding to `host` keeps the server reachable from this machine only."""
  try:
    return ipaddress.ip_address(host).is_loopback
  except ValueError:
    pass
  try:
    addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
  except (OSError, UnicodeError):
    return False
  return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


def build_program(settings: params.Settings, base_config: ml_collections.ConfigDict) -> Program:
  """The compiled pieces for `settings` (whose seed does not matter). Raises `RequestError(400)` saying what to
  change."""
  try:
    return Program(params.make_config(settings, base_config), datasets.get_dataset(settings.data, settings.points),
                   settings.preset.heat)
  except ValueError as error:
    raise RequestError(400, str(error)) from None
  except Exception as error:  # a setting the library cannot build: still the page's to fix
    log.exception("Could not build a run from %r", settings)
    raise RequestError(400, f"Could not build this GAN: {type(error).__name__}: {error}") from None


class Playground:
  """The sessions of one server.

  Args:
    base_config: the run config every session starts from (the CLI passes wgan_gp_toy's).
    max_sessions: open sessions (tabs) at most; more get an error.
    idle_timeout_s: a session stops this long after its last event stream went away.
  """

  def __init__(self, base_config: ml_collections.ConfigDict, max_sessions: int = 8, idle_timeout_s: float = 5.0):
    self.base_config = base_config
    self.max_sessions = max_sessions
    self.idle_timeout_s = idle_timeout_s
    self._sessions: dict[str, Session] = {}
    self._lock = threading.Lock()
    # Recent programs by settings without the seed: reset, a second tab or a return to earlier settings reuses
    # their compilations.
    self._program = functools.lru_cache(maxsize=16)(lambda settings: build_program(settings, base_config))

  def engine(self, raw_settings: Any) -> tuple[Engine, dict[str, Any]]:
    """A run for the page's settings, and the settings resolved. Raises `RequestError(400)` for bad ones."""
    try:
      settings = params.parse_settings(raw_settings)
    except ValueError as error:
      raise RequestError(400, str(error)) from None
    resolved = settings.resolved()
    same_program = dataclasses.replace(settings, seed=0, n_critic=resolved["n_critic"], g_lr=resolved["g_lr"],
                                       d_lr=resolved["d_lr"])
    return Engine(self._program(same_program), settings.seed), resolved

  def sessions(self) -> dict[str, Session]:
    """The live sessions (ended ones are dropped here)."""
    with self._lock:
      for session_id in [i for i, s in self._sessions.items() if not s.alive]:
        del self._sessions[session_id]
      return dict(self._sessions)

  def get(self, session_id: str) -> Session:
    session = self.sessions().get(session_id)
    if session is None:
      raise RequestError(404, f"No session {session_id!r}: it ended (its tab was closed or idle). Reload the page.")
    return session

  def create(self, raw_settings: Any) -> Session:
    if len(self.sessions()) >= self.max_sessions:
      raise RequestError(429, f"{self.max_sessions} sessions are open already; close a playground tab first.")
    engine, resolved = self.engine(raw_settings)
    session = Session(engine, resolved, self.idle_timeout_s)
    with self._lock:
      self._sessions[session.id] = session
    return session

  def close(self) -> None:
    sessions = list(self.sessions().values())
    for session in sessions:
      session.close()
    for session in sessions:
      session.join(timeout=5)


class _Handler(http.server.BaseHTTPRequestHandler):
  server: "PlaygroundServer"
  server_version = "jaxgan-playground"

  def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
    log.debug("%s " + format, self.address_string(), *args)

  def do_GET(self) -> None:  # noqa: N802
    self._dispatch("GET")

  def do_POST(self) -> None:  # noqa: N802
    self._dispatch("POST")

  def _dispatch(self, method: str) -> None:
    path = self.path.split("?", 1)[0]
    try:
      for route_method, pattern, handler in _ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
          handler(self, *match.groups())
          return
      raise RequestError(404 if method == "GET" else 405, f"No route {method} {path}.")
    except RequestError as error:
      self._send_json({"error": str(error)}, error.status)
    except (BrokenPipeError, ConnectionResetError):
      pass
    except Exception as error:
      log.exception("Request %s %s failed", method, path)
      self._send_json({"error": f"Internal error: {type(error).__name__}: {error}"}, 500)

  # --- helpers ---

  def _send(self, body: bytes, content_type: str, status: int = 200) -> None:
    self.send_response(status)
    self.send_header("Content-Type", content_type)
    self.send_header("Content-Length", str(len(body)))
    self.send_header("Cache-Control", "no-store")
    self.end_headers()
    self.wfile.write(body)

  def _send_json(self, value: Any, status: int = 200) -> None:
    self._send(json.dumps(value).encode(), "application/json", status)

  def _read_json(self) -> Any:
    try:
      length = int(self.headers.get("Content-Length") or 0)
    except ValueError:
      raise RequestError(400, "Bad Content-Length.") from None
    if length > MAX_BODY_BYTES:
      raise RequestError(413, f"Request body over {MAX_BODY_BYTES} bytes.")
    body = self.rfile.read(length) if length else b"{}"
    try:
      return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
      raise RequestError(400, "The request body is not valid JSON.") from None

  # --- routes ---

  def _static(self, name: str = "index.html") -> None:
    folder = importlib.resources.files("jaxgan.playground") / "static"
    suffix = "." + name.rsplit(".", 1)[-1]
    file = folder / name
    if "/" in name or name.startswith(".") or suffix not in _CONTENT_TYPES or not file.is_file():
      raise RequestError(404, f"No file {name!r}.")
    self._send(file.read_bytes(), _CONTENT_TYPES[suffix])

  def _options(self) -> None:
    self._send_json(params.options())

  def _create(self) -> None:
    session = self.server.playground.create(self._read_json())
    self._send_json({"session": session.id, "settings": session.settings}, 201)

  def _settings(self, session_id: str) -> None:
    session = self.server.playground.get(session_id)
    engine, resolved = self.server.playground.engine(self._read_json())
    session.replace(engine, resolved)
    self._send_json({"session": session.id, "settings": resolved})

  def _command(self, session_id: str) -> None:
    session = self.server.playground.get(session_id)
    body = self._read_json()
    if not isinstance(body, dict) or "action" not in body:
      raise RequestError(400, 'A command is {"action": ..., "value": ...}.')
    try:
      session.command(body["action"], body.get("value"))
    except ValueError as error:
      raise RequestError(400, str(error)) from None
    self._send_json({"ok": True})

  def _close(self, session_id: str) -> None:
    sessions = self.server.playground.sessions()
    if session_id in sessions:
      sessions[session_id].close()
    self._send_json({"ok": True})

  def _events(self, session_id: str) -> None:
    session = self.server.playground.get(session_id)
    self.send_response(200)
    self.send_header("Content-Type", "text/event-stream")
    self.send_header("Cache-Control", "no-store")
    self.end_headers()
    session.attach()
    try:
      number = 0
      while session.alive and not self.server.closing.is_set():
        number, frame = session.next_frame(number, KEEPALIVE_S)
        self.wfile.write(b"data: " + frame + b"\n\n" if frame is not None else b": keepalive\n\n")
        self.wfile.flush()
      self.wfile.write(b"event: end\ndata: {}\n\n")
    finally:
      session.detach()


_ROUTES: list[tuple[str, re.Pattern, Callable[..., None]]] = [
    ("GET", re.compile(r"/"), _Handler._static),
    ("GET", re.compile(r"/static/([A-Za-z0-9_.-]+)"), _Handler._static),
    ("GET", re.compile(r"/api/options"), _Handler._options),
    ("POST", re.compile(r"/api/sessions"), _Handler._create),
    ("POST", re.compile(r"/api/sessions/(\w+)/settings"), _Handler._settings),
    ("POST", re.compile(r"/api/sessions/(\w+)/command"), _Handler._command),
    ("POST", re.compile(r"/api/sessions/(\w+)/close"), _Handler._close),
    ("GET", re.compile(r"/api/sessions/(\w+)/events"), _Handler._events),
]


class PlaygroundServer(http.server.ThreadingHTTPServer):
  """A threading HTTP server holding a `Playground`; `serve_forever()` runs it, `close()` ends it and its sessions."""

  daemon_threads = True

  def __init__(self, address: tuple[str, int], playground: Playground):
    if ":" in address[0]:
      self.address_family = socket.AF_INET6
    self.playground = playground
    self.closing = threading.Event()
    self._serving = False
    super().__init__(address, _Handler)

  def serve_forever(self, poll_interval: float = 0.5) -> None:
    self._serving = True
    super().serve_forever(poll_interval)

  @property
  def url(self) -> str:
    host, port = self.server_address[:2]
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/"

  def close(self) -> None:
    self.closing.set()
    if self._serving:
      self.shutdown()  # waits for serve_forever to return; it would wait forever if it never ran
    self.playground.close()
    self.server_close()


def make_server(base_config: ml_collections.ConfigDict, host: str = "127.0.0.1", port: int = 8765,
                allow_remote: bool = False, **playground_options) -> PlaygroundServer:
  """Binds the playground's server (not yet serving: call `serve_forever()`, in a thread if need be).

  Args:
    base_config: the run config sessions start from.
    host: address to bind.
    port: port to bind; 0 picks a free one (see `server.url`).
    allow_remote: allow a `host` that is not loopback (the CLI sets it only when --host is given).
    **playground_options: `Playground`'s max_sessions and idle_timeout_s.

  Raises:
    ValueError: for a non-loopback host without `allow_remote`.
  """
  if not allow_remote and not is_loopback(host):
    raise ValueError(f"Refusing to bind the playground to {host!r}, which is not a loopback address: anyone who "
                     "reaches it could run training on this machine. Pass --host explicitly to allow it.")
  return PlaygroundServer((host, port), Playground(base_config, **playground_options))
