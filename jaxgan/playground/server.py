"""The playground's HTTP server: the page, a small JSON API and one Server-Sent Events stream per session.

Standard library only (`http.server.ThreadingHTTPServer`): each request, and each open event stream, has its own
thread; training runs in the sessions' threads. Routes:

    GET  /                                   the page (static/index.html; static/app.js beside it)
    GET  /api/options                        what the pickers offer, defaults, limits, settings changed live
    POST /api/sessions                       {settings} -> {"session": id, "settings": resolved settings}
    POST /api/sessions/<id>/settings         {settings}: a new run in the same session (paused)
    POST /api/sessions/<id>/command          {"action": play|pause|step|step_d|step_g|reset|speed, "value": ...},
                                             or {"action": "set", "value": {"d_lr"|"g_lr"|"n_critic": ...}}: a
                                             change the run takes without restarting (409 where it cannot: the page
                                             then sends the settings)
    POST /api/sessions/<id>/close            ends the session (the page sends it when the tab closes)
    GET  /api/sessions/<id>/events           text/event-stream of JSON frames, at most 10 per second

Every error is a JSON object {"error": message} with a 4xx/5xx status, shown on the page; no request can take the
server down or hold a thread: bodies are capped, and a connection that stops sending times out. The server binds to
loopback unless told otherwise (`allow_remote`), since anyone who reaches it can make it compute, and it answers only
requests addressed to it by the name it was bound to: a request whose `Host` is another name (DNS rebinding) or whose
`Origin` is another page (a cross-site request from a page the user visits) gets 403.
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
from collections.abc import Callable
from typing import Any

import ml_collections

from jaxgan.playground import datasets, params
from jaxgan.playground.engine import Engine, Program
from jaxgan.playground.session import LiveChangeUnsupported, Session

log = logging.getLogger(__name__)

# The largest body the page sends is the drawn dataset: 2000 points at 3 decimals, about 34 KB.
MAX_BODY_BYTES = 64 << 10
REQUEST_TIMEOUT_S = 10.0  # a connection that sends nothing for this long is answered 408 and closed
MAX_PROGRAMS = 4  # compiled programs kept for reuse; each holds its XLA executables
KEEPALIVE_S = 1.0  # an idle stream writes a comment this often, which is how a closed tab is noticed
_CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
}


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


def allowed_hosts(host: str, port: int) -> frozenset[str]:
  """The `Host` header values (lower case) of requests addressed to a server bound to (`host`, `port`).

  Loopback binds accept the loopback names with the port; other binds the bound name. A wildcard bind (0.0.0.0, ::)
  is reached by one of the machine's addresses, which the server does not know: `host_allowed` accepts any IP
  literal there, but no DNS name other than this machine's, which is what DNS rebinding needs.
  """
  host = host.strip("[]").lower()
  names = (
    {host, "localhost", "127.0.0.1", "::1"}
    if is_loopback(host)
    else {host, socket.gethostname().lower(), socket.getfqdn().lower()}
  )
  values = {f"[{name}]:{port}" if ":" in name else f"{name}:{port}" for name in names}
  if port == 80:  # a browser leaves the default port out
    values |= {f"[{name}]" if ":" in name else name for name in names}
  return frozenset(values)


def host_allowed(header: str | None, allowed: frozenset[str], wildcard_port: int | None = None) -> bool:
  """Whether a request's `Host` header names this server: one of `allowed`, or, for a wildcard bind (whose port is
  `wildcard_port`), an IP literal with that port."""
  if not header:
    return False
  header = header.strip().lower()
  if header in allowed:
    return True
  if wildcard_port is None:
    return False
  match = re.fullmatch(r"\[([0-9a-f:.]+)\]:(\d+)|([0-9.]+):(\d+)", header)
  if not match:
    return False
  address, port = (match[1], match[2]) if match[1] else (match[3], match[4])
  try:
    ipaddress.ip_address(address)
  except ValueError:
    return False
  return int(port) == wildcard_port


def build_program(settings: params.Settings, base_config: ml_collections.ConfigDict) -> Program:
  """The compiled pieces for `settings` (whose seed and live settings, n_critic and the rates, do not matter).
  Raises `RequestError(400)` saying what to change."""
  try:
    return Program(
      params.make_config(settings, base_config),
      datasets.get_dataset(settings.data, settings.points),
      settings.preset.heat,
    )
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
    max_programs: compiled programs kept for settings used again (least recently used ones go first).
  """

  def __init__(
    self,
    base_config: ml_collections.ConfigDict,
    max_sessions: int = 8,
    idle_timeout_s: float = 5.0,
    max_programs: int = MAX_PROGRAMS,
  ):
    self.base_config = base_config
    self.max_sessions = max_sessions
    self.idle_timeout_s = idle_timeout_s
    self._sessions: dict[str, Session] = {}
    self._starting = 0  # sessions being built: they hold a slot under max_sessions already
    self._lock = threading.Lock()
    # Recent programs by settings without the seed and the live settings: reset, a second tab or a return to earlier
    # settings reuses their compilations. Few are kept, as each holds its executables; an evicted one is freed with
    # the last session that runs it.
    self.program = functools.lru_cache(maxsize=max_programs)(lambda settings: build_program(settings, base_config))

  def settings(self, raw_settings: Any) -> params.Settings:
    """The page's settings, checked. Raises `RequestError(400)` for bad ones, whatever their shape."""
    try:
      return params.parse_settings(raw_settings)
    except (ValueError, TypeError, RecursionError) as error:
      raise RequestError(
        400,
        str(error)
        if isinstance(error, ValueError)
        else f"The settings do not have the expected shape ({type(error).__name__}).",
      ) from None

  def engine(self, raw_settings: Any) -> tuple[Engine, dict[str, Any]]:
    """A run for the page's settings, and the settings resolved. Raises `RequestError(400)` for bad ones."""
    settings = self.settings(raw_settings)
    resolved = settings.resolved()
    # The seed and the live settings are inputs of the compiled steps: runs that differ only in them share a program.
    same_program = dataclasses.replace(settings, seed=0, **{name: None for name in params.LIVE_FIELDS})
    live = {name: resolved[name] for name in params.LIVE_FIELDS}
    return Engine(self.program(same_program), settings.seed, live), resolved

  def _drop_ended(self) -> None:
    for session_id in [i for i, s in self._sessions.items() if not s.alive]:
      del self._sessions[session_id]

  def sessions(self) -> dict[str, Session]:
    """The live sessions (ended ones are dropped here)."""
    with self._lock:
      self._drop_ended()
      return dict(self._sessions)

  def get(self, session_id: str) -> Session:
    session = self.sessions().get(session_id)
    if session is None:
      raise RequestError(404, f"No session {session_id!r}: it ended (its tab was closed or idle). Reload the page.")
    return session

  def create(self, raw_settings: Any) -> Session:
    """A new session for the page's settings. Raises `RequestError` (429 when `max_sessions` are open or starting,
    400 for bad settings)."""
    # The slot is taken before the (slow) build, so that concurrent creates cannot all pass the check.
    with self._lock:
      self._drop_ended()
      if len(self._sessions) + self._starting >= self.max_sessions:
        raise RequestError(429, f"{self.max_sessions} sessions are open already; close a playground tab first.")
      self._starting += 1
    session = None
    try:
      engine, resolved = self.engine(raw_settings)
      session = Session(engine, resolved, self.idle_timeout_s)
    finally:
      with self._lock:
        self._starting -= 1
        if session is not None:
          self._sessions[session.id] = session
    return session

  def close(self) -> None:
    sessions = list(self.sessions().values())
    for session in sessions:
      session.close()
    for session in sessions:
      session.join(timeout=5)


