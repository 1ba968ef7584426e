"""What every adapter sends upstream: the request fields passed through unchanged.

Everything else in a client's body is dropped, so a client can never reach an upstream with a field
the gateway did not vet (provider overrides are rejected earlier, in request validation).
"""

from __future__ import annotations

from typing import Any, Literal

CHAT_FIELDS = (
    "messages", "tools", "tool_choice", "parallel_tool_calls", "response_format", "stop", "seed", "n",
    "max_tokens", "max_completion_tokens", "temperature", "top_p", "presence_penalty",
    "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "user", "stream_options",
    "reasoning_effort", "modalities", "metadata",
)
EMBEDDING_FIELDS = ("input", "dimensions", "encoding_format", "user")

NO_KEY = "sk-turnout-no-key"
"""Local servers need no key, but the OpenAI and Anthropic clients insist on one."""


def pass_through(body: dict[str, Any], kind: Literal["chat", "embeddings"]) -> dict[str, Any]:
    """The fields of `body` an upstream may see, in a new dict."""
    keys = EMBEDDING_FIELDS if kind == "embeddings" else CHAT_FIELDS
    return {key: body[key] for key in keys if key in body}
