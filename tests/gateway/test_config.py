"""Policy loading: every problem rejected at load, with its YAML path and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import load_policy, parse_policy, policy_json_schema
from gateway.yamlpath import ConfigError
from simulator.cli import beside, load_file

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
models:
  - id: a
    litellm_model: openai/a
    api_base: http://127.0.0.1:1/v1
  - id: b
    litellm_model: anthropic/b
    api_key_env: ANTHROPIC_API_KEY
router:
  default_model: b
  aliases:
    auto:
      tiers:
        1: [a]
        3: [b, a]
"""


def _errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_policy(text, "p.yaml")
    return [i.render() for i in info.value.issues]


def test_good_policy_loads_with_a_content_hash_version() -> None:
    policy = parse_policy(GOOD)
    assert [m.id for m in policy.models] == ["a", "b"]
    assert policy.router.aliases["auto"].first_model() == "a"
    assert policy.version and len(policy.version) == 12
    assert parse_policy(GOOD).version == policy.version
    assert parse_policy(GOOD + "\n# edit\n").version != policy.version


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda t: t.replace("    api_base: http://127.0.0.1:1/v1\n",
                         "    api_base: http://127.0.0.1:1/v1\n    colour: red\n"),
     "models[0].colour (line 5): unknown key"),
    (lambda t: t.replace("id: b", "id: a"), "models[1].id (line 5): duplicate model id 'a'"),
    (lambda t: t.replace("3: [b, a]", "3: [b, zz]"), "router.aliases.auto.tiers[3][1] (line 14): undefined model 'zz'"),
    (lambda t: t.replace("default_model: b", "default_model: nope"), "router.default_model (line 9): undefined model"),
    (lambda t: t.replace("litellm_model: openai/a", "litellm_model: a"), "models[0].litellm_model (line 3):"),
    (lambda t: t.replace("api_key_env: ANTHROPIC_API_KEY", "api_key_env: sk-abc123"),
     "models[1].api_key_env (line 7):"),
    (lambda t: t.replace("1: [a]", "1: []"), "router.aliases.auto.tiers (line 12): tier 1 has an empty model list"),
    (lambda t: t + "router: {}\n", "duplicate key 'router'"),
    (lambda t: t.replace("  aliases:", "  aliases:\n    a: {tiers: {1: [a]}}"), "alias 'a' shadows a model id"),
    (lambda t: t.replace("    api_base: http://127.0.0.1:1/v1\n", "    api_base: [oops\n"), "(line 5): expected"),
    # a key of digits that are not ASCII ones ("²".isdigit() is True): an error with its path, not a crash
    (lambda t: t.replace("1: [a]", "\u00b2: [a]"), "router.aliases.auto.tiers.\u00b2.[key] (line 13): Input should be"),
    (lambda t: t.replace("  aliases:", "  \u00b2: 1\n  aliases:"), "router.\u00b2 (line 10): unknown key"),
    # numbers no part can use: an open breaker's timer overflowed at .inf or 1e12 (500s once it opened)
    (lambda t: t.replace("  default_model: b", "  default_model: b\n  breaker: {reset_timeout_s: .inf}"),
     "router.breaker.reset_timeout_s (line 10): Input should be a finite number"),
    (lambda t: t.replace("  default_model: b", "  default_model: b\n  breaker: {reset_timeout_s: 1.0e+12}"),
     "router.breaker.reset_timeout_s (line 10): Input should be less than or equal to 86400"),
    (lambda t: t.replace("    api_base: http://127.0.0.1:1/v1\n",
                         "    api_base: http://127.0.0.1:1/v1\n    price: {input_per_mtok: .nan}\n"),
     "models[0].price.input_per_mtok (line 5): Input should be a finite number"),
    (lambda t: "\x1f" + t, '<root>: unacceptable character #x001f: special characters are not allowed in '
                           '"<unicode string>", position 0'),
    # YAML that would make loading run away: refused with a path, never a RecursionError or a hang
    (lambda t: t + "x: &x [*x]\n", "x[0] (line 15): a recursive alias"),
    (lambda t: t + "x: " + "[" * 70 + "]" * 70 + "\n", "(line 15): nested deeper than 64 levels"),
    (lambda t: t + "x: " + "[" * 3000 + "]" * 3000 + "\n", "<root>: nested deeper than 64 levels"),
    (lambda t: t + "l0: &l0 [0, 0, 0, 0, 0, 0, 0, 0, 0, 0]\n" + "".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 7)),
     "more than 100,000 values once its aliases are expanded"),
])
def test_bad_policies_name_path_and_line(edit: object, expected: str) -> None:
    errors = _errors(edit(GOOD))  # type: ignore[operator]
    assert any(expected in e for e in errors), errors


def test_anchors_and_merge_keys_still_load() -> None:
    text = GOOD.replace("models:\n  - id: a\n", "models:\n  - &a\n    id: a\n").replace(
        "  - id: b\n", "  - <<: *a\n    id: b\n    api_base: null\n")
    assert [m.id for m in parse_policy(text).models] == ["a", "b"]


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(GOOD.replace("router:", "# caf\xe9\nrouter:").encode("latin-1"))
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    at = GOOD.index("router:") + len("# caf")
    expected = f"<root> (line 8): not UTF-8 text (byte {at} is 0xe9); save the file as UTF-8"
    assert caught.value.render() == f"{path}: {expected}"


def test_all_problems_are_reported_together() -> None:
    text = GOOD.replace("3: [b, a]", "3: [x, y]").replace("default_model: b", "default_model: z")
    assert len(_errors(text)) == 3


def test_shipped_policies_load_and_schema_is_current() -> None:
    for path in sorted((ROOT / "policies").glob("*.yaml")):
        if path.name.endswith(".simulator.yaml"):  # the simulator's own config, beside its policy
            assert load_file(path).models and beside(path.with_name(path.name.replace(".simulator", ""))) == path
        else:
            assert load_policy(path).models, path
    committed = (ROOT / "policies" / "policy.schema.json").read_text()
    assert committed == policy_json_schema(), "run: turnout policy schema --output policies/policy.schema.json"


def test_the_simulator_is_not_part_of_the_policy() -> None:
    assert "simulator" not in policy_json_schema()
    assert "simulator (line 1): unknown key" in "\n".join(_errors("simulator: {port: 4010}\n" + GOOD))


def test_policy_check_cli(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, "-m", "gateway.cli", "policy", "check", str(ROOT / "policies/default.yaml")],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and "OK" in ok.stdout and "alias auto" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("3: [b, a]", "3: [b, q]").replace("api_base: http", "apibase: http"))
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "policy", "check", str(bad)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert f"{bad}: models[0].apibase (line 4): unknown key" in result.stderr
    assert "Traceback" not in result.stderr
    unwritable = tmp_path / "missing-dir" / "schema.json"
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "policy", "schema", "--output", str(unwritable)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1 and result.stderr == f"{unwritable}: cannot write (No such file or directory)\n"


def test_models_cli_reports_missing_keys(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(GOOD)
    env = {"PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "models", "--policy", str(path)],
                            capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert lines["a"].endswith("yes")
    assert "no: environment variable ANTHROPIC_API_KEY is not set" in lines["b"]