class _Handler(http.server.BaseHTTPRequestHandler):
  server: PlaygroundServer
  server_version = "jaxgan-playground"

  def setup(self) -> None:
    # StreamRequestHandler sets this timeout on the socket: a client that stops sending mid-request (a short body,
    # headers that never end) gets an error, instead of holding this thread forever.
    self.timeout = self.server.request_timeout_s
    super().setup()

  def log_message(self, format: str, *args) -> None:  # noqa: A002 (the base class's name)
    log.debug("%s " + format, self.address_string(), *args)

  def do_GET(self) -> None:  # noqa: N802
    self._dispatch("GET")

  def do_POST(self) -> None:  # noqa: N802
    self._dispatch("POST")

  def _dispatch(self, method: str) -> None:
    path = self.path.split("?", 1)[0]
    try:
      self._check_addressed_to_this_server()
      for route_method, pattern, handler in _ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
          handler(self, *match.groups())
          return
      raise RequestError(404 if method == "GET" else 405, f"No route {method} {path}.")
    except RequestError as error:
      self.close_connection = True  # the body may be unread: what follows on this connection is not a request
      self._send_json({"error": str(error)}, error.status)
    except (BrokenPipeError, ConnectionResetError, TimeoutError):  # the client went away or stopped reading
      self.close_connection = True
    except Exception as error:
      log.exception("Request %s %s failed", method, path)
      self._send_json({"error": f"Internal error: {type(error).__name__}: {error}"}, 500)

  # --- helpers ---

  def _check_addressed_to_this_server(self) -> None:
    """Refuses (403) a request whose `Host` is not this server's name, or whose `Origin` is another page."""
    host = self.headers.get("Host")
    if not self.server.host_allowed(host):
      raise RequestError(
        403,
        f"Refused: this server answers requests for {self.server.url}, not for Host {host!r} "
        "(another name for this address is how DNS rebinding reaches it).",
      )
    origin = self.headers.get("Origin")
    if origin is not None and origin.strip().lower() != f"http://{host.strip().lower()}":
      raise RequestError(
        403,
        f"Refused: a request from the page {origin!r}, not from the playground's own page "
        f"(http://{host}); another site cannot drive this server.",
      )

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
    """The request's JSON body ({} when empty). Raises `RequestError` for a bad or missing length (400, 411), a
    body over `MAX_BODY_BYTES` (413), one that stops arriving (408) or ends short (400), and one that is not JSON
    (400)."""
    if "Transfer-Encoding" in self.headers:
      raise RequestError(411, "Send the request body with a Content-Length, not a Transfer-Encoding.")
    header = self.headers.get("Content-Length") or "0"
    if not re.fullmatch(r"\s*\d{1,19}\s*", header):
      raise RequestError(400, f"Bad Content-Length {header!r}: it must be a whole number of bytes, 0 or more.")
    length = int(header)
    if length > MAX_BODY_BYTES:
      raise RequestError(413, f"Request body of {length} bytes; at most {MAX_BODY_BYTES} are accepted.")
    if not length:
      return {}
    try:
      body = self.rfile.read(length)
    except TimeoutError:
      raise RequestError(408, f"The request body did not arrive within {self.server.request_timeout_s:g} s.") from None
    if len(body) < length:
      raise RequestError(400, f"The request body ended after {len(body)} of its {length} bytes.")
    try:
      return json.loads(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors; deep nesting
      raise RequestError(400, "The request body is not valid JSON (or is nested too deeply).") from None

  # --- routes ---

  def _static(self, name: str = "index.html") -> None:
    folder = importlib.resources.files("jaxgan.playground") / "static"
    suffix = "." + name.rsplit(".", 1)[-1]
    file = folder / name
    if "/" in name or name.startswith(".") or suffix not in _CONTENT_TYPES or not file.is_file():
      raise RequestError(404, f"No file {name!r}.")
    self._send(file.read_bytes(), _CONTENT_TYPES[suffix])

  def _options(self) -> None:
    # "live": the settings a control changes in the running run ("set"); the others start a new run.
    live = list(params.LIVE_FIELDS) if callable(getattr(Engine, "set_hyperparameters", None)) else []
    self._send_json({**params.options(), "live": live})

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
    except LiveChangeUnsupported as error:
      raise RequestError(409, str(error)) from None
    except (ValueError, TypeError, RecursionError) as error:
      raise RequestError(
        400,
        str(error)
        if isinstance(error, ValueError)
        else f'A command is {{"action": ..., "value": ...}} ({type(error).__name__}).',
      ) from None
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

  def __init__(self, address: tuple[str, int], playground: Playground, request_timeout_s: float = REQUEST_TIMEOUT_S):
    if ":" in address[0]:
      self.address_family = socket.AF_INET6
    self.playground = playground
    self.request_timeout_s = request_timeout_s
    self.closing = threading.Event()
    self._serving = False
    super().__init__(address, _Handler)
    host, port = address[0], self.server_address[1]
    self._allowed_hosts = allowed_hosts(host, port)
    self._wildcard_port = port if host.strip("[]") in ("", "0.0.0.0", "::") else None

  def host_allowed(self, header: str | None) -> bool:
    """Whether a request's `Host` header names this server (see `allowed_hosts`)."""
    return host_allowed(header, self._allowed_hosts, self._wildcard_port)

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


def make_server(
  base_config: ml_collections.ConfigDict,
  host: str = "127.0.0.1",
  port: int = 8765,
  allow_remote: bool = False,
  request_timeout_s: float = REQUEST_TIMEOUT_S,
  **playground_options,
) -> PlaygroundServer:
  """Binds the playground's server (not yet serving: call `serve_forever()`, in a thread if need be).

  Args:
    base_config: the run config sessions start from.
    host: address to bind.
    port: port to bind; 0 picks a free one (see `server.url`).
    allow_remote: allow a `host` that is not loopback (the CLI sets it only when --host is given).
    request_timeout_s: a connection that sends nothing for this long is answered 408 (mid-body) and closed.
    **playground_options: `Playground`'s max_sessions, idle_timeout_s and max_programs.

  Raises:
    ValueError: for a non-loopback host without `allow_remote`.
  """
  if not allow_remote and not is_loopback(host):
    raise ValueError(
      f"Refusing to bind the playground to {host!r}, which is not a loopback address: anyone who "
      "reaches it could run training on this machine. Pass --host explicitly to allow it."
    )
  return PlaygroundServer((host, port), Playground(base_config, **playground_options), request_timeout_s)
