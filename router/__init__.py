"""Routing: policy models, chain selection (pure), chain execution, breakers and the upstream adapter.

Imports only `registry`. Never imports `classifier` or `gateway`. Nothing is re-exported here, so
`import router.errors` stays light; the public surface, module by module:

    router.policy        RouterPolicy, AliasPolicy, RetryPolicy, BreakerPolicy, LatencyTarget, ...
    router.features      Signals (the classifier's verdict), RequestFeatures, features_from_body()
    router.hints         Hints: the parsed routing hints (the gateway parses them, `gateway.hints`)
    router.select        select(...) -> Decision (pure), Candidate
    router.explain       explain(decision) -> str
    router.reachability  check_reachability(policy, specs, unavailable) -> [PolicyProblem]
    router.breakers      Breakers (one pybreaker per model), BreakerView
    router.executor      Executor.complete(...) / Executor.stream(...)
    router.record        RouteRecord, Attempt: the one record metrics, logs and headers read
"""
