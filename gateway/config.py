"""The policy file: models, routing, server limits, tenancy, the cache. Validated whole at load.

The simulated upstreams are not part of it: they have their own config (`simulator.config`), in a
file beside the policy (`default.simulator.yaml` beside `default.yaml`) that `turnout serve` reads.

Every problem is reported with its YAML path and line; unknown keys are rejected.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gateway.auth.policy import AuthPolicy
from gateway.cache.config import CachePolicy
from gateway.classifier_policy import ClassifierPolicy
from gateway.guardrails.policy import GuardrailsPolicy
from gateway.learning.config import LearningPolicy
from gateway.protocols.policy import ProtocolsPolicy
from gateway.tracing.policy import TracingPolicy
from gateway.yamlpath import ConfigError, ConfigIssue, LoadedYaml, issues_from_validation, load_yaml
from registry import ModelSpec
from router.policy import RouterPolicy
from router.reachability import check_reachability


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ServerPolicy(_Frozen):
    max_body_bytes: int = Field(4 * 1024 * 1024, gt=0, description="Larger request bodies get a 413.")
    max_in_flight: int = Field(1024, gt=0, description="Requests in flight per process (a stream counts until it "
                               "ends); past it a request gets 503 `overloaded` with Retry-After.")
    body_timeout_s: float = Field(30.0, gt=0, le=600, description="A request body must arrive whole within this "
                                  "(408 otherwise), so slow clients cannot hold request slots.")
    drain_delay_s: float = Field(0.0, ge=0, le=300, description="After SIGTERM, how long /readyz answers 503 and "
                                 "new requests are refused before the listener closes (lets load balancers see it).")


class RedisPolicy(_Frozen):
    url_env: str = Field("TURNOUT_REDIS_URL", description="Environment variable holding the Redis URL.")
    timeout_s: float = Field(0.25, gt=0, le=10, description="Socket and connect timeout of each Redis call.")
    max_connections: int = Field(64, gt=0, description="Connections per process.")


class Policy(_Frozen):
    """The whole policy file (`policies/default.yaml` is the embedded default)."""

    version: str | None = Field(None, description="Shown in responses; defaults to a hash of the file.")
    models: tuple[ModelSpec, ...]
    router: RouterPolicy
    server: ServerPolicy = ServerPolicy()
    redis: RedisPolicy | None = None
    cache: CachePolicy = CachePolicy()
    auth: AuthPolicy = Field(AuthPolicy(), description="Tenants, virtual keys, budgets and rate limits.")
    guardrails: GuardrailsPolicy = Field(GuardrailsPolicy(), description="Input and output guardrail profiles.")
    classifier: ClassifierPolicy = Field(ClassifierPolicy(), description="The learned router's artifact (the "
                                         "shipped one unless named); applied on reload.")
    learning: LearningPolicy = Field(LearningPolicy(), description="Feedback, outcome rows, online routing "
                                     "and threshold calibration.")
    protocols: ProtocolsPolicy = Field(ProtocolsPolicy(), description="The Anthropic Messages and OpenAI Responses "
                                       "API edges (`/v1/messages`, `/v1/responses`).")
    tracing: TracingPolicy = Field(TracingPolicy(), description="OpenTelemetry traces (off unless enabled here or "
                                   "OTEL_EXPORTER_OTLP_ENDPOINT is set).")

    def model(self, model_id: str) -> ModelSpec | None:
        return next((m for m in self.models if m.id == model_id), None)


def route_names(policy: Policy) -> list[str]:
    """Every semantic route name of every alias (the metrics' closed label set)."""
    return sorted({r.name for alias in policy.router.aliases.values() for r in alias.routes})


def _cross_checks(policy: Policy, loaded: LoadedYaml) -> list[ConfigIssue]:
    issues: list[ConfigIssue] = []
    seen: dict[str, int] = {}
    for i, spec in enumerate(policy.models):
        if spec.id in seen:
            path: tuple[str | int, ...] = ("models", i, "id")
            issues.append(ConfigIssue(path, loaded.line_of(path),
                                      f"duplicate model id {spec.id!r} (first at models[{seen[spec.id]}])"))
        seen.setdefault(spec.id, i)
    for ref_path, model_id in policy.router.model_references():
        if model_id not in seen:
            path = ("router", *ref_path)
            issues.append(ConfigIssue(path, loaded.line_of(path), f"undefined model {model_id!r}"))
    for name in policy.router.aliases:
        if name in seen:
            path = ("router", "aliases", name)
            issues.append(ConfigIssue(path, loaded.line_of(path), f"alias {name!r} shadows a model id"))
    for problem in check_reachability(policy.router, {m.id: m for m in policy.models}):
        if problem.severity == "error":
            path = ("router", *problem.path)
            issues.append(ConfigIssue(path, loaded.line_of(path), problem.message))
    return issues


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Parse and validate a policy document; raise `ConfigError` listing every problem."""
    loaded = load_yaml(text, source)
    if not isinstance(loaded.data, Mapping):
        raise ConfigError(source, [ConfigIssue((), 1, "the policy must be a YAML mapping")])
    try:
        policy = Policy.model_validate(loaded.data)
    except ValidationError as exc:
        raise ConfigError(source, issues_from_validation(exc, loaded)) from None
    issues = _cross_checks(policy, loaded)
    if issues:
        raise ConfigError(source, issues)
    if policy.version is None:
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        policy = policy.model_copy(update={"version": digest})
    return policy


def policy_json_schema() -> str:
    """The JSON Schema of the policy file (committed as `policies/policy.schema.json`)."""
    import json

    schema = Policy.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Turnout policy"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def load_policy(path: str | Path) -> Policy:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(str(path), [ConfigIssue((), None, f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 text (byte {exc.start} is {raw[exc.start]:#04x}); save the file as UTF-8"
        raise ConfigError(str(path), [ConfigIssue((), line, message)]) from None
    return parse_policy(text, str(path))
