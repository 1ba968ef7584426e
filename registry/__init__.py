"""The model registry: static model specs, tiers, and live per-model state.

This package is the leaf of Turnout: it imports nothing else of ours.
"""

from registry.spec import Capabilities, ModelSpec, Pricing, Tier, Timeouts
from registry.state import ModelState, ModelStats, Registry

__all__ = [
    "Capabilities",
    "ModelSpec",
    "ModelState",
    "ModelStats",
    "Pricing",
    "Registry",
    "Tier",
    "Timeouts",
]
