"""`perfmodel serve`: the HTTP service (FastAPI on uvicorn) over the library; see `perfmodel.service`."""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
import sys
from pathlib import Path

from perfmodel.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="serve the models over HTTP (docs at /docs)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0 picks a free one)")
    parser.add_argument(
        "--data-dir",
        default="perfmodel-data",
        help="folder of the database, jobs and artifacts (default: ./perfmodel-data)",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes answering requests (default: 2)")
    parser.add_argument("--job-workers", type=int, default=1, help="jobs running at once (default: 1)")
    parser.add_argument(
        "--token", default=None, help="require 'Authorization: Bearer TOKEN' (default: $PERFMODEL_TOKEN, else none)"
    )
    parser.add_argument("--timeout", type=float, default=120.0, help="time limit of one request in seconds")
    parser.add_argument(
        "--max-pending", type=int, default=64, help="requests waiting for a worker before the server answers 429"
    )
    parser.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port {args.port} must be in 0..65535")
    for flag, value in (("--workers", args.workers), ("--job-workers", args.job_workers)):
        if not 1 <= value <= 256:
            raise InputError(f"{flag} {value} must be in 1..256")
    if not 0 <= args.max_pending <= 100_000:
        raise InputError(f"--max-pending {args.max_pending} must be in 0..100000")
    if not args.timeout > 0:
        raise InputError(f"--timeout {args.timeout} must be > 0")
    if args.token is not None and not args.token.strip():
        raise InputError("--token must not be empty")
    data_dir = Path(args.data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise InputError(f"--data-dir {args.data_dir} is not a folder")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def run(args: argparse.Namespace) -> int:
    _check(args)
    import uvicorn

    from perfmodel.service.app import create_app
    from perfmodel.service.settings import Settings

    token = args.token or os.environ.get("PERFMODEL_TOKEN") or None
    if not _is_loopback(args.host) and not token:
        sys.stderr.write(f"perfmodel serve: warning: listening on {args.host} without a token\n")
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only then (without it, Nagle's
    # algorithm holds each response body for a delayed ACK: some 40 ms per keep-alive request).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))  # an OSError (port in use) is one line and exit 2
    port = sock.getsockname()[1]
    data_dir = Path(args.data_dir).resolve()
    settings = Settings(
        data_dir=data_dir,
        workers=args.workers,
        job_workers=args.job_workers,
        token=token,
        request_timeout_s=args.timeout,
        max_pending=args.max_pending,
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=5, lifespan="on")
    )
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    auth = "token required" if token else "no token"
    print(f"perfmodel serve: http://{host}:{port} (data dir {data_dir}, {args.workers} workers, {auth})", flush=True)
    server.run(sockets=[sock])
    return 0
