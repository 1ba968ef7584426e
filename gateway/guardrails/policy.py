"""The `guardrails:` part of the policy: named profiles of input and output checks, chosen per tenant,
else per alias (or model id), else the default profile. Each check has an action:
`block` (400 guardrail_violation), `redact` (replace the match), or `flag` (log and count only).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.guardrails.pii import ALL_KINDS, PiiKind

Action = Literal["block", "redact", "flag"]
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PiiGuard(_Frozen):
    action: Action = "redact"
    kinds: tuple[PiiKind, ...] = Field(ALL_KINDS, description="Any of: email, phone, card, ssn, ip, secret.")


class InjectionGuard(_Frozen):
    action: Literal["block", "flag"] = "block"
    classifier: bool = Field(True, description="Use the classifier as well as the rules.")
    threshold: float = Field(0.5, gt=0, lt=1, description="Classifier probability from which text is an injection.")


class DenyGuard(_Frozen):
    action: Action = "block"
    patterns: tuple[str, ...] = Field((), description="Regular expressions (case-insensitive).")
    topics: dict[str, tuple[str, ...]] = Field({}, description="Topic name -> phrases (whole words, any case).")

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, pattern in enumerate(value):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"patterns[{i}] is not a valid regular expression: {exc}") from None
        return value


class InputGuards(_Frozen):
    roles: tuple[Role, ...] = Field(("user", "tool"), description="Messages of these roles are checked.")
    pii: PiiGuard | None = None
    injection: InjectionGuard | None = None
    deny: DenyGuard | None = None


class JsonSchemaGuard(_Frozen):
    action: Literal["block", "flag"] = Field(
        "block", description="`block`: retry once with a corrective message, then fail; `flag`: log only.")


class OutputGuards(_Frozen):
    pii: PiiGuard | None = None
    json_schema: JsonSchemaGuard | None = Field(
        None, description="Validate answers to `response_format` json_schema / json_object requests.")
    stream_window: int = Field(128, ge=16, le=4096, description="Characters a stream holds back for redaction.")


class GuardrailProfile(_Frozen):
    input: InputGuards = InputGuards()
    output: OutputGuards = OutputGuards()


class GuardrailsPolicy(_Frozen):
    profiles: dict[str, GuardrailProfile] = {}
    default: str | None = Field(None, description="Profile of requests no tenant or alias entry names.")
    tenants: dict[str, str] = Field({}, description="Tenant -> profile (wins over the alias).")
    aliases: dict[str, str] = Field({}, description="Alias or model id -> profile.")

    @model_validator(mode="after")
    def _known_profiles(self) -> GuardrailsPolicy:
        refs = [("default", self.default)] if self.default is not None else []
        refs += [(f"tenants.{k}", v) for k, v in self.tenants.items()]
        refs += [(f"aliases.{k}", v) for k, v in self.aliases.items()]
        for where, name in refs:
            if name not in self.profiles:
                raise ValueError(f"{where}: undefined guardrail profile {name!r}")
        return self

    def route_references(self) -> list[tuple[tuple[str, ...], str]]:
        """(path under `guardrails`, alias or model id) for the policy loader's cross checks."""
        return [(("aliases", route), route) for route in self.aliases]

    def profile_name(self, *, tenant: str | None, route: str | None) -> str | None:
        if tenant is not None and tenant in self.tenants:
            return self.tenants[tenant]
        if route is not None and route in self.aliases:
            return self.aliases[route]
        return self.default
