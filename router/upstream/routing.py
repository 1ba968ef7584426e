"""Which adapter calls a model, and the composite `Upstream` that dispatches on it.

    ADAPTERS             name -> factory: "openai_http" (direct, pooled) and "litellm" (everything else)
    adapter_for(spec)    the spec's `adapter`, or for "auto": "openai_http" when its provider speaks
                         the OpenAI wire format (openai, hosted_vllm), else "litellm"
    RoutingUpstream      an `Upstream` over named adapters, dispatching on `adapter_for`
    build_upstream()     a `RoutingUpstream` over every adapter in `ADAPTERS`; litellm is not imported
                         until a model that needs it is first called (see `LazyUpstream`)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Final

from registry import ModelSpec
from router.errors import UpstreamError
from router.upstream.base import Closeable, Upstream, UpstreamRequest, UpstreamResponse

OPENAI_WIRE: Final = frozenset({"openai", "hosted_vllm"})


def adapter_for(spec: ModelSpec) -> str:
    """The name of the adapter that calls `spec`."""
    if spec.adapter != "auto":
        return spec.adapter
    return "openai_http" if spec.provider in OPENAI_WIRE else "litellm"


def _litellm() -> Upstream:
    from router.upstream.litellm_adapter import LiteLLMUpstream

    return LiteLLMUpstream()


def _openai_http() -> Upstream:
    from router.upstream.openai_http import OpenAIHTTPUpstream

    return OpenAIHTTPUpstream()


ADAPTERS: Final[Mapping[str, Callable[[], Upstream]]] = {"litellm": _litellm, "openai_http": _openai_http}


class LazyUpstream:
    """An `Upstream` built by `factory` on its first call, or by `prepare()` in a worker thread (a
    call that arrives while `prepare()` is building waits for it rather than building a second one)."""

    def __init__(self, factory: Callable[[], Upstream]) -> None:
        self._factory = factory
        self._upstream: Upstream | None = None
        self._building: asyncio.Future[Upstream] | None = None

    @property
    def built(self) -> bool:
        return self._upstream is not None

    async def prepare(self) -> None:
        """Build it now, off the event loop (a slow import must not stall other requests)."""
        await self._get(in_thread=True)

    async def _get(self, *, in_thread: bool) -> Upstream:
        if self._upstream is not None:
            return self._upstream
        if self._building is None:
            if not in_thread:
                self._upstream = self._factory()
                return self._upstream
            self._building = asyncio.ensure_future(asyncio.to_thread(self._factory))
        upstream = await asyncio.shield(self._building)
        self._upstream = upstream
        return upstream

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        upstream = self._upstream or await self._get(in_thread=False)
        return await upstream.send(request)

    async def aclose(self) -> None:
        if isinstance(self._upstream, Closeable):
            await self._upstream.aclose()


class RoutingUpstream:
    """`Upstream` that hands each request to the adapter `adapter_for(request.spec)` names."""

    def __init__(self, adapters: Mapping[str, Upstream]) -> None:
        self._adapters = dict(adapters)

    async def send(self, request: UpstreamRequest) -> UpstreamResponse:
        name = adapter_for(request.spec)
        adapter = self._adapters.get(name)
        if adapter is None:
            raise UpstreamError(f"model {request.spec.id!r}: adapter {name!r} is not available",
                                code="upstream_not_configured")
        return await adapter.send(request)

    async def prepare(self, specs: Iterable[ModelSpec]) -> None:
        """Build, off the event loop, the lazy adapters that `specs` will need (call it at start-up,
        in the background, so the first call to a litellm model does not pay for importing litellm)."""
        needed = {adapter_for(spec) for spec in specs}
        for name in sorted(needed):
            adapter = self._adapters.get(name)
            if isinstance(adapter, LazyUpstream):
                await adapter.prepare()

    async def aclose(self) -> None:
        """Close every adapter's pooled connections (call it from the lifespan's shutdown)."""
        for adapter in self._adapters.values():
            if isinstance(adapter, Closeable):
                await adapter.aclose()


def build_upstream(*, eager: Collection[str] = ("openai_http",)) -> RoutingUpstream:
    """The gateway's upstream over every adapter in `ADAPTERS`: those named in `eager` are built now,
    the others (litellm) on first need or `prepare()`."""
    return RoutingUpstream({name: factory() if name in eager else LazyUpstream(factory)
                            for name, factory in ADAPTERS.items()})
