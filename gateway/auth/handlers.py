"""The admin API as plain functions: a handler parses the HTTP request, calls one of these, returns
the dict as JSON. Every function starts with `store.require_master(bearer)`.

    POST   /admin/keys               create_key    body: {tenant, name?, allowed_aliases?, allowed_models?,
                                                          max_tier?, limits?}  -> the key, shown once
    GET    /admin/keys[?tenant=]     list_keys
    POST   /admin/keys/{id}/rotate   rotate_key    -> the new key, shown once
    DELETE /admin/keys/{id}          revoke_key
    GET    /admin/spend[?tenant=]    spend_report
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from gateway.auth.admin import KeyAdmin
from gateway.auth.policy import KeyGrant
from gateway.auth.store import KeyStore
from gateway.limits.service import LimitsService
from router.errors import RequestError


class CreateKey(KeyGrant):
    name: str = Field("", max_length=128)


def _parse(body: Any) -> CreateKey:
    if not isinstance(body, dict):
        raise RequestError("the request body must be a JSON object")
    try:
        return CreateKey.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise RequestError(f"{where}: {first['msg']}", param=where) from None


async def create_key(store: KeyStore, admin: KeyAdmin, bearer: str | None, body: Any) -> dict[str, Any]:
    store.require_master(bearer)
    request = _parse(body)
    grant = KeyGrant.model_validate(request.model_dump(exclude={"name"}))
    issued = await admin.create(grant, name=request.name)
    return issued.public()


async def list_keys(store: KeyStore, admin: KeyAdmin, bearer: str | None, tenant: str | None = None
                    ) -> dict[str, Any]:
    store.require_master(bearer)
    return {"object": "list", "data": [r.public() for r in await admin.list(tenant=tenant)]}


async def rotate_key(store: KeyStore, admin: KeyAdmin, bearer: str | None, key_id: str) -> dict[str, Any]:
    store.require_master(bearer)
    return (await admin.rotate(key_id)).public()


async def revoke_key(store: KeyStore, admin: KeyAdmin, bearer: str | None, key_id: str) -> dict[str, Any]:
    store.require_master(bearer)
    await admin.revoke(key_id)
    return {"id": key_id, "revoked": True}


async def spend_report(store: KeyStore, limits: LimitsService, bearer: str | None, tenant: str | None = None
                       ) -> dict[str, Any]:
    store.require_master(bearer)
    return await limits.report(tenant=tenant)
