"""Injected faults over raw HTTP: error statuses, stalls, resets, cut and malformed streams,
name patterns, seeded determinism and runtime control."""

from __future__ import annotations

import time

import httpx
import pytest


def chat(model: str, **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": "fault please"}], **extra}


def set_faults(client: httpx.Client, model: str, *faults: dict[str, object]) -> None:
    answer = client.post("/_sim/faults", json={"model": model, "faults": list(faults)})
    assert answer.status_code == 200, answer.text


def stream_lines(client: httpx.Client, model: str) -> list[str]:
    lines: list[str] = []
    with client.stream("POST", "/v1/chat/completions", json=chat(model, stream=True)) as answer:
        assert answer.status_code == 200
        lines.extend(line for line in answer.iter_lines() if line)
    return lines


@pytest.mark.parametrize(("kind", "status", "error_type"), [
    ("http_500", 500, "server_error"), ("http_503", 503, "server_error"),
    ("rate_limit", 429, "rate_limit_exceeded")])
def test_error_faults_answer_openai_shaped_errors(client: httpx.Client, kind: str, status: int,
                                                  error_type: str) -> None:
    set_faults(client, "alpha", {"kind": kind, "retry_after_s": 3})
    answer = client.post("/v1/chat/completions", json=chat("alpha"))
    assert answer.status_code == status
    assert answer.json()["error"]["type"] == error_type
    assert (answer.headers.get("retry-after") == "3") == (kind == "rate_limit")


def test_anthropic_requests_get_anthropic_shaped_errors(client: httpx.Client) -> None:
    set_faults(client, "alpha", {"kind": "rate_limit"})
    answer = client.post("/v1/messages", json={"model": "alpha", "max_tokens": 10,
                                               "messages": [{"role": "user", "content": "hi"}]})
    assert answer.status_code == 429
    assert answer.json() == {"type": "error", "error": {"type": "rate_limit_error",
                                                        "message": answer.json()["error"]["message"]}}
    assert answer.headers["retry-after"] == "1"


def test_timeout_stalls_before_answering(client: httpx.Client) -> None:
    set_faults(client, "alpha", {"kind": "timeout", "hang_s": 0.4})
    started = time.perf_counter()
    answer = client.post("/v1/chat/completions", json=chat("alpha"))
    assert answer.status_code == 200
    assert time.perf_counter() - started >= 0.4
    with pytest.raises(httpx.ReadTimeout):
        client.post("/v1/chat/completions", json=chat("timeout"), timeout=0.3)


def test_reset_drops_the_connection_without_a_response(client: httpx.Client) -> None:
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.post("/v1/chat/completions", json=chat("reset"))
    set_faults(client, "alpha", {"kind": "reset"})
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        client.post("/v1/embeddings", json={"model": "alpha", "input": "x"})
    assert client.get("/health").status_code == 200


def test_cut_stream_stops_after_some_chunks_without_done(client: httpx.Client) -> None:
    set_faults(client, "alpha", {"kind": "cut_stream", "after_chunks": 3})
    lines: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError), client.stream(
            "POST", "/v1/chat/completions", json=chat("alpha", stream=True)) as answer:
        lines.extend(line for line in answer.iter_lines() if line)
    assert len(lines) == 3
    assert "[DONE]" not in "".join(lines)
    whole = client.post("/v1/chat/completions", json=chat("alpha"))
    assert whole.status_code == 200  # stream faults leave whole answers alone


def test_malformed_chunk_appears_after_some_chunks(client: httpx.Client) -> None:
    lines = stream_lines(client, "malformed")
    assert lines[2] == "data: {not json"
    assert lines[-1] == "data: [DONE]"


def test_name_patterns_choose_behaviour(client: httpx.Client) -> None:
    assert client.post("/v1/chat/completions", json=chat("error-500-x")).status_code == 500
    assert client.post("/v1/chat/completions", json=chat("error-503")).status_code == 503
    assert client.post("/v1/chat/completions", json=chat("rate-limit-b")).status_code == 429
    started = time.perf_counter()
    slow = client.post("/v1/chat/completions", json=chat("slow-300ms"))
    assert slow.status_code == 200 and time.perf_counter() - started >= 0.3
    assert slow.json()["choices"][0]["message"]["content"].startswith("[slow-300ms] ")
    assert client.post("/v1/chat/completions", json=chat("timeout-100ms")).status_code == 200
    statuses = {client.post("/v1/chat/completions", json=chat("flaky-50")).status_code for _ in range(30)}
    assert statuses == {200, 500}
    assert client.post("/v1/chat/completions", json=chat("flaky-0")).status_code == 200


def test_fault_draws_are_deterministic_under_the_seed(client: httpx.Client) -> None:
    def run() -> list[int]:
        return [client.post("/v1/chat/completions", json=chat("coin")).status_code for _ in range(24)]

    first = run()
    assert set(first) == {200, 500}
    client.post("/_sim/reset")
    assert run() == first


def test_runtime_faults_break_then_heal_a_model(client: httpx.Client) -> None:
    set_faults(client, "beta", {"kind": "http_503"})
    assert client.post("/v1/chat/completions", json=chat("beta")).status_code == 503
    set_faults(client, "beta")
    assert client.post("/v1/chat/completions", json=chat("beta")).status_code == 200
    set_faults(client, "beta", {"kind": "http_500"})
    client.post("/_sim/reset")
    assert client.post("/v1/chat/completions", json=chat("beta")).status_code == 200
    assert client.post("/_sim/faults", json={"model": "ghost", "faults": []}).status_code == 404
    assert client.post("/_sim/faults", json={"model": "beta", "faults": [{"kind": "nope"}]}).status_code == 400


def test_stats_count_requests_streams_and_faults(client: httpx.Client) -> None:
    set_faults(client, "beta", {"kind": "http_500", "rate": 1})
    client.post("/v1/chat/completions", json=chat("beta"))
    set_faults(client, "beta")
    client.post("/v1/chat/completions", json=chat("beta"))
    stream_lines(client, "beta")
    client.post("/v1/embeddings", json={"model": "beta", "input": "x"})
    assert client.post("/v1/messages", json={"model": "tiny", "max_tokens": 5, "messages": [
        {"role": "user", "content": "word " * 60}]}).status_code == 400
    models = client.get("/_sim/stats").json()["models"]
    assert models["beta"] == {"total": 4, "streams": 1, "ok": 3, "rejected": 0, "faults": {"http_500": 1},
                              "endpoints": {"chat": 3, "embeddings": 1}}
    assert models["tiny"]["rejected"] == 1 and models["tiny"]["endpoints"] == {"messages": 1}
    client.post("/_sim/reset")
    assert client.get("/_sim/stats").json()["models"]["beta"]["total"] == 0
