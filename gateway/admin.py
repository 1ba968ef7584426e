"""Admin endpoints. With a master key set (`auth.master_key_env`), every admin call needs it; without
one, admin endpoints answer on localhost only (key management needs the master key either way)."""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from gateway.auth import handlers
from gateway.auth.store import bearer_token
from gateway.errors import PermissionDenied, StoreUnavailable
from gateway.reload import PolicyHolder
from gateway.schemas import parse_json_object
from router.errors import RequestError


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def require_admin(request: Request) -> str | None:
    """The caller's bearer token, once it may use the admin API."""
    tenancy = request.app.state.holder.current.tenancy
    bearer = bearer_token(request.headers.get("authorization"))
    if tenancy.keys.master_key_set:
        tenancy.keys.require_master(bearer)
        return bearer
    host = request.client.host if request.client else ""
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            return bearer
    raise PermissionDenied("admin endpoints answer on localhost only until a master key is configured")


def _keys(request: Request) -> Any:
    tenancy = request.app.state.holder.current.tenancy
    if tenancy.admin is None:
        raise StoreUnavailable("key management needs Redis and a master key (auth.master_key_env)")
    return tenancy


def add_admin_routes(app: FastAPI) -> None:
    @app.post("/admin/reload")
    async def admin_reload(request: Request) -> Response:
        require_admin(request)
        result = await request.app.state.holder.reload("admin API")
        return _json(result.to_dict(), 200 if result.ok else 409 if result.restart_required else 422)

    @app.get("/admin/breakers")
    async def admin_breakers(request: Request) -> Response:
        require_admin(request)
        holder: PolicyHolder = request.app.state.holder
        return _json({"breakers": [v.to_dict() for v in holder.services.breakers.views()]})

    @app.post("/admin/keys")
    async def create_key(request: Request) -> Response:
        bearer = require_admin(request)
        tenancy = _keys(request)
        body = parse_json_object(await request.body())
        return _json(await handlers.create_key(tenancy.keys, tenancy.admin, bearer, body), 201)

    @app.get("/admin/keys")
    async def list_keys(request: Request) -> Response:
        bearer = require_admin(request)
        tenancy = _keys(request)
        tenant = request.query_params.get("tenant")
        return _json(await handlers.list_keys(tenancy.keys, tenancy.admin, bearer, tenant))

    @app.post("/admin/keys/{key_id}/rotate")
    async def rotate_key(request: Request, key_id: str) -> Response:
        bearer = require_admin(request)
        tenancy = _keys(request)
        return _json(await handlers.rotate_key(tenancy.keys, tenancy.admin, bearer, key_id))

    @app.delete("/admin/keys/{key_id}")
    async def revoke_key(request: Request, key_id: str) -> Response:
        bearer = require_admin(request)
        tenancy = _keys(request)
        return _json(await handlers.revoke_key(tenancy.keys, tenancy.admin, bearer, key_id))

    @app.post("/admin/cache/purge")
    async def purge_cache(request: Request) -> Response:
        require_admin(request)
        cache = request.app.state.holder.current.cache
        body = parse_json_object(await request.body())
        tenant, route = body.get("tenant"), body.get("route")
        neither = tenant is None and route is None
        if neither or not isinstance(tenant, str | None) or not isinstance(route, str | None):
            raise RequestError("purge needs a JSON body with a `tenant`, a `route`, or both (strings)")
        if cache is None:
            return _json({"purged": 0})
        return _json({"purged": await cache.purge(tenant=tenant, route=route)})

    @app.get("/admin/spend")
    async def spend(request: Request) -> Response:
        bearer = require_admin(request)
        tenancy = request.app.state.holder.current.tenancy
        if tenancy.limits is None:
            raise StoreUnavailable("spend is kept in Redis: configure `redis` in the policy")
        return _json(await handlers.spend_report(tenancy.keys, tenancy.limits, bearer,
                                                         request.query_params.get("tenant")))
