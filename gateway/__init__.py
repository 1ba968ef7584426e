"""The gateway: FastAPI app, OpenAI schemas, CLI. The composition root that builds everything once."""
