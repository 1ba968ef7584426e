"""What a service call hands back to the HTTP edge."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Answer:
    """A non-streaming JSON body or an SSE byte stream, plus response headers."""

    body: dict[str, Any] | None = None
    stream: AsyncGenerator[bytes, None] | None = None
    headers: dict[str, str] = field(default_factory=dict)
