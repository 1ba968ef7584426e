"""An OpenAI-compatible and Anthropic-compatible upstream simulator for demos, tests and benchmarks.

Several simulated models per process (`SimulatorConfig.models`), each with its own latency, token
pace and seeded faults; answers read `[<model>] echo: <first words of the prompt> <filler...>` and
are deterministic in (seed, model, prompt). Model names that are not configured but match a pattern
(`error-500`, `rate-limit`, `slow-250ms`, `flaky-30`, ...) are simulated too: see `names`.

    python -m simulator --policy policies/default.yaml      # or: turnout simulate
    start_simulator(config) -> SimulatorProcess                      # simulator.process
    build_app(config) / run(config, host=..., port=...)              # simulator.server

Modules: `config` (what is configured), `names` (pattern models), `runtime` (live faults, seeded
draws, counters), `faults` (what each fault does), `chat` + `text` + `schema` (what is said),
`openai_chat` + `openai_api` and `anthropic_api` (the two wire formats), `control` (`/_sim/*`),
`asgi` + `service` + `server` (HTTP), `cli` and `process` (running it).
"""
