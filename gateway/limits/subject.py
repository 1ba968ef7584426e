"""Who is being limited: anything with a tenant, a key id and the two sets of limits (an auth `Principal`)."""

from __future__ import annotations

from typing import Protocol

from gateway.limits.policy import Limits


class Subject(Protocol):
    @property
    def tenant(self) -> str: ...

    @property
    def key_id(self) -> str: ...

    @property
    def key_limits(self) -> Limits: ...

    @property
    def tenant_limits(self) -> Limits: ...
