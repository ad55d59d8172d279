"""``python -m acoustic_guard_verifier --port 8765 --token-file FILE``: run the verifier."""

from __future__ import annotations

import argparse
import logging
import ssl
import sys
from pathlib import Path

DEFAULT_MAX_BYTES = 8 * 1024 * 1024


def read_token(path: Path) -> str:
    """The bearer token: the file's content without surrounding whitespace."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as err:
        raise SystemExit(f"acoustic_guard_verifier: cannot read token file {path}: {err}") from err
    if not token:
        raise SystemExit(f"acoustic_guard_verifier: token file {path} is empty")
    return token


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m acoustic_guard_verifier",
        description="Acoustic Guard reference verifier (YAMNet + the engine's pattern analysis).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument("--token-file", type=Path, required=True, help="file holding the token")
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=DEFAULT_MAX_BYTES,
        help=f"largest request body accepted (default {DEFAULT_MAX_BYTES})",
    )
    parser.add_argument("--threads", type=int, default=1, help="inference threads (default 1)")
    parser.add_argument("--certfile", type=Path, help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--keyfile", type=Path, help="private key of --certfile (PEM)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ...")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.max_bytes < 1024:
        raise SystemExit("acoustic_guard_verifier: --max-bytes must be at least 1024")
    ssl_context: ssl.SSLContext | None = None
    if args.certfile is not None:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ssl_context.load_cert_chain(args.certfile, args.keyfile)
        except (OSError, ssl.SSLError) as err:
            raise SystemExit(f"acoustic_guard_verifier: cannot load certificate: {err}") from err
    token = read_token(args.token_file)
    # Imported only now: the engine (and the models) take seconds to import, and a bad
    # command line should fail at once.
    from aiohttp import web  # noqa: PLC0415

    from .server import ServerConfig, create_app  # noqa: PLC0415

    config = ServerConfig(token=token, max_bytes=args.max_bytes, threads=args.threads)
    web.run_app(
        create_app(config),
        host=args.host,
        port=args.port,
        ssl_context=ssl_context,
        print=lambda line: print(line, file=sys.stderr, flush=True),
    )


if __name__ == "__main__":
    main()
