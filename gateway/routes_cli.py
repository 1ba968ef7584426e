"""`turnout routes ...`: check semantic routes before reloading them.

    turnout routes test labelled.jsonl --policy mine.yaml [--alias auto] [--markdown]
    turnout routes library

A labelled line is `{"route": "code", "text": "..."}` or `{"route": "code", "messages": [...]}`;
`"route": "none"` means the request should fall back to the alias's own tiers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def cmd_routes_test(args: argparse.Namespace) -> int:
    from embedding import StaticEmbedder, request_text
    from gateway.config import Policy, load_policy
    from gateway.semantic_routes import build_route_indexes, match_route
    from gateway.yamlpath import ConfigError
    from router.route_eval import Confusion

    try:
        policy: Policy = load_policy(args.policy)
    except ConfigError as exc:
        print(exc.render(), file=sys.stderr)
        return 1
    alias = policy.router.aliases.get(args.alias)
    if alias is None or not alias.routes:
        print(f"{args.alias!r} is not an alias with routes in {args.policy}", file=sys.stderr)
        return 2
    try:
        lines = Path(args.file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{args.file}: cannot read ({exc.strerror if isinstance(exc, OSError) else exc})", file=sys.stderr)
        return 1
    embedder = StaticEmbedder.load()
    index = build_route_indexes(policy, embedder)[args.alias]
    confusion = Confusion(labels=list(index.names))
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row: dict[str, Any] = json.loads(line)
            messages = row.get("messages") or [{"role": "user", "content": row["text"]}]
            label = str(row["route"])
            if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
                raise TypeError("`messages` must be a list of messages")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            print(f"{args.file}:{n}: not a labelled request ({exc})", file=sys.stderr)
            return 1
        turns = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "user")
        match = match_route(index, embedder.embed(request_text(messages)), turns, messages, embedder)
        confusion.add(label, match.route)
    print(confusion.render(markdown=args.markdown))
    return 0


def cmd_routes_library(args: argparse.Namespace) -> int:
    from router.library import load_library

    for route in load_library().values():
        print(f"{route.name:<18} {len(route.examples):>3} examples  {route.description}")
    return 0


def register(sub: Any) -> None:
    routes = sub.add_parser("routes", help="semantic routes: test a policy's routes, list the library")
    routes_sub = routes.add_subparsers(dest="routes_command", required=True)
    test = routes_sub.add_parser("test", help="confusion table of labelled requests (JSON lines)")
    test.add_argument("file", type=Path)
    test.add_argument("--policy", type=Path, required=True)
    test.add_argument("--alias", default="auto")
    test.add_argument("--markdown", action="store_true", help="a Markdown table")
    test.set_defaults(func=cmd_routes_test)
    library = routes_sub.add_parser("library", help="the built-in routes a policy can extend")
    library.set_defaults(func=cmd_routes_library)
