"""What each fault kind does to a request.

Faults that strike before the answer (`http_500`, `http_503`, `rate_limit`, `timeout`, `reset`, and
a 200 with an `empty_body` or a body that is `not_json`) are actions in `BEFORE_ANSWER`; faults in
a whole answer (`bad_choices`, `empty_choices`, `reset_mid_body`) are applied by `answer_json`; the
stream faults (`cut_stream`, `malformed_chunk`, `bad_choices`, `empty_choices`, `reset_mid_body`,
`oversized_line`; `cr_line_ends` from the start) live in `StreamWriter`, which counts the events it
sends and strikes after `after_chunks` of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson

from simulator.asgi import Responder
from simulator.config import Fault
from simulator.errors import SimError

MALFORMED = b"data: {not json\n\n"
BAD_CHOICES = b'data: {"id": "chatcmpl-bad", "object": "chat.completion.chunk", "choices": "abc"}\n\n'
EMPTY_CHOICES = b'data: {"id": "chatcmpl-empty", "object": "chat.completion.chunk", "choices": []}\n\ndata: [DONE]\n\n'
BODY_FAULTS = frozenset({"bad_choices", "empty_choices", "reset_mid_body"})
STREAM_STRIKES = frozenset({"cut_stream", "malformed_chunk", "bad_choices", "empty_choices", "reset_mid_body",
                            "oversized_line"})

# An action raises SimError for an HTTP error, or returns True when the request is over (connection
# dropped, client gone) and False when the answer should follow.
FaultAction = Callable[[Fault, Responder], Awaitable[bool]]


class StreamCutError(Exception):
    """The stream was cut on purpose; the handler stops writing."""


async def _http_500(fault: Fault, responder: Responder) -> bool:
    raise SimError(500, "The simulator failed this request on purpose (http_500).", code="server_error")


async def _http_503(fault: Fault, responder: Responder) -> bool:
    raise SimError(503, "The simulated server is overloaded (http_503).", code="service_unavailable")


async def _rate_limit(fault: Fault, responder: Responder) -> bool:
    retry_after = f"{fault.retry_after_s:g}".encode()
    raise SimError(429, f"Rate limit reached; retry after {fault.retry_after_s:g}s (simulated).",
                   code="rate_limit_exceeded", headers=[(b"retry-after", retry_after)])


async def _timeout(fault: Fault, responder: Responder) -> bool:
    return await responder.hang(fault.hang_s)


async def _reset(fault: Fault, responder: Responder) -> bool:
    await responder.drop(reset=True)
    return True


async def _stream_only(fault: Fault, responder: Responder) -> bool:
    return False


async def _empty_body(fault: Fault, responder: Responder) -> bool:
    await responder.raw(200, b"", b"application/json")
    return True


async def _not_json(fault: Fault, responder: Responder) -> bool:
    await responder.raw(200, b"<html><body>502 Bad Gateway (from a proxy)</body></html>", b"text/html")
    return True


async def answer_json(fault: Fault | None, responder: Responder, body: dict[str, object]) -> None:
    """The whole answer, as a fault in it (if any) would have it."""
    kind = fault.kind if fault is not None else None
    if kind == "bad_choices":
        body = {**body, "choices": "abc"}
    elif kind == "empty_choices":
        body = {**body, "choices": []}
    elif kind == "reset_mid_body":
        payload = orjson.dumps(body)
        await responder.raw(200, payload[: len(payload) // 2], b"application/json", length=len(payload))
        await responder.drop(reset=True)
        return
    await responder.json(200, body)


BEFORE_ANSWER: dict[str, FaultAction] = {
    "http_500": _http_500,
    "http_503": _http_503,
    "rate_limit": _rate_limit,
    "timeout": _timeout,
    "reset": _reset,
    "cut_stream": _stream_only,
    "malformed_chunk": _stream_only,
    "empty_body": _empty_body,
    "not_json": _not_json,
    "bad_choices": _stream_only,
    "empty_choices": _stream_only,
    "reset_mid_body": _stream_only,
    "cr_line_ends": _stream_only,
    "oversized_line": _stream_only,
}


async def before_answer(fault: Fault | None, responder: Responder) -> bool:
    """Apply a fault that strikes before the answer; True when nothing more should be sent."""
    return fault is not None and await BEFORE_ANSWER[fault.kind](fault, responder)


class StreamWriter:
    """Sends server-sent events, striking a stream fault after `fault.after_chunks` events.
    A stream shorter than that is struck just before its end.

    With `coalesce` (an unpaced stream) events are gathered and written at once when the stream
    ends or a fault strikes: the bytes on the wire are the same, with far fewer writes."""

    def __init__(self, responder: Responder, fault: Fault | None, *, coalesce: bool = False) -> None:
        self._responder = responder
        self._fault = fault if fault is not None and fault.kind in STREAM_STRIKES else None
        self._cr_only = fault is not None and fault.kind == "cr_line_ends"
        self._coalesce = coalesce
        self._pending: list[bytes] = []
        self._sent = 0
        self._struck = False

    async def start(self) -> None:
        await self._responder.start_stream()

    async def send(self, event: bytes) -> None:
        if self._fault is not None and not self._struck and self._sent >= self._fault.after_chunks:
            await self._strike()
        self._sent += 1
        if self._cr_only:  # SSE allows CR alone as a line end
            event = event.replace(b"\n", b"\r")
        if self._coalesce:
            self._pending.append(event)
        else:
            await self._responder.write(event)

    async def close(self) -> None:
        if self._fault is not None and not self._struck:
            await self._strike()
        await self._flush()
        await self._responder.finish()

    async def _flush(self) -> None:
        if self._pending:
            await self._responder.write(b"".join(self._pending))
            self._pending.clear()

    async def _strike(self) -> None:
        self._struck = True
        assert self._fault is not None
        kind = self._fault.kind
        if kind in ("cut_stream", "reset_mid_body"):
            await self._flush()
            await self._responder.drop(reset=kind == "reset_mid_body")
            raise StreamCutError
        if kind == "empty_choices":
            self._pending.append(EMPTY_CHOICES)
            await self._flush()
            await self._responder.finish()
            raise StreamCutError
        if kind == "oversized_line":
            text = b"x" * self._fault.line_bytes
            event = b'data: {"choices": [{"index": 0, "delta": {"content": "' + text + b'"}}]}\n\n'
        else:
            event = BAD_CHOICES if kind == "bad_choices" else MALFORMED
        if self._coalesce:
            self._pending.append(event)
        else:
            await self._responder.write(event)
