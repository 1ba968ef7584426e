"""A plain answer through the output guardrails, with one corrective retry for a JSON answer that
misses its schema."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.access import Access
    from gateway.runtime import Runtime
    from router.record import RouteRecord


async def complete(runtime: Runtime, body: dict[str, Any], route: RouteRecord, access: Access) -> dict[str, Any]:
    """A plain answer, through the output guardrails; a JSON answer that misses its schema is
    asked for once more with a corrective message."""
    result = await runtime.executor.complete(route.decision, body, route)
    guards = access.guards
    if guards is None:
        return result
    await guards.check_body(result)
    response_format = body.get("response_format")
    text = _text(result)
    verdict = guards.check_structured(text, response_format) if response_format and text is not None else None
    if verdict is None:
        return result
    retry = {**body, "messages": [*body["messages"], {"role": "assistant", "content": text},
                                  verdict.corrective_message()]}
    result = await runtime.executor.complete(route.decision, retry, route)
    await guards.check_body(result)
    text = _text(result)
    if text is None or guards.check_structured(text, response_format) is not None:
        raise verdict.error()
    return result


def _text(result: Mapping[str, Any]) -> str | None:
    choices = result.get("choices") or [{}]
    content = (choices[0].get("message") or {}).get("content")
    return content if isinstance(content, str) else None
