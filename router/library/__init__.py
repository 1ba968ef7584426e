"""The built-in route library: routes the gateway ships, each a description and many example requests
written for Turnout, one YAML file per route. A policy route extends one with `library: NAME`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

_DIR = Path(__file__).parent


@dataclass(frozen=True, slots=True)
class LibraryRoute:
    name: str
    description: str
    examples: tuple[str, ...]


def library_names() -> list[str]:
    """The names of the built-in routes, sorted (one directory listing: no file is read)."""
    return sorted(p.stem for p in _DIR.glob("*.yaml"))


def load_library() -> dict[str, LibraryRoute]:
    """Every built-in route by name."""
    routes: dict[str, LibraryRoute] = {}
    for name in library_names():
        data = yaml.safe_load((_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
        routes[name] = LibraryRoute(name=name, description=str(data["description"]),
                                    examples=tuple(str(e) for e in data["examples"]))
    return routes
