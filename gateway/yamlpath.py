"""Load YAML keeping each node's line, and render pydantic errors as `path.to.key (line N): message`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate mapping keys (YAML would silently keep the last)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _index_lines(node: yaml.Node, path: Path, out: dict[Path, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            sub = (*path, int(key) if isinstance(key, str) and key.isascii() and key.isdigit() else key)
            out[sub] = key_node.start_mark.line + 1
            _index_lines(value_node, sub, out)
            out[sub] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), out)


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


def load_yaml(text: str, source: str) -> LoadedYaml:
    try:
        node = yaml.compose(text, Loader=_LineLoader)
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ConfigError(source, [ConfigIssue((), line, f"{exc.problem or exc.context}")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, [ConfigIssue((), None, str(exc))]) from None
    lines: dict[Path, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return LoadedYaml(data, lines)


def issues_from_validation(error: ValidationError, loaded: LoadedYaml) -> list[ConfigIssue]:
    issues = []
    for err in error.errors():
        path: Path = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        issues.append(ConfigIssue(path, loaded.line_of(path), message.removeprefix("Value error, ")))
    return issues
