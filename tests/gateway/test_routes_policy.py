"""Semantic routes in the policy file (errors with path and line) and the `turnout routes` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gateway.cli import main
from gateway.config import parse_policy
from gateway.yamlpath import ConfigError
from tests.conftest import base_policy

ROUTES = """
      routes:
        - name: code
          examples: ["Fix my Python bug"]
          chain: [gpt-9]
        - name: maths
          examples: []
          tiers: {1: [local-small]}
        - name: embed
          library: translation
          chain: [local-embed]
"""


def _text(routes: str) -> str:
    policy = base_policy("http://127.0.0.1:1")
    text = yaml.safe_dump(policy, sort_keys=False)
    marker = "        3:\n        - claude-sim\n"
    assert marker in text
    return text.replace(marker, marker + routes.lstrip("\n"))


def test_route_errors_name_path_and_line() -> None:
    text = _text(ROUTES)
    with pytest.raises(ConfigError) as caught:
        parse_policy(text, "p.yaml")
    rendered = caught.value.render()
    line = text.splitlines().index("        - name: maths") + 2
    assert f"router.aliases.auto.routes[1].examples (line {line}): a route needs at least one" in rendered


def test_route_models_are_checked() -> None:
    text = _text(ROUTES.replace("          examples: []\n", "          examples: [\"What is 2 plus 2\"]\n"))
    with pytest.raises(ConfigError) as caught:
        parse_policy(text, "p.yaml")
    rendered = caught.value.render()
    line = text.splitlines().index("          chain: [gpt-9]") + 1
    assert f"router.aliases.auto.routes[0].chain[0] (line {line}): undefined model 'gpt-9'" in rendered
    assert "router.aliases.auto.routes[2].chain[0]" in rendered and "cannot serve chat" in rendered


def test_routes_library_lists_the_builtin_routes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", "library"]) == 0
    out = capsys.readouterr().out
    assert "translation" in out and "examples" in out and len(out.splitlines()) >= 10


def test_routes_test_prints_a_confusion_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = _text("""
      routes:
        - name: code
          library: code
          chain: [claude-sim]
        - name: translation
          library: translation
          chain: [local-small]
""")
    policy = tmp_path / "p.yaml"
    policy.write_text(text)
    labelled = tmp_path / "l.jsonl"
    labelled.write_text("\n".join(json.dumps(r) for r in [
        {"route": "code", "text": "Why does my Rust code fail to compile with a borrow error?"},
        {"route": "translation", "messages": [{"role": "user", "content": "How do you say thank you in Dutch?"}]},
        {"route": "none", "text": "Pretend you are a pirate captain and I am your new sailor."},
    ]) + "\n")
    assert main(["routes", "test", str(labelled), "--policy", str(policy)]) == 0
    out = capsys.readouterr().out
    assert "top-1 accuracy 1.000 on 3 requests" in out
    for n, raw in enumerate([b'{"text": "no label"}\n', b'{"messages": "hi", "route": "code"}\n', b'[1]\n']):
        bad = tmp_path / f"bad{n}.jsonl"
        bad.write_bytes(raw)
        assert main(["routes", "test", str(bad), "--policy", str(policy)]) == 1
        assert f"bad{n}.jsonl:1: not a labelled request" in capsys.readouterr().err
    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(b'{"text": "caf\xe9", "route": "code"}\n')
    for path in (latin1, tmp_path / "missing.jsonl"):
        assert main(["routes", "test", str(path), "--policy", str(policy)]) == 1
        assert capsys.readouterr().err.startswith(f"{path}: cannot read (")
