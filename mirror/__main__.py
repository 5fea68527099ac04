"""``python -m mirror [--port 0] [--state baseline] [--synthetic N] [--families] [--discovery]``.

Prints one line, the base URL, once serving; serves until SIGTERM or SIGINT.

May import: ``mirror`` (``MirrorServer``).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from mirror import MirrorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mirror", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "localhost", "::1"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--state", default="baseline", help="comma-separated change names")
    parser.add_argument("--synthetic", type=int, default=0, help="report pages in the bench portal")
    parser.add_argument(
        "--synthetic-noise", action="store_true", help="fresh noise on every bench report page"
    )
    parser.add_argument("--families", action="store_true", help="also serve the CMS family portals")
    parser.add_argument(
        "--discovery", action="store_true", help="also serve the discovery portals (/dsc1/ …)"
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr)
    state = tuple(c.strip() for c in args.state.split(",") if c.strip())
    try:
        mirror = MirrorServer(
            host=args.host,
            port=args.port,
            state=state,
            synthetic=args.synthetic,
            synthetic_noise=args.synthetic_noise,
            families=args.families,
            discovery=args.discovery,
        )
    except ValueError as exc:
        parser.error(str(exc))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    sys.stdout.write(mirror.start() + "\n")
    sys.stdout.flush()
    try:
        done.wait()
    finally:
        mirror.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
