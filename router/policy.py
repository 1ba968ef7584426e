"""The routing part of the policy YAML: aliases that map tiers to ordered model chains."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from registry import Tier


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AliasPolicy(_Frozen):
    """A router alias (`auto`, `fast`, ...): for each tier, the candidate models in order."""

    description: str = ""
    tiers: dict[Tier, tuple[str, ...]] = Field(
        description="Tier (1, 2, 3) to an ordered list of model ids; the router's default ends each chain.")

    @field_validator("tiers")
    @classmethod
    def _non_empty(cls, value: dict[Tier, tuple[str, ...]]) -> dict[Tier, tuple[str, ...]]:
        if not value:
            raise ValueError("an alias needs at least one tier")
        for tier, chain in value.items():
            if not chain:
                raise ValueError(f"tier {int(tier)} has an empty model list")
            if len(set(chain)) != len(chain):
                raise ValueError(f"tier {int(tier)} lists a model twice")
        return value

    def first_model(self) -> str:
        return self.tiers[min(self.tiers)][0]


class RouterPolicy(_Frozen):
    default_model: str = Field(description="The reliable default that ends every chain.")
    aliases: dict[str, AliasPolicy] = Field(default_factory=dict)

    def model_references(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Every model id the router names, with its path inside `router`."""
        refs: list[tuple[tuple[str | int, ...], str]] = [(("default_model",), self.default_model)]
        for name, alias in self.aliases.items():
            for tier, chain in alias.tiers.items():
                refs.extend((("aliases", name, "tiers", int(tier), i), m) for i, m in enumerate(chain))
        return refs
