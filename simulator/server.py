"""The simulator as a raw ASGI app, and `run` to serve it on uvicorn (uvloop/httptools when present).

Routes (with or without the `/v1` prefix):
    POST /v1/chat/completions   OpenAI chat, whole or `stream: true`
    POST /v1/embeddings         OpenAI embeddings
    GET  /v1/models             the configured models
    POST /v1/messages           Anthropic Messages, whole or streamed
    GET  /health                liveness
    POST /_sim/faults           replace a model's faults at runtime
    GET  /_sim/stats            per-model request counters
    POST /_sim/reset            configured faults, fresh seeded generators, zeroed counters
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from simulator import anthropic_api, control, openai_api
from simulator.asgi import ASGIApp, Receive, Responder, Scope, Send, read_body
from simulator.config import SimulatorConfig
from simulator.errors import ERROR_STYLES, SimError
from simulator.runtime import Runtime
from simulator.service import Exchange, Handler

_API: dict[tuple[str, str], tuple[Handler, str]] = {
    ("POST", "/chat/completions"): (openai_api.chat_completions, "openai"),
    ("POST", "/embeddings"): (openai_api.embeddings, "openai"),
    ("GET", "/models"): (openai_api.list_models, "openai"),
    ("POST", "/messages"): (anthropic_api.messages, "anthropic"),
}
ROUTES: dict[tuple[str, str], tuple[Handler, str]] = {
    **_API,
    **{(method, "/v1" + path): route for (method, path), route in _API.items()},
    ("GET", "/health"): (control.health, "openai"),
    ("POST", "/_sim/faults"): (control.set_faults, "openai"),
    ("GET", "/_sim/stats"): (control.stats, "openai"),
    ("POST", "/_sim/reset"): (control.reset, "openai"),
}
_PATHS = frozenset(path for _, path in ROUTES)


class SimulatorApp:
    """The ASGI app; all live state is the `Runtime` built here."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.runtime = Runtime(config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        responder = Responder(receive, send)
        path = scope["path"].rstrip("/") or "/"
        route = ROUTES.get((scope["method"], path))
        if route is None:
            status = 405 if path in _PATHS else 404
            error = SimError(status, f"No route for {scope['method']} {scope['path']}.")
            await responder.json(status, ERROR_STYLES["openai"].body(error))
            return
        handler, style = route
        body = await read_body(receive) if scope["method"] == "POST" else b""
        try:
            await handler(Exchange(self.runtime, responder, body))
        except SimError as error:
            await responder.json(error.status, ERROR_STYLES[style].body(error), error.headers)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def build_app(config: SimulatorConfig) -> ASGIApp:
    return SimulatorApp(config)


def bind(host: str, port: int) -> socket.socket:
    """A listening-ready socket on (host, port); port 0 picks a free one."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def run(config: SimulatorConfig, *, host: str | None = None, port: int | None = None,
        log_level: str = "warning", on_ready: Callable[[str, int], None] | None = None) -> None:
    """Serve until interrupted (SIGINT/SIGTERM). `on_ready(host, port)` runs once the server accepts
    connections, with the real port when `port` is 0."""
    import uvicorn

    host = host or config.host
    sock = bind(host, config.port if port is None else port)
    uv_config = uvicorn.Config(build_app(config), loop="auto", http="auto", lifespan="off",
                               access_log=False, log_level=log_level, timeout_graceful_shutdown=1)
    bound_host = host

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started and on_ready is not None:
                on_ready(bound_host, sock.getsockname()[1])

    with asyncio.Runner(loop_factory=uv_config.get_loop_factory()) as runner:
        runner.run(Server(uv_config).serve(sockets=[sock]))
