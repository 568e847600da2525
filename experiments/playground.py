"""Watch GANs train live in the browser on 2-D data.

    python -m experiments.playground                 # then open http://127.0.0.1:8765/
    python -m experiments.playground --port 9000
    python -m experiments.playground --host 0.0.0.0  # other machines may reach it: only when you say so

The server, the training sessions and the page live in `jaxgan.playground`; every session starts from the
wgan_gp_toy config and overrides what the page picks.
"""

from __future__ import annotations

import argparse
import logging

from experiments.configs import wgan_gp_toy

DEFAULT_HOST = "127.0.0.1"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--port", type=int, default=8765, help="port to listen on (0: any free port)")
  parser.add_argument(
    "--host",
    default=None,
    help=f"address to bind (default {DEFAULT_HOST}); a non-loopback address is allowed only here",
  )
  return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
  args = parse_args(argv)
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
  from jaxgan.playground.server import make_server  # after parsing, so --help stays fast

  server = make_server(
    wgan_gp_toy.get_config(), host=args.host or DEFAULT_HOST, port=args.port, allow_remote=args.host is not None
  )
  print(f"GAN playground at {server.url} (Ctrl-C stops it)", flush=True)
  try:
    server.serve_forever()
  except KeyboardInterrupt:
    pass
  finally:
    server.close()


if __name__ == "__main__":
  main()
