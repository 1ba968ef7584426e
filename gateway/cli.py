"""`turnout`: serve, policy check, models, simulate (and the classifier's commands)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.serve_cli import cmd_serve, policy_or_exit
from gateway.settings import DEFAULT_POLICY


def cmd_policy_check(args: argparse.Namespace) -> int:
    from gateway.config import Policy

    policy = policy_or_exit(args.file)
    assert isinstance(policy, Policy)
    print(f"{args.file}: OK (version {policy.version})")
    print(f"  models: {len(policy.models)} ({', '.join(m.id for m in policy.models)})")
    for name, alias in policy.router.aliases.items():
        tiers = "; ".join(f"tier {int(t)}: {' > '.join(c)}" for t, c in sorted(alias.tiers.items()))
        print(f"  alias {name}: {tiers}; default {policy.router.default_model}")
        for route in alias.routes:
            print(f"    route {route.name}: {len(route.examples or ())} examples, library {route.library or 'auto'}, "
                  + "; ".join(f"tier {int(t)}: {' > '.join(c)}" for t, c in sorted(route.route_tiers.items())))
    return 0


def cmd_policy_schema(args: argparse.Namespace) -> int:
    from gateway.config import policy_json_schema

    text = policy_json_schema()
    if args.output is None:
        print(text, end="")
    else:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            print(f"{args.output}: cannot write ({exc.strerror})", file=sys.stderr)
            return 1
        print(f"wrote {args.output}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from gateway.config import Policy
    from gateway.runtime import resolve_keys

    policy = policy_or_exit(args.policy)
    assert isinstance(policy, Policy)
    _, unavailable = resolve_keys(policy, os.environ)
    rows = [("ID", "PROVIDER", "CONTEXT", "$IN/M", "$OUT/M", "CAPABILITIES", "TAGS", "AVAILABLE")]
    for m in policy.models:
        caps = ",".join(k for k, v in m.capabilities.model_dump().items() if v)
        rows.append((m.id, m.provider, str(m.context_window), f"{m.price.input_per_mtok:g}",
                     f"{m.price.output_per_mtok:g}", caps, ",".join(m.tags) or "-",
                     "no: " + unavailable[m.id] if m.id in unavailable else "yes"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return 0


def cmd_route(args: argparse.Namespace) -> int:
    """Explain how a prompt would be routed, without starting a gateway or calling a model."""
    from classifier import load_default
    from gateway.config import Policy
    from gateway.decide import classify
    from router.explain import explain
    from router.features import features_from_body
    from router.select import select
    from router.upstream.tokens import estimate_tokens

    policy = policy_or_exit(args.policy)
    assert isinstance(policy, Policy)
    alias = policy.router.aliases.get(args.model)
    if alias is None:
        print(f"{args.model!r} is not an alias of {args.policy} (aliases: {', '.join(policy.router.aliases)})",
              file=sys.stderr)
        return 2
    body = {"model": args.model, "messages": [{"role": "user", "content": args.prompt}]}
    classifier = load_default()
    embedding = classifier.embed(body["messages"])
    signals, ms = classify(classifier, alias.escalation.uncertainty_margin, body, embedding)
    features = features_from_body(body, prompt_tokens=estimate_tokens(body["messages"]))
    match, nearest = _route_match(policy, args.model, args.prompt)
    decision = select(policy.router, args.model, signals, features, {}, {m.id: m for m in policy.models},
                      policy_version=policy.version or "", route=match)
    why = classifier.explain(body["messages"], embedding=embedding)
    if args.explain:
        print(explain(decision, nearest))
        print(f"why: score {why.score:.3f} = P(the cheaper model is not good enough); length prior "
              f"{why.length_prior:.3f} (share of training prompts shorter)")
        print("nearest training prompts:")
        for n in why.neighbours:
            print(f"  {n.similarity:.2f} [{n.source}/{n.family}] {n.outcome}\n       {n.prompt}")
    else:
        print(json.dumps({**decision.to_dict(), "why": why.to_dict()}, default=str))
    print(f"classified in {ms:.3f} ms (given the request embedding)", file=sys.stderr)
    return 0


def _route_match(policy: object, alias: str, prompt: str) -> tuple[Any, list[tuple[str, float]]]:
    """The semantic route of `prompt` and the best route's nearest examples (None, [] without routes)."""
    from embedding import StaticEmbedder
    from gateway.config import Policy
    from gateway.semantic_routes import build_route_indexes

    assert isinstance(policy, Policy)
    if not policy.router.aliases[alias].routes:
        return None, []
    embedder = StaticEmbedder.load()
    index = build_route_indexes(policy, embedder)[alias]
    vector = embedder.embed(prompt)
    match = index.match(vector)
    return match, index.nearest(vector, match.best) if match.best in index.names[:-1] else []


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from `low` to `high`, else a usage error naming the range."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}-{high}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="turnout", description="Turnout: an OpenAI-compatible LLM router.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (default: the embedded policy, simulated models)")
    serve.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int_in(0, 65535), default=4000)
    serve.add_argument("--workers", type=int_in(1, 64), default=1)
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--graceful-timeout", type=int_in(0, 3600), default=30)
    serve.add_argument("--simulator", type=Path, default=None, metavar="FILE",
                       help="simulated upstreams to start (a simulator config; default: X.simulator.yaml "
                            "beside the policy X.yaml, when there is one)")
    serve.add_argument("--no-simulator", action="store_true",
                       help="do not start simulated upstreams")
    serve.set_defaults(func=cmd_serve)

    policy = sub.add_parser("policy", help="policy tools")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_sub.add_parser("check", help="validate a policy file")
    check.add_argument("file", type=Path)
    check.set_defaults(func=cmd_policy_check)
    schema = policy_sub.add_parser("schema", help="print (or write) the policy's JSON Schema")
    schema.add_argument("--output", type=Path, default=None)
    schema.set_defaults(func=cmd_policy_schema)

    models = sub.add_parser("models", help="the registry as a table, with availability")
    models.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    models.set_defaults(func=cmd_models)

    route = sub.add_parser("route", help="how a prompt would be routed (no model is called)")
    route.add_argument("prompt")
    route.add_argument("--explain", action="store_true", help="for a person, not as JSON")
    route.add_argument("--model", default="auto", help="the alias to route by")
    route.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    route.set_defaults(func=cmd_route)

    sub.add_parser("simulate", help="run the upstream simulator (`turnout simulate --help`)", add_help=False)

    from gateway.learning.cli import register as register_learning

    register_learning(sub)
    from gateway.routes_cli import register as register_routes

    register_routes(sub)
    with contextlib.suppress(ImportError):
        from classifier.cli import register

        register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["simulate"]:  # its own parser takes the rest (argparse's REMAINDER drops leading options)
        from simulator.cli import main as simulate

        code: int = simulate(argv[1:])
        return code
    args = build_parser().parse_args(argv)
    code = args.func(args)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
