"""Static model specs: what a model is, what it costs and what it can do."""

from __future__ import annotations

import enum
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PROVIDER_PREFIXES = ("openai", "anthropic", "hosted_vllm", "ollama_chat", "ollama", "azure", "gemini",
                     "mistral", "groq", "together_ai", "bedrock", "vertex_ai", "deepseek")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class Tier(enum.IntEnum):
    """Complexity tier of a request: 1 simple, 2 moderate, 3 complex."""

    SIMPLE = 1
    MODERATE = 2
    COMPLEX = 3


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Pricing(_Frozen):
    """USD per million tokens."""

    input_per_mtok: float = Field(0.0, ge=0)
    output_per_mtok: float = Field(0.0, ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1e6


class Capabilities(_Frozen):
    chat: bool = True
    tools: bool = False
    json_mode: bool = False
    vision: bool = False
    streaming: bool = True
    embeddings: bool = False


class Timeouts(_Frozen):
    """Seconds. `total` bounds a plain request; streams use `first_token` and `idle`."""

    connect: float = Field(5.0, gt=0)
    total: float = Field(60.0, gt=0)
    first_token: float = Field(15.0, gt=0)
    idle: float = Field(15.0, gt=0)


class ModelSpec(_Frozen):
    """One upstream model as declared in the policy YAML."""

    id: str
    litellm_model: str = Field(description="litellm model string, e.g. `openai/gpt-4o-mini`.")
    api_base: str | None = Field(None, description="Upstream base URL (policy only, never from a client).")
    api_key_env: str | None = Field(None, description="Name of the environment variable holding the key.")
    context_window: int = Field(8192, gt=0)
    max_output_tokens: int = Field(4096, gt=0)
    price: Pricing = Pricing()
    capabilities: Capabilities = Capabilities()
    tags: tuple[Literal["local", "hosted"], ...] = ()
    max_concurrency: int = Field(64, gt=0)
    timeouts: Timeouts = Timeouts()
    embedding_dims: int | None = Field(None, gt=0)
    adapter: Literal["auto", "litellm", "openai_http"] = Field(
        "auto", description="How to call the model: `auto` goes direct (`openai_http`) for OpenAI-wire "
                            "providers (openai, hosted_vllm) and through litellm otherwise.")

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("model id must be 1-128 characters of letters, digits and ._:/-")
        return value

    @field_validator("litellm_model")
    @classmethod
    def _valid_litellm_model(cls, value: str) -> str:
        provider, sep, name = value.partition("/")
        if not sep or not name:
            raise ValueError("litellm_model must be '<provider>/<model>', e.g. 'openai/gpt-4o-mini'")
        if provider not in PROVIDER_PREFIXES:
            raise ValueError(f"unknown provider {provider!r}; one of: {', '.join(PROVIDER_PREFIXES)}")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _valid_env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV.match(value):
            raise ValueError("api_key_env names an environment variable (e.g. OPENAI_API_KEY), not a key")
        return value

    @property
    def provider(self) -> str:
        return self.litellm_model.partition("/")[0]

    @property
    def is_local(self) -> bool:
        return "local" in self.tags
