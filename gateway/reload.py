"""Hot reload of the policy: file watch, SIGHUP and `POST /admin/reload`.

The new file is validated whole before it replaces the running policy; a bad file keeps the old
one running and is reported (log line, admin response, metric). Requests in flight finish on the
runtime they started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from pathlib import Path

from gateway.config import load_policy, route_names
from gateway.runtime import Runtime, Services, build_runtime
from gateway.semantic_routes import build_route_indexes
from gateway.yamlpath import ConfigError

log = logging.getLogger("turnout.reload")


@dataclass(frozen=True, slots=True)
class ReloadResult:
    ok: bool
    version: str
    changed: bool
    errors: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "version": self.version, "changed": self.changed, "errors": list(self.errors)}


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class PolicyHolder:
    """Holds the current `Runtime`; swaps it atomically on a good reload."""

    def __init__(self, services: Services, runtime: Runtime, path: Path) -> None:
        self.services = services
        self.current = runtime
        self.path = path
        self._lock = asyncio.Lock()
        self._stamp = _stamp(path)

    async def reload(self, reason: str) -> ReloadResult:
        async with self._lock:
            self._stamp = _stamp(self.path)
            old = self.current
            try:
                policy = await asyncio.to_thread(load_policy, self.path)
            except ConfigError as exc:
                errors = tuple(exc.render().splitlines())
                log.error("policy reload (%s) rejected; keeping version %s: %s", reason, old.version,
                          "; ".join(errors))
                self._notify(old.version, ok=False)
                return ReloadResult(False, old.version, False, errors)
            if policy == old.policy:
                return ReloadResult(True, old.version, False)
            routes = await asyncio.to_thread(build_route_indexes, policy, self.services.embedder,
                                             (old.policy, old.routes))
            self.current = build_runtime(self.services, policy, previous=old, routes=routes)
            log.info("policy reloaded (%s): %s -> %s", reason, old.version, self.current.version)
            self._notify(self.current.version, ok=True)
            return ReloadResult(True, self.current.version, True)

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

