"""What routing knows about a request: the classifier's verdict (`Signals`) and the request's shape
(`RequestFeatures`). Both are plain frozen values the gateway builds; routing never reads the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from registry import Tier


@dataclass(frozen=True, slots=True)
class Signals:
    """The classifier's output as routing sees it (router never imports `classifier`).

    `uncertain` is the classifier's own flag; when `probabilities` (tiers 1, 2, 3) are given, routing
    also treats a top probability under the alias's `escalation.uncertainty_margin` as uncertain.
    """

    tier: Tier
    score: float = 0.0
    task: str = "chat"
    uncertain: bool = False
    probabilities: tuple[float, float, float] | None = None

    def is_uncertain(self, margin: float) -> bool:
        return self.uncertain or (self.probabilities is not None and max(self.probabilities) < margin)


@dataclass(frozen=True, slots=True)
class RequestFeatures:
    """The shape of a request that decides which models can serve it."""

    prompt_tokens: int
    max_output_tokens: int | None = None
    """What the client asked for (`max_completion_tokens` or `max_tokens`), if anything."""
    has_tools: bool = False
    has_images: bool = False
    wants_json: bool = False
    stream: bool = False
    kind: Literal["chat", "embeddings"] = "chat"
    prompt_tokens_by_model: Mapping[str, int] = field(default_factory=dict)
    """Optional counts with each model's own tokenizer; `prompt_tokens` stands in for the others."""

    def prompt_tokens_for(self, model: str) -> int:
        return self.prompt_tokens_by_model.get(model, self.prompt_tokens)


def _has_images(messages: Any) -> bool:
    if not isinstance(messages, list):
        return False
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, list) and any(
                isinstance(part, Mapping) and part.get("type") in ("image_url", "input_image") for part in content):
            return True
    return False


def features_from_body(body: Mapping[str, Any], *, prompt_tokens: int,
                       kind: Literal["chat", "embeddings"] = "chat") -> RequestFeatures:
    """Read a validated OpenAI request body. `prompt_tokens` is counted by the caller (tokenizer)."""
    requested = body.get("max_completion_tokens") or body.get("max_tokens")
    response_format = body.get("response_format")
    wants_json = isinstance(response_format, Mapping) and response_format.get("type") in (
        "json_object", "json_schema")
    return RequestFeatures(
        prompt_tokens=prompt_tokens,
        max_output_tokens=requested if isinstance(requested, int) and requested > 0 else None,
        has_tools=bool(body.get("tools") or body.get("functions")),
        has_images=_has_images(body.get("messages")),
        wants_json=wants_json,
        stream=bool(body.get("stream")),
        kind=kind,
    )
