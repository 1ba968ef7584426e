"""`turnout serve`: the checks that make a failed start one line, the simulated upstreams, uvicorn."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path


def policy_or_exit(path: Path) -> object:
    from gateway.config import load_policy
    from gateway.yamlpath import ConfigError

    try:
        return load_policy(path)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        raise SystemExit(2) from None


@contextlib.contextmanager
def _simulator(policy_path: Path, config: Path | None, enabled: bool) -> Iterator[None]:
    """The simulated upstreams, from their own config: `--simulator FILE`, else the file beside the
    policy (`X.simulator.yaml` beside `X.yaml`) when there is one."""
    from simulator.cli import beside, load_file

    path = config if config is not None else beside(policy_path)
    if not enabled or (config is None and not path.is_file()):
        yield
        return
    import yaml

    from simulator.process import SimulatorError, start_simulator

    try:
        settings = load_file(path)
    except (OSError, ValueError, yaml.YAMLError, RecursionError) as exc:  # RecursionError: nested too deeply
        print(f"turnout: simulator config {path}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        sim = start_simulator(settings, port=settings.port, exit_with_parent=True)
    except SimulatorError as exc:  # its own reason (e.g. "Address already in use") is printed above this
        print(f"turnout: the simulated upstreams of {path.name} did not start on port {settings.port} ({exc}); "
              "is another `turnout serve` running? Stop it, or start this one with --no-simulator",
              file=sys.stderr)
        raise SystemExit(2) from None
    print(f"turnout: simulated upstreams on {sim.base_url} "
          f"({', '.join(m.name for m in settings.models)}; {path.name})", file=sys.stderr)
    try:
        yield
    finally:
        sim.stop()


def _redis_or_exit(policy: object) -> None:
    """A Redis URL that cannot be used stops the start with one line. (A refused password or an
    unreachable server is one error line at start; `/readyz` answers 503 until Redis answers.)"""
    from gateway.config import Policy
    from gateway.redisconn import unusable

    assert isinstance(policy, Policy)
    url = os.environ.get(policy.redis.url_env) if policy.redis is not None else None
    problem = unusable(url) if url else None
    if problem is not None:
        print(f"turnout: {problem}", file=sys.stderr)
        raise SystemExit(2)


def _port_or_exit(host: str, port: int) -> None:
    """A taken port is one line before anything starts (uvicorn would load the whole gateway, say it
    listens, then log the failure and exit 3)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        socket.getaddrinfo(host, port, family)
    except socket.gaierror as exc:
        print(f"turnout: cannot listen on {host} ({exc.strerror}); check --host", file=sys.stderr)
        raise SystemExit(2) from None
    try:
        socket.create_server((host, port), family=family).close()  # SO_REUSEADDR, as uvicorn binds
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        print(f"turnout: cannot listen on {host}:{port} ({reason}); is another `turnout serve` "
              "running? Stop it, or choose another --port", file=sys.stderr)
        raise SystemExit(2) from None


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway import logs
    from gateway.app import create_app
    from gateway.settings import Settings

    policy = policy_or_exit(args.policy)
    _redis_or_exit(policy)
    _port_or_exit(args.host, args.port)
    os.environ.update({"TURNOUT_POLICY": str(args.policy), "TURNOUT_HOST": args.host,
                       "TURNOUT_PORT": str(args.port), "TURNOUT_WORKERS": str(args.workers),
                       "TURNOUT_LOG_LEVEL": args.log_level})
    try:
        settings = dataclasses.replace(Settings.from_env(), tune_gc=True)
    except ValueError as exc:
        print(f"turnout serve: {exc}", file=sys.stderr)
        return 2
    listener = logs.configure(args.log_level)
    common = {"host": args.host, "port": args.port, "log_config": None, "access_log": False,
              "timeout_graceful_shutdown": args.graceful_timeout}
    # uvicorn re-raises SIGTERM after its graceful shutdown: make that unwind through `finally`,
    # so the simulated upstreams are stopped too.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        with _simulator(args.policy, args.simulator, not args.no_simulator):
            shown = f"[{args.host}]" if ":" in args.host else args.host
            print(f"turnout: OpenAI-compatible API on http://{shown}:{args.port}/v1 (policy {args.policy})",
                  file=sys.stderr)
            if args.workers > 1:
                uvicorn.run("gateway.app:create_app_from_env", factory=True, workers=args.workers, **common)
            else:
                uvicorn.run(create_app(settings), **common)
    finally:
        listener.stop()  # flush the last log lines
    return 0
