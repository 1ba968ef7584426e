"""Input and output guardrails (PII, prompt injection, deny lists, JSON answers), per tenant or alias.

`GuardrailsService.load(policy)` once; `service.for_request(tenant=..., route=...)` per request.
Heavy imports (sklearn, jsonschema) happen only when a profile needs them.
"""

from gateway.guardrails.findings import Finding, GuardrailObserver
from gateway.guardrails.inputs import InputVerdict
from gateway.guardrails.policy import GuardrailProfile, GuardrailsPolicy
from gateway.guardrails.service import Guardrails, GuardrailsService
from gateway.guardrails.structured import SchemaVerdict

__all__ = ["Finding", "GuardrailObserver", "GuardrailProfile", "Guardrails", "GuardrailsPolicy",
           "GuardrailsService", "InputVerdict", "SchemaVerdict"]
