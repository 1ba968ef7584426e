"""Runtime control for tests: `POST /_sim/faults`, `GET /_sim/stats`, `POST /_sim/reset`, and
`GET /health`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

from simulator.config import Fault
from simulator.errors import bad_request, unknown_model
from simulator.service import Exchange


class FaultsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    faults: tuple[Fault, ...] = ()


async def set_faults(exchange: Exchange) -> None:
    """Replace one model's faults (an empty list heals it) until the next reset."""
    try:
        update = FaultsUpdate.model_validate(exchange.json())
    except ValidationError as exc:
        raise bad_request(f"Invalid fault update: {exc}") from exc
    runtime = exchange.runtime.get(update.model)
    if runtime is None:
        raise unknown_model(update.model)
    runtime.faults = update.faults
    await exchange.responder.json(200, {"model": update.model,
                                        "faults": [f.model_dump() for f in update.faults]})


async def stats(exchange: Exchange) -> None:
    await exchange.responder.json(200, {"models": exchange.runtime.stats()})


async def reset(exchange: Exchange) -> None:
    exchange.runtime.reset()
    await exchange.responder.json(200, {"reset": True})


async def health(exchange: Exchange) -> None:
    names = [m.name for m in exchange.runtime.configured()]
    await exchange.responder.json(200, {"status": "ok", "models": names})
