"""The 范文库: reading, chunking, indexing and finding model documents.

Owns file reading with encoding detection (``readers``), heading-aware chunking (``chunking``),
ingest (``ingest``), the vector store (``store``: the only module touching chromadb), the keyword
index (``keyword``; in team mode ``pg_index``, the same index in PostgreSQL) and hybrid retrieval with its relevance floor (``retrieve``).
May import the core modules and ``drafting.llm`` (embeddings); never the writing stages.
"""
