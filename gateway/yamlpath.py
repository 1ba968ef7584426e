"""Load YAML keeping each node's line, and render pydantic errors as `path.to.key (line N): message`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from pydantic import ValidationError

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    path: Path
    line: int | None
    message: str

    def render(self) -> str:
        where = format_path(self.path) or "<root>"
        at = f" (line {self.line})" if self.line else ""
        return f"{where}{at}: {self.message}"


class ConfigError(Exception):
    """The policy file is invalid; `issues` lists every problem with its YAML path and line."""

    def __init__(self, source: str, issues: Sequence[ConfigIssue]) -> None:
        self.source = source
        self.issues = list(issues)
        super().__init__(f"{source}: " + "; ".join(i.render() for i in self.issues))

    def render(self) -> str:
        return "\n".join(f"{self.source}: {i.render()}" for i in self.issues)


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_MERGE = "tag:yaml.org,2002:merge"


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (YAML would silently keep the last)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        if key_node.tag == _MERGE:  # `<<: *anchor`: its keys may be overridden, by design
            continue
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


MAX_DEPTH = 64
MAX_NODES = 100_000


@dataclass(slots=True)
class _Index:
    """Each node's line by its path, walked once; refuses what would make the walk (and validation) run
    away: a recursive alias, nesting deeper than `MAX_DEPTH`, or aliases expanding past `MAX_NODES`."""

    source: str
    lines: dict[Path, int] = field(default_factory=dict)
    nodes: int = 0
    open: set[int] = field(default_factory=set)

    def walk(self, node: yaml.Node, path: Path) -> None:
        line = self.lines.get(path) or node.start_mark.line + 1
        if id(node) in self.open:
            self._refuse(path, line, "a recursive alias (it refers to a node that contains it)")
        if len(path) > MAX_DEPTH:
            self._refuse(path, line, f"nested deeper than {MAX_DEPTH} levels")
        self.nodes += 1
        if self.nodes > MAX_NODES:
            self._refuse(path, line, f"more than {MAX_NODES:,} values once its aliases are expanded")
        self.lines[path] = line
        if not isinstance(node, yaml.CollectionNode):
            return
        self.open.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                sub = (*path, int(key) if isinstance(key, str) and key.isascii() and key.isdigit() else key)
                self.lines[sub] = key_node.start_mark.line + 1
                self.walk(value_node, sub)
        else:
            for i, item in enumerate(node.value):
                self.walk(item, (*path, i))
        self.open.discard(id(node))

    def _refuse(self, path: Path, line: int, message: str) -> None:
        raise ConfigError(self.source, [ConfigIssue(path, line, message)])


@dataclass(frozen=True, slots=True)
class LoadedYaml:
    data: Any
    lines: dict[Path, int]

    def line_of(self, path: Path) -> int | None:
        """Line of the deepest existing node on `path`."""
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None


def _read(text: str, index: _Index) -> Any:
    loader = _LineLoader(text)  # its reader refuses control characters here
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        index.walk(node, ())  # before constructing: a recursive or exploding alias is refused here
        return loader.construct_document(node)
    finally:
        loader.dispose()


def load_yaml(text: str, source: str) -> LoadedYaml:
    index = _Index(source)
    try:
        data = _read(text, index)
    except RecursionError:  # PyYAML's composer recurses once per level
        raise ConfigError(source, [ConfigIssue((), None, f"nested deeper than {MAX_DEPTH} levels")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(source, [ConfigIssue((), line, f"{exc.problem or exc.context}")]) from None
    except yaml.YAMLError as exc:  # e.g. a control character: one line, its position included
        raise ConfigError(source, [ConfigIssue((), None, " ".join(str(exc).split()))]) from None
    return LoadedYaml(data, index.lines)


def issues_from_validation(error: ValidationError, loaded: LoadedYaml) -> list[ConfigIssue]:
    issues = []
    for err in error.errors():
        path: Path = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        issues.append(ConfigIssue(path, loaded.line_of(path), message.removeprefix("Value error, ")))
    return issues
