"""`turnout learning export|apgr`: outcome rows out of the store, and the router's APGR over time.

    turnout learning export --policy P --output rows.jsonl      # `turnout classifier train --outcomes rows.jsonl`
    turnout learning apgr --policy P [--input rows.jsonl] [--plot apgr.png]
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

import orjson

from gateway.learning.rows import OutcomeRow


async def _read_store(policy_path: Path, alias: str) -> list[OutcomeRow]:
    from gateway.config import load_policy
    from gateway.learning.store import RedisStore
    from gateway.yamlpath import ConfigError

    try:
        policy = load_policy(policy_path)
    except ConfigError as exc:
        raise SystemExit(exc.render()) from None
    url = os.environ.get(policy.redis.url_env, "") if policy.redis is not None else ""
    if not url:
        raise SystemExit("outcome rows live in Redis: the policy names none, or its url variable is not set")
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    store = RedisStore(client=client, prefix=policy.learning.key_prefix, max_rows=policy.learning.max_rows)
    rows: list[OutcomeRow] = []
    cursor = None
    try:
        while True:
            batch = await store.rows_since(alias, cursor, 1000)
            rows += batch.rows
            cursor = batch.cursor
            if len(batch.rows) < 1000:
                return rows
    finally:
        await client.aclose()


def _export_line(row: OutcomeRow) -> dict[str, Any]:
    """A row `classifier train --outcomes` reads: the request embedding, the ladder, the outcomes, the
    prompt length and time (the prompt text only when `learning.keep_prompts` kept it)."""
    data = row.to_json()
    data["group"] = f"operator:{row.alias}"
    if row.prompt is None:
        data.pop("prompt")
    return data


def cmd_export(args: argparse.Namespace) -> int:
    rows = asyncio.run(_read_store(args.policy, args.alias))
    lines = [orjson.dumps(_export_line(r)) for r in rows]
    try:
        args.output.write_bytes(b"\n".join(lines) + (b"\n" if lines else b""))
    except OSError as exc:
        raise SystemExit(f"{args.output}: cannot write ({exc.strerror})") from None
    with_prompt = sum(r.prompt is not None for r in rows)
    print(f"{len(rows)} outcome rows of {args.alias!r} written to {args.output} ({with_prompt} with their prompt); "
          f"retrain the classifier on them: turnout classifier train --outcomes {args.output} --output DIR")
    return 0


def _rows(args: argparse.Namespace) -> list[OutcomeRow]:
    if args.input is None:
        return asyncio.run(_read_store(args.policy, args.alias))
    try:
        lines = args.input.read_bytes().splitlines()
    except OSError as exc:
        raise SystemExit(f"{args.input}: cannot read ({exc.strerror})") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rows.append(OutcomeRow.loads(line))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # orjson's error is a ValueError
            raise SystemExit(f"{args.input}:{number}: not an outcome row of `turnout learning export` "
                             f"({type(exc).__name__}: {exc})") from None
    return rows


def _positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def cmd_apgr(args: argparse.Namespace) -> int:
    import time

    from gateway.learning.apgr import over_time

    windows = over_time(_rows(args), windows=args.windows)
    if not windows:
        print("no outcome rows score both models of their ladder yet (shadow samples and full feedback do)")
        return 1
    print(f"{'window (UTC)':<36}  {'rows':>5}  {'router':>7}  {'cold start':>10}")
    for w in windows:
        span = f"{time.strftime('%m-%d %H:%M:%S', time.gmtime(w.start))} .. " \
               f"{time.strftime('%m-%d %H:%M:%S', time.gmtime(w.end))}"
        print(f"{span:<36}  {w.rows:>5}  {w.apgr_router:>7.3f}  {w.apgr_cold:>10.3f}")
    if args.plot is not None:
        _plot(windows, args.plot)
        print(f"plot written to {args.plot}")
    return 0


def _plot(windows: list[Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = list(range(1, len(windows) + 1))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(x, [w.apgr_router for w in windows], marker="o", label="router (as served)")
    ax.plot(x, [w.apgr_cold for w in windows], marker="s", label="cold start")
    ax.axhline(0.5, color="grey", linestyle=":", label="random")
    ax.set_xlabel("window of outcome rows (oldest first)")
    ax.set_ylabel("APGR")
    ax.set_title("Routing quality on recent outcome rows")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def register(sub: Any) -> None:
    from gateway.settings import DEFAULT_POLICY

    learning = sub.add_parser("learning", help="outcome rows: export them, APGR over time")
    commands = learning.add_subparsers(dest="learning_command", required=True)
    export = commands.add_parser("export", help="outcome rows as JSONL (for `classifier train --outcomes`)")
    export.add_argument("--output", type=Path, required=True)
    apgr = commands.add_parser("apgr", help="the router's APGR on recent outcome rows, per time window")
    apgr.add_argument("--input", type=Path, help="exported rows instead of the policy's Redis")
    apgr.add_argument("--windows", type=_positive, default=10)
    apgr.add_argument("--plot", type=Path, help="also write the curve as a PNG")
    for command in (export, apgr):
        command.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
        command.add_argument("--alias", default="auto")
    export.set_defaults(func=cmd_export)
    apgr.set_defaults(func=cmd_apgr)
