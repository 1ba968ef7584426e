"""The `/v1/messages` and `/v1/responses` endpoints, served by `FastPath` beside chat completions.

Each handler translates its body into a chat completion body, calls the one service function that
serves chat (`GatewayService.chat`: keys, limits, cache, routing, fallback, metering, decision log)
and translates the answer back. `ERROR_SHAPES` tells `FastPath` how each path renders its errors.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from gateway.access import authenticate
from gateway.answer import Answer
from gateway.errors import ErrorShape, StoreUnavailable
from gateway.protocols import anthropic_in, anthropic_stream, responses, responses_stream
from gateway.service import GatewayService
from router.errors import TurnoutError
from router.upstream.tokens import estimate_tokens

if TYPE_CHECKING:
    from gateway.fastpath import Handler

log = logging.getLogger("turnout.gateway")


class ResponseNotFound(TurnoutError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


def _anthropic_auth(headers: Mapping[str, str]) -> Mapping[str, str]:
    """Anthropic clients send their key as `x-api-key`: it is checked as a Turnout key, like a bearer."""
    key = headers.get("x-api-key")
    if key and not headers.get("authorization"):
        return {**headers, "authorization": f"Bearer {key}"}
    return headers


async def messages(service: GatewayService, body: dict[str, Any], headers: Mapping[str, str], rid: str) -> Answer:
    chat = anthropic_in.to_chat(body)
    answer = await service.chat(chat, _anthropic_auth(headers), rid)
    message_id = "msg_" + secrets.token_hex(12)
    if answer.stream is None:
        assert answer.body is not None
        return Answer(body=anthropic_in.from_chat(answer.body, message_id), headers=answer.headers)
    model = answer.headers.get("x-turnout-model") or str(chat["model"])
    return Answer(stream=anthropic_stream.render(answer.stream, message_id=message_id, model=model),
                  headers=answer.headers)


async def count_tokens(service: GatewayService, body: dict[str, Any], headers: Mapping[str, str],
                       rid: str) -> Answer:
    """An estimate (about four characters a token, as routing counts), without calling a model."""
    chat = anthropic_in.to_chat({**body, "max_tokens": 1, "stream": False})
    principal = await authenticate(service.holder.current.tenancy, _anthropic_auth(headers))
    name = str(chat["model"])
    principal.check_route(name, alias=name in service.holder.current.policy.router.aliases)
    tokens = estimate_tokens(chat["messages"]) + len(orjson.dumps(chat.get("tools") or [])) // 4
    return Answer(body={"input_tokens": tokens}, headers={"x-request-id": rid})


async def create_response(service: GatewayService, body: dict[str, Any], headers: Mapping[str, str],
                          rid: str) -> Answer:
    responses.check(body)
    store = service.services.responses
    keep = store is not None and body.get("store") is not False
    history: list[dict[str, Any]] = []
    tenant = ""
    if keep or body.get("previous_response_id"):
        tenant = (await authenticate(service.holder.current.tenancy, headers)).tenant
    previous = body.get("previous_response_id")
    if previous:
        found = await store.get(tenant, previous) if store is not None else None
        if found is None:
            raise ResponseNotFound(f"previous_response_id: no response {previous!r} (it may have expired)",
                                   param="previous_response_id")
        history = found
    conversation = responses.conversation(body, history)
    chat = responses.to_chat(body, conversation)
    answer = await service.chat(chat, headers, rid)
    response_id = "resp_" + secrets.token_hex(16)

    async def completed(output: list[dict[str, Any]]) -> None:
        if keep and store is not None:
            try:
                await store.put(tenant, response_id, [*conversation, responses.assistant_message(output)])
            except StoreUnavailable:
                log.warning("response %s not stored: the response store is unreachable", response_id)

    if answer.stream is None:
        assert answer.body is not None
        result = responses.from_chat(body, answer.body, response_id)
        await completed(result["output"])
        return Answer(body=result, headers=answer.headers)
    model = answer.headers.get("x-turnout-model") or str(chat["model"])
    return Answer(stream=responses_stream.render(answer.stream, body=body, response_id=response_id, model=model,
                                                 completed=completed), headers=answer.headers)


ROUTES: dict[str, Handler] = {"/v1/messages": messages, "/v1/messages/count_tokens": count_tokens,
                              "/v1/responses": create_response}
ERROR_SHAPES: dict[str, ErrorShape] = {
    "/v1/messages": anthropic_in.error_body, "/v1/messages/count_tokens": anthropic_in.error_body}
