"""The request embedding: one vector per request, computed once, shared by the cache, the router
and the semantic routes. A leaf: it imports nothing of ours.

`StaticEmbedder` (a static token table, tens of microseconds) embeds every request; `MiniLM` (the
full encoder, milliseconds) only verifies semantic-cache candidates. Both load committed weights.
"""

from embedding.artifacts import EmbeddingUnavailable
from embedding.request import RequestEmbedding, content_text, embed_request, request_text
from embedding.static import StaticEmbedder

__all__ = ["EmbeddingUnavailable", "RequestEmbedding", "StaticEmbedder", "content_text", "embed_request",
           "request_text"]
