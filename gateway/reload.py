"""Hot reload of the policy: file watch, SIGHUP and `POST /admin/reload`.

The new file is validated whole, then every part it decides is built (a new `Runtime`), and only then
does it replace the running policy, in one step. Each top-level section either applies on reload or
needs a restart (`RESTART`); an edit to a restart section refuses the whole reload, says which section
and why, and the running policy keeps serving. A bad file is refused the same way (log line, admin
reply, metric). Requests in flight finish on the runtime they started with. The sections and the
tests that prove each one is served after a reload: `docs/reload.md`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway.config import Policy, load_policy, route_names
from gateway.runtime import Runtime, Services, build_runtime
from gateway.yamlpath import ConfigError

log = logging.getLogger("turnout.reload")

RESTART: dict[str, str] = {
    "redis": "the Redis connection is opened once, at start",
    "router.breaker.shared": "the breaker sync with other replicas is started once, at start",
    "tracing": "the span exporter is started once, at start",
    "protocols": "the store of `/v1/responses` answers is built once, at start",
}
"""Sections that a reload cannot apply: the reason (shown to the operator) by section."""


@dataclass(frozen=True, slots=True)
class ReloadResult:
    ok: bool
    version: str
    changed: bool
    errors: tuple[str, ...] = ()
    applied: tuple[str, ...] = ()
    """The sections that changed and now serve (empty when refused)."""
    restart_required: tuple[str, ...] = ()
    """The changed sections that refused the reload."""

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "version": self.version, "changed": self.changed, "applied": list(self.applied),
                "restart_required": list(self.restart_required), "errors": list(self.errors)}


def _sections(policy: Policy) -> Iterator[tuple[str, object]]:
    for name in type(policy).model_fields:
        yield name, getattr(policy, name)
    yield "router.breaker.shared", policy.router.breaker.shared


def changed_sections(old: Policy, new: Policy) -> list[str]:
    """Top-level sections (and the few nested settings in `RESTART`) whose values differ."""
    before = dict(_sections(old))
    return [name for name, value in _sections(new) if before[name] != value]


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class PolicyHolder:
    """Holds the current `Runtime`; swaps it atomically on a good reload."""

    def __init__(self, services: Services, runtime: Runtime, path: Path, *, retire_after_s: float = 120.0) -> None:
        self.services = services
        self.current = runtime
        self.path = path
        self._lock = asyncio.Lock()
        self._stamp = _stamp(path)
        self._retire_after = retire_after_s
        self._retiring: set[asyncio.Task[None]] = set()

    async def reload(self, reason: str) -> ReloadResult:
        async with self._lock:
            self._stamp = _stamp(self.path)
            old = self.current
            try:
                policy = await asyncio.to_thread(load_policy, self.path)
            except ConfigError as exc:
                return self._refused(reason, tuple(exc.render().splitlines()))
            except Exception as exc:  # whatever else reading it raised: refused too, so the watch goes on
                log.exception("policy reload (%s): reading the new policy failed", reason)
                return self._refused(reason, (f"the new policy could not be read: {type(exc).__name__}: {exc}",))
            changed = changed_sections(old.policy, policy)
            if not changed:
                return ReloadResult(True, old.version, False)
            restart = tuple(s for s in changed if s in RESTART)
            if restart:
                errors = tuple(f"{s}: changed, and this section needs a restart ({RESTART[s]}); "
                               f"nothing was applied" for s in restart)
                return self._refused(reason, errors, restart)
            try:
                runtime = await build_runtime(self.services, policy, previous=old)
            except ConfigError as exc:  # e.g. a `classifier.artifact` that is missing or fails its sha256
                return self._refused(reason, tuple(exc.render().splitlines()))
            except Exception as exc:  # a part that cannot be built keeps the old policy
                log.exception("policy reload (%s): building the new policy failed", reason)
                return self._refused(reason, (f"the new policy could not be built: {type(exc).__name__}: {exc}",))
            self.current = runtime
            self._retire(old, runtime)
            applied = tuple(s for s in changed if s != "router.breaker.shared")
            log.info("policy reloaded (%s): %s -> %s; applied: %s", reason, old.version, runtime.version,
                     ", ".join(applied))
            self._notify(runtime.version, ok=True)
            return ReloadResult(True, runtime.version, True, applied=applied)

    def _refused(self, reason: str, errors: tuple[str, ...], restart: tuple[str, ...] = ()) -> ReloadResult:
        version = self.current.version
        log.error("policy reload (%s) rejected; keeping version %s: %s", reason, version, "; ".join(errors))
        self._notify(version, ok=False)
        return ReloadResult(False, version, False, errors, restart_required=restart)

    def _retire(self, old: Runtime, new: Runtime) -> None:
        """Close the old cache once the requests that pinned it are surely done (its store is shared)."""
        if old.cache is None or old.cache is new.cache:
            return
        cache = old.cache

        async def later() -> None:
            await asyncio.sleep(self._retire_after)
            await cache.aclose(store=False)

        task = asyncio.get_running_loop().create_task(later())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def aclose(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        await asyncio.gather(*self._retiring, return_exceptions=True)

    def _notify(self, version: str, *, ok: bool) -> None:
        for observer in self.services.observers:
            loaded = getattr(observer, "policy_loaded", None)
            if loaded is not None:
                policy = self.current.policy
                loaded(version, ok, aliases=list(policy.router.aliases), models=[m.id for m in policy.models],
                       semantic_routes=route_names(policy))

    async def watch(self, interval_s: float = 1.0) -> None:
        """Poll the file (works for editors' atomic renames and Kubernetes ConfigMap symlink swaps)."""
        while True:
            await asyncio.sleep(interval_s)
            stamp = _stamp(self.path)
            if stamp is not None and stamp != self._stamp:
                await self.reload("file changed")

    def install_sighup(self) -> bool:
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload("SIGHUP")))
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals
            return False
        return True

    def remove_sighup(self) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
