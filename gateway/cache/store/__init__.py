"""Where cache entries live: Redis (shared by replicas) or this process (the embedded default)."""
