"""`python -m simulator` / `turnout simulate`: run the simulator from a config or policy file.

    python -m simulator [--config FILE.yaml] [--policy POLICY.yaml] [--host H] [--port P]
                                [--model NAME ...] [--seed N] [--log-level LEVEL]

`--config` is a YAML `SimulatorConfig`; `--policy X.yaml` takes the one beside a Turnout policy
file (`X.simulator.yaml`); `--model` adds plain models. Once the server accepts connections it prints one line,
`turnout simulator listening on http://H:P (models: ...)`, with the real port when `--port 0`.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from simulator.config import SimModel, SimulatorConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="turnout simulate", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="YAML file holding a SimulatorConfig")
    parser.add_argument("--policy", type=Path,
                        help="Turnout policy file; the simulator config beside it (X.simulator.yaml) is used")
    parser.add_argument("--host", help="address to bind (default from config: 127.0.0.1)")
    parser.add_argument("--port", type=_port, help="port to bind, 0 for a free one (default from config)")
    parser.add_argument("--model", action="append", default=[], metavar="NAME", help="add a plain model")
    parser.add_argument("--seed", type=int, help="override the config seed")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default: warning)")
    parser.add_argument("--exit-with-parent", action="store_true",
                        help="stop when the process that started this one ends (Linux; `turnout serve` sets it)")
    return parser


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0-65535)")
    return int(text)


def beside(policy: Path) -> Path:
    """The simulator config of a policy file: `X.simulator.yaml` beside `X.yaml`."""
    return policy.with_name(f"{policy.stem}.simulator.yaml")


def load_file(path: Path) -> SimulatorConfig:
    return SimulatorConfig.model_validate(_section(path, None))


def _section(path: Path, key: str | None) -> dict[str, object]:
    data = yaml.safe_load(path.read_text()) or {}
    if key is not None:
        data = data.get(key) or {} if isinstance(data, dict) else {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping{f' under {key!r}' if key else ''}")
    return data


def load_config(args: argparse.Namespace) -> SimulatorConfig:
    raw: dict[str, object] = {}
    if args.policy is not None:
        raw.update(_section(beside(args.policy), None))
    if args.config is not None:
        raw.update(_section(args.config, None))
    config = SimulatorConfig.model_validate(raw)
    known = {m.name for m in config.models}
    extra = tuple(SimModel(name=n) for n in dict.fromkeys(args.model) if n not in known)
    updates: dict[str, object] = {"models": config.models + extra}
    if args.seed is not None:
        updates["seed"] = args.seed
    return SimulatorConfig.model_validate({**config.model_dump(), **updates})


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.exit_with_parent:
        from simulator.parent import end_with_parent

        if not end_with_parent():
            return 0
    try:
        config = load_config(args)
    except RecursionError:  # PyYAML's composer recurses once per level of nesting
        print("turnout simulate: the config nests too deeply to read", file=sys.stderr)
        return 2
    except (OSError, ValueError, ValidationError, yaml.YAMLError) as exc:  # UnicodeDecodeError is a ValueError
        print(f"turnout simulate: {exc}", file=sys.stderr)
        return 2
    names = ", ".join(m.name for m in config.models) or "none; pattern names only"

    def ready(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        print(f"turnout simulator listening on http://{shown}:{port} (models: {names})", flush=True)

    from simulator.server import run

    try:
        with contextlib.suppress(KeyboardInterrupt):
            run(config, host=args.host, port=args.port, log_level=args.log_level, on_ready=ready)
    except OSError as exc:  # cannot bind
        print(f"turnout simulate: {exc}", file=sys.stderr)
        return 1
    return 0
