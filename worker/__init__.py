"""News ingest worker: source -> fetch -> extract -> dedup/relevance -> publish."""

__version__ = "0.1.0"
