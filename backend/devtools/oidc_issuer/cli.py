"""``python -m backend.devtools.oidc_issuer serve|mint``: the issuer from a shell (dev.py)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from backend.devtools.oidc_issuer.issuer import LocalIssuer
from backend.devtools.oidc_issuer.material import SIGNING_KEY_FILE


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m backend.devtools.oidc_issuer``."""
    args = _build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    return _mint(args)


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m backend.devtools.oidc_issuer",
        description="Local OpenID Connect issuer for development and tests.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the issuer until killed")
    serve.add_argument("--state-dir", required=True, type=Path, help="keys and certificates")
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    serve.add_argument("--port", type=int, default=0, help="default: any free port")
    serve.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")

    mint = commands.add_parser("mint", help="print an access token (no server needed)")
    mint.add_argument("--state-dir", required=True, type=Path, help="same as for serve")
    mint.add_argument("--url", required=True, help="issuer URL as printed by serve (the iss)")
    mint.add_argument("--sub", required=True)
    mint.add_argument("--email")
    mint.add_argument("--email-unverified", action="store_true", help="set email_verified to false")
    mint.add_argument(
        "--entitlement",
        dest="entitlements",
        action="extend",
        nargs="+",
        metavar="X",
        help="eduperson_entitlement value(s); repeatable",
    )
    mint.add_argument("--expires-in", type=int, default=3600, metavar="S", help="seconds")
    return parser


def _serve(args: argparse.Namespace) -> int:
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    issuer = LocalIssuer(args.state_dir, host=args.host, port=args.port).start()
    try:
        print(f"url={issuer.url}", flush=True)
        print(f"ca_bundle={issuer.ca_bundle}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        issuer.stop()
    return 0


def _mint(args: argparse.Namespace) -> int:
    if not (args.state_dir / SIGNING_KEY_FILE).exists():
        print(
            f"warning: no signing key in {args.state_dir} yet; creating one. "
            "Tokens verify only against an issuer served from this state dir.",
            file=sys.stderr,
        )
    issuer = LocalIssuer(args.state_dir)
    token = issuer.mint(
        args.sub,
        iss=args.url.rstrip("/"),
        email=args.email,
        email_verified=not args.email_unverified,
        entitlements=args.entitlements,
        expires_in=args.expires_in,
    )
    print(token)
    return 0
