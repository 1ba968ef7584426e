"""What the request path calls. `GuardrailsService` is built once (the classifier is trained in a
thread, only if a profile uses it); `for_request(tenant=..., route=...)` gives the request's
`Guardrails`, or None when no profile applies.

    guards = service.for_request(tenant=principal.tenant, route=request.model)   # a `ChatRequest`
    verdict = await guards.check_input(request.messages)      # may raise GuardrailViolation (400)
    request = request.redacted(verdict.messages)
    ... call the model ...
    await guards.check_body(answer)                           # redacts in place, or raises
    bad = guards.check_structured(text, body.get("response_format"))
    if bad: retry once with messages + [assistant answer, bad.corrective_message()]; then raise bad.error()
    stream = guards.output_stream(chunks)                     # streaming redaction
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from gateway.guardrails.findings import Finding, GuardrailObserver, Reporter
from gateway.guardrails.injection import InjectionClassifier, Scorer
from gateway.guardrails.inputs import InputChecker, InputVerdict
from gateway.guardrails.outputs import Chunk, OutputChecker
from gateway.guardrails.policy import GuardrailProfile, GuardrailsPolicy
from gateway.guardrails.structured import SchemaVerdict, check_schema_param


class Guardrails:
    """One profile's checks, built once and shared by every request that uses the profile."""

    def __init__(self, profile: GuardrailProfile, *, name: str = "", scorer: Scorer | None = None,
                 observer: GuardrailObserver | None = None) -> None:
        self.name = name
        reporter = Reporter(observer)
        self._input = InputChecker(profile.input, scorer=scorer, reporter=reporter)
        self._output = OutputChecker(profile.output, reporter=reporter)
        self._validates_json = profile.output.json_schema is not None

    async def check_input(self, messages: list[dict[str, Any]], *, response_format: Any = None) -> InputVerdict:
        """Check (and maybe redact) the request's messages; with JSON validation on, refuse an invalid
        `response_format` schema. Raises `GuardrailViolation` or `RequestError` (400)."""
        if self._validates_json:
            check_schema_param(response_format)
        return await self._input.check(messages)

    async def check_body(self, body: dict[str, Any]) -> Finding | None:
        """Output PII of a whole (non-streaming) chat completion: redacted in place, or raises."""
        return await self._output.check_body(body)

    def check_structured(self, text: str, response_format: Any) -> SchemaVerdict | None:
        return self._output.check_structured(text, response_format)

    def output_stream(self, chunks: AsyncIterator[Chunk]) -> AsyncIterator[Chunk]:
        return self._output.stream(chunks)


def uses_classifier(policy: GuardrailsPolicy) -> bool:
    return any(p.input.injection is not None and p.input.injection.classifier for p in policy.profiles.values())


class GuardrailsService:
    def __init__(self, policy: GuardrailsPolicy, *, scorer: Scorer | None = None,
                 observer: GuardrailObserver | None = None) -> None:
        self._policy = policy
        self._profiles = {name: Guardrails(profile, name=name, scorer=scorer, observer=observer)
                          for name, profile in policy.profiles.items()}

    @classmethod
    async def load(cls, policy: GuardrailsPolicy, *, observer: GuardrailObserver | None = None) -> GuardrailsService:
        """Build the service, training the injection classifier in a thread when a profile needs it."""
        scorer: Scorer | None = None
        if uses_classifier(policy):
            scorer = await asyncio.to_thread(InjectionClassifier)
        return cls(policy, scorer=scorer, observer=observer)

    def for_request(self, *, tenant: str | None, route: str | None) -> Guardrails | None:
        name = self._policy.profile_name(tenant=tenant, route=route)
        return self._profiles.get(name) if name is not None else None
