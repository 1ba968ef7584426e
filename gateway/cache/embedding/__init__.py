"""Embedders turn last user messages into normalised vectors; implementations are chosen by name."""
