"""Routing: policy models, chain selection (pure), chain execution, breakers and the upstream adapter.

Imports only `registry`. Never imports `classifier` or `gateway`.
"""
