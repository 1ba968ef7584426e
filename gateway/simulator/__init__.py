"""An OpenAI-compatible and Anthropic-compatible upstream simulator for demos, tests and benchmarks."""
