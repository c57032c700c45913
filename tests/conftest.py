"""Shared fixtures: a temporary data directory for every test, no API keys, fake models."""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from drafting import config

warnings.filterwarnings("ignore", category=ResourceWarning, module="jieba")


class HashEmbeddings(Embeddings):
    """Deterministic bag-of-bigrams embedding: texts sharing characters land close together."""

    dim = 384

    def _vec(self, text: str) -> list[float]:
        v = [0.0] * self.dim
        grams = [text[i : i + 2] for i in range(max(1, len(text) - 1))]
        for g in grams:
            h = int(hashlib.md5(g.encode()).hexdigest()[:8], 16)
            v[h % self.dim] += 1.0
        norm = math.sqrt(sum(x * x for x in v)) or 1.0
        return [x / norm for x in v]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own data directory and no provider credentials."""
    monkeypatch.setenv("DRAFTING_DATA_DIR", str(tmp_path / "data"))
    for name in ("OPENAI_API_KEY", "DRAFTING_LLM_API_KEY", "DRAFTING_LLM_BASE_URL", "DRAFTING_CHROMA_HOST"):
        monkeypatch.delenv(name, raising=False)
    config.get_settings.cache_clear()
    yield
    config.get_settings.cache_clear()


@pytest.fixture
def fake_embeddings() -> HashEmbeddings:
    return HashEmbeddings()


@pytest.fixture
def settings() -> config.Settings:
    return config.get_settings()
