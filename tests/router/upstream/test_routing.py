"""Adapter choice, the dispatching composite, and lazy litellm."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass, field

import pytest

from registry import ModelSpec
from router.errors import UpstreamError
from router.upstream import ADAPTERS, LazyUpstream, RoutingUpstream, adapter_for
from router.upstream.base import Upstream, UpstreamRequest, UpstreamResponse
from tests.conftest import ROOT


@dataclass
class Recording:
    """A fake at our own `Upstream` interface: answers with its name and counts what it saw."""

    name: str
    seen: list[str] = field(default_factory=list)
    closed: bool = False

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        self.seen.append(request.spec.id)
        return UpstreamResponse(body={"adapter": self.name})

    async def aclose(self) -> None:
        self.closed = True


def spec(litellm_model: str, adapter: str = "auto", api_base: str | None = "http://upstream/v1") -> ModelSpec:
    return ModelSpec.model_validate({"id": litellm_model.replace("/", "-"), "litellm_model": litellm_model,
                                     "api_base": api_base, "adapter": adapter})


@pytest.mark.parametrize(("litellm_model", "adapter", "expected"), [
    ("openai/gpt-4o-mini", "auto", "openai_http"),
    ("hosted_vllm/meta-llama/Llama-3.1-8B", "auto", "openai_http"),
    ("anthropic/claude-3-5-haiku", "auto", "litellm"),
    ("ollama_chat/llama3", "auto", "litellm"),
    ("gemini/gemini-1.5-flash", "auto", "litellm"),
    ("openai/gpt-4o-mini", "litellm", "litellm"),
    ("ollama_chat/llama3", "openai_http", "openai_http"),
])
def test_adapter_for(litellm_model: str, adapter: str, expected: str) -> None:
    assert adapter_for(spec(litellm_model, adapter)) == expected


def test_registry_names_every_adapter_a_spec_can_name() -> None:
    assert set(ADAPTERS) == {"litellm", "openai_http"}
    assert set(ModelSpec.model_fields["adapter"].annotation.__args__) - {"auto"} == set(ADAPTERS)  # type: ignore[union-attr]


def test_unknown_adapter_name_is_rejected_at_load() -> None:
    with pytest.raises(ValueError, match="adapter"):
        spec("openai/x", adapter="httpx")


async def test_routing_upstream_dispatches_on_the_spec() -> None:
    direct, litellm = Recording("openai_http"), Recording("litellm")
    routing = RoutingUpstream({"openai_http": direct, "litellm": litellm})
    for model, adapter in [("openai/a", "auto"), ("anthropic/b", "auto"), ("openai/c", "litellm"),
                           ("hosted_vllm/d", "auto")]:
        response = await routing.send(UpstreamRequest(spec=spec(model, adapter), body={}))
        assert response.body == {"adapter": adapter_for(spec(model, adapter))}
    assert direct.seen == ["openai-a", "hosted_vllm-d"]
    assert litellm.seen == ["anthropic-b", "openai-c"]
    await routing.aclose()
    assert direct.closed and litellm.closed


async def test_missing_adapter_is_our_error() -> None:
    routing = RoutingUpstream({"openai_http": Recording("openai_http")})
    with pytest.raises(UpstreamError) as caught:
        await routing.send(UpstreamRequest(spec=spec("anthropic/b"), body={}))
    assert caught.value.code == "upstream_not_configured"
    assert "anthropic-b" in caught.value.message


async def test_lazy_upstream_builds_once_on_first_call_or_prepare() -> None:
    built: list[Recording] = []

    def factory() -> Upstream:
        built.append(Recording(f"built-{len(built)}"))
        return built[-1]

    lazy = LazyUpstream(factory)
    await lazy.aclose()  # nothing built yet: nothing to close
    assert not lazy.built and built == []
    await lazy.prepare()
    await lazy.prepare()
    await lazy.send(UpstreamRequest(spec=spec("anthropic/b"), body={}))
    assert len(built) == 1 and built[0].seen == ["anthropic-b"]
    await lazy.aclose()
    assert built[0].closed


async def test_prepare_builds_only_the_adapters_the_specs_need() -> None:
    built: list[str] = []

    def factory() -> Upstream:
        built.append("litellm")
        return Recording("litellm")

    routing = RoutingUpstream({"litellm": LazyUpstream(factory), "openai_http": Recording("openai_http")})
    await routing.prepare([spec("openai/a"), spec("hosted_vllm/b")])
    assert built == []
    await routing.prepare([spec("openai/a"), spec("anthropic/c")])
    assert built == ["litellm"]


def run_python(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                            cwd=ROOT, timeout=120, check=True)
    return result.stdout.strip()


@pytest.mark.slow  # imports litellm in a fresh interpreter
def test_litellm_is_imported_only_when_a_model_needs_it() -> None:
    out = run_python("""
        import asyncio, sys
        from registry import ModelSpec
        from router.upstream import build_upstream

        async def main():
            upstream = build_upstream()
            built = ("litellm" in sys.modules, "aiohttp" in sys.modules)
            await upstream.prepare([ModelSpec(id="a", litellm_model="openai/a", api_base="http://x/v1")])
            direct_only = "litellm" in sys.modules
            await upstream.prepare([ModelSpec(id="c", litellm_model="anthropic/c")])
            print(*built, direct_only, "litellm" in sys.modules)
            await upstream.aclose()

        asyncio.run(main())
    """)
    assert out == "False True False True"


def test_package_import_stays_light() -> None:
    assert run_python("""
        import sys
        import router.upstream
        print(sorted(m for m in ("litellm", "aiohttp", "httpx") if m in sys.modules))
    """) == "[]"


async def test_a_call_during_prepare_waits_for_the_same_build() -> None:
    built: list[Recording] = []
    release = threading.Event()

    def slow_factory() -> Upstream:
        release.wait(5)
        built.append(Recording("slow"))
        return built[-1]

    lazy = LazyUpstream(slow_factory)
    preparing = asyncio.create_task(lazy.prepare())
    await asyncio.sleep(0.01)
    calling = asyncio.create_task(lazy.send(UpstreamRequest(spec=spec("anthropic/b"), body={})))
    await asyncio.sleep(0.01)
    assert not calling.done()
    release.set()
    await preparing
    assert (await calling).body == {"adapter": "slow"}
    assert len(built) == 1 and built[0].seen == ["anthropic-b"]
