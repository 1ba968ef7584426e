"""Live simulator state: each model's current faults, its seeded fault draws, and request counters.

Built once per app by `server.build_app`; `/_sim/faults` replaces a model's faults, `/_sim/reset`
returns every model to its configured faults, a fresh seeded generator and zeroed counters.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from simulator.config import Fault, SimModel, SimulatorConfig
from simulator.names import model_from_name

STREAM_FAULTS = frozenset({"cut_stream", "malformed_chunk", "cr_line_ends", "oversized_line"})


@dataclass
class ModelStats:
    total: int = 0
    streams: int = 0
    ok: int = 0
    rejected: int = 0  # answered 400 before any fault draw (context window exceeded)
    faults: Counter[str] = field(default_factory=Counter)
    endpoints: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        return {"total": self.total, "streams": self.streams, "ok": self.ok, "rejected": self.rejected,
                "faults": dict(self.faults), "endpoints": dict(self.endpoints)}


class ModelRuntime:
    """One simulated model: its config, the faults now in force and a seeded generator for them."""

    def __init__(self, model: SimModel, seed: int) -> None:
        self.model = model
        self._seed = seed
        self.faults: tuple[Fault, ...] = model.faults
        self._rng = random.Random(f"{seed}:{model.name}")
        self.stats = ModelStats()

    def reset(self) -> None:
        self.faults = self.model.faults
        self._rng = random.Random(f"{self._seed}:{self.model.name}")
        self.stats = ModelStats()

    def reject(self, *, endpoint: str, stream: bool) -> None:
        """Count a request refused before it reached the model (no fault draw)."""
        self._count(endpoint, stream)
        self.stats.rejected += 1

    def draw(self, *, endpoint: str, stream: bool) -> Fault | None:
        """Count a request and pick the fault (if any) that strikes it. Every configured fault takes
        one draw per request, so the sequence of outcomes depends only on the seed and request order."""
        self._count(endpoint, stream)
        chosen: Fault | None = None
        for fault in self.faults:
            hit = self._rng.random() < fault.rate
            if hit and chosen is None and (stream or fault.kind not in STREAM_FAULTS):
                chosen = fault
        if chosen is None:
            self.stats.ok += 1
        else:
            self.stats.faults[chosen.kind] += 1
        return chosen


    def _count(self, endpoint: str, stream: bool) -> None:
        self.stats.total += 1
        self.stats.streams += stream
        self.stats.endpoints[endpoint] += 1


class Runtime:
    """Every model the simulator answers for, configured or made up from a pattern name on first use."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self._models = {m.name: ModelRuntime(m, config.seed) for m in config.models}

    def get(self, name: str) -> ModelRuntime | None:
        found = self._models.get(name)
        if found is None:
            made = model_from_name(name)
            if made is not None:
                found = self._models[name] = ModelRuntime(made, self.config.seed)
        return found

    def configured(self) -> list[SimModel]:
        return list(self.config.models)

    def reset(self) -> None:
        for name in [n for n in self._models if n not in {m.name for m in self.config.models}]:
            del self._models[name]
        for runtime in self._models.values():
            runtime.reset()

    def stats(self) -> dict[str, object]:
        return {name: rt.stats.as_dict() for name, rt in self._models.items()}
