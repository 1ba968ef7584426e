"""`GET /admin/runtime`: what the process holds right now (requests in flight, asyncio tasks, open file
descriptors, resident memory), for leak checks. Guarded like every admin endpoint."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from gateway.admin import require_admin
from gateway.shedding import Gate


def _rss_bytes() -> int:
    try:
        fields = Path("/proc/self/statm").read_text().split()
    except OSError:  # not Linux
        return 0
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:  # not Linux
        return 0


def snapshot(gate: Gate) -> dict[str, Any]:
    return {"in_flight": gate.in_flight, "shed": gate.shed, "draining": gate.draining,
            "tasks": len(asyncio.all_tasks()), "open_fds": _open_fds(), "rss_bytes": _rss_bytes()}


def add_debug_routes(app: FastAPI) -> None:
    @app.get("/admin/runtime", include_in_schema=False)
    async def runtime(request: Request) -> Response:
        require_admin(request)
        return Response(orjson.dumps(snapshot(request.app.state.gate)), media_type="application/json")
