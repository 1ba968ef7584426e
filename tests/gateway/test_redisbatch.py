"""CommandBatch against the real Redis: one pipeline per loop turn, each caller its own reply."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from gateway.redisbatch import CommandBatch
from gateway.redisconn import RedisUnavailable, connect
from tests.gateway.auth.conftest import REDIS_URL, delete_prefix, prefix

__all__ = ["prefix"]


@pytest.fixture
async def client(prefix: str) -> AsyncIterator[aioredis.Redis]:
    c = connect(REDIS_URL, max_connections=8, timeout_s=2)
    yield c
    await delete_prefix(c, prefix)
    await c.aclose()


async def test_commands_of_one_turn_share_one_pipeline_and_get_their_own_replies(
        client: aioredis.Redis, prefix: str) -> None:
    batch = CommandBatch(client)
    await asyncio.gather(*(client.set(f"{prefix}:{i}", str(i)) for i in range(20)))
    replies = await asyncio.gather(*(batch.call("GET", f"{prefix}:{i}") for i in range(20)))
    assert replies == [str(i).encode() for i in range(20)]
    assert (batch.batches, batch.commands) == (1, 20)
    await batch.aclose()


async def test_an_error_reaches_only_its_caller(client: aioredis.Redis, prefix: str) -> None:
    batch = CommandBatch(client)
    await client.hset(f"{prefix}:h", "f", "v")
    results = await asyncio.gather(batch.call("GET", f"{prefix}:h"), batch.call("HGET", f"{prefix}:h", "f"),
                                   return_exceptions=True)
    assert isinstance(results[0], RedisUnavailable) and "WRONGTYPE" in str(results[0])
    assert results[1] == b"v"


async def test_a_script_is_loaded_again_after_a_flush(client: aioredis.Redis, prefix: str) -> None:
    batch = CommandBatch(client)
    source = "return redis.call('INCR', KEYS[1])"
    sha = client.register_script(source).sha
    assert await batch.script(sha, source, [f"{prefix}:n"], []) == 1
    await client.script_flush()  # what a Redis restart does to loaded scripts
    assert await batch.script(sha, source, [f"{prefix}:n"], []) == 2


async def test_a_caller_that_gives_up_leaves_the_others_their_replies(client: aioredis.Redis, prefix: str) -> None:
    batch = CommandBatch(client)
    await client.set(f"{prefix}:k", "v")
    slow = asyncio.ensure_future(batch.call("GET", f"{prefix}:k"))
    fast = batch.call("GET", f"{prefix}:k")
    slow.cancel()
    assert await fast == b"v"
    await batch.aclose()


async def test_unreachable_redis_fails_every_caller_with_a_redis_error() -> None:
    dead = connect("redis://127.0.0.1:1/0", max_connections=4, timeout_s=0.2)
    batch = CommandBatch(dead)
    results = await asyncio.gather(batch.call("GET", "a"), batch.call("GET", "b"), return_exceptions=True)
    assert all(isinstance(r, RedisUnavailable) for r in results), results
    batch.send("GET", "c")  # fire and forget: nobody hears the error, nothing leaks
    await batch.aclose()
    await dead.aclose()


async def test_a_dropped_connection_fails_its_callers_and_the_next_call_reconnects(
        client: aioredis.Redis, prefix: str) -> None:
    batch = CommandBatch(client)
    await client.set(f"{prefix}:k", "v")
    name = f"{prefix}-batch"
    assert await batch.call("CLIENT", "SETNAME", name) == b"OK"
    victims = [line for line in (await client.client_list()) if line.get("name") == name]
    assert len(victims) == 1
    await client.client_kill_filter(_id=victims[0]["id"])
    await asyncio.sleep(0.05)
    assert await batch.call("GET", f"{prefix}:k") == b"v"  # a new connection
    await batch.aclose()


async def test_db_from_the_url_is_selected(prefix: str) -> None:
    other = connect("redis://127.0.0.1:6379/3", max_connections=4, timeout_s=2)
    try:
        await other.set(f"{prefix}:db", "three")
        batch = CommandBatch(other)
        assert await batch.call("GET", f"{prefix}:db") == b"three"
        await batch.aclose()
    finally:
        await other.delete(f"{prefix}:db")
        await other.aclose()


async def test_a_redis_that_never_answers_times_out_every_caller() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        await asyncio.sleep(5)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    stuck = connect(f"redis://127.0.0.1:{port}/0", max_connections=4, timeout_s=0.3)
    batch = CommandBatch(stuck)
    started = asyncio.get_running_loop().time()
    results = await asyncio.gather(batch.call("GET", "a"), batch.call("GET", "b"), return_exceptions=True)
    assert all(isinstance(r, RedisUnavailable) for r in results), results
    assert asyncio.get_running_loop().time() - started < 2
    await batch.aclose()
    server.close()
    await stuck.aclose()



async def _overlapping(batch: CommandBatch, client: aioredis.Redis, prefix: str) -> set[int]:
    """Eight round trips in flight at once (one command per loop turn): the connection id each ran on."""
    calls = []
    for i in range(8):
        await client.set(f"{prefix}:{i}", str(i))
        calls.append(asyncio.gather(batch.call("GET", f"{prefix}:{i}"), batch.call("CLIENT", "ID")))
        await asyncio.sleep(0)
    replies = await asyncio.gather(*calls)
    assert [value for value, _ in replies] == [str(i).encode() for i in range(8)]
    return {int(conn) for _, conn in replies}


async def test_overlapping_batches_run_on_the_batches_own_connections_which_close_with_it(
        client: aioredis.Redis, prefix: str) -> None:
    batch = CommandBatch(client, own_connections=8, in_flight=8)
    used = await _overlapping(batch, client, prefix)
    assert len(used) >= 2  # they did overlap
    assert used <= {int(c["id"]) for c in await client.client_list()}
    await batch.aclose()
    assert not used & {int(c["id"]) for c in await client.client_list()}


async def test_when_its_own_connections_are_busy_a_batch_borrows_from_the_pool(
        client: aioredis.Redis, prefix: str) -> None:
    batch = CommandBatch(client, own_connections=1, in_flight=8)
    used = await _overlapping(batch, client, prefix)
    await batch.aclose()
    still_open = used & {int(c["id"]) for c in await client.client_list()}
    assert len(used) >= 2 and len(still_open) == len(used) - 1  # the pool keeps its own; the batch's closed


async def test_commands_queued_while_a_round_trip_is_under_way_join_the_next_one(
        client: aioredis.Redis, prefix: str) -> None:
    """One round trip at a time by default: eight calls in eight loop turns travel in a few batches
    (the first, then the rest once it is back; up to four where replies come back between the loop's
    turns), each still getting its own reply; with eight allowed in flight each goes at once."""
    await client.mset({f"{prefix}:{i}": str(i) for i in range(8)})
    for in_flight in (1, 8):
        batch = CommandBatch(client, in_flight=in_flight, own_connections=8)
        calls = []
        for i in range(8):
            calls.append(batch.call("GET", f"{prefix}:{i}"))
            await asyncio.sleep(0)
        assert await asyncio.gather(*calls) == [str(i).encode() for i in range(8)]
        assert batch.batches <= 4 if in_flight == 1 else batch.batches == 8
        await batch.aclose()
