"""A real Redis client per test, under a unique key prefix that is deleted afterwards (shared with
the auth tests)."""

from tests.gateway.auth.conftest import REDIS_URL, delete_prefix, prefix, redis

__all__ = ["REDIS_URL", "delete_prefix", "prefix", "redis"]
