"""Shared fixtures. Each section belongs to one area; keep sections small and independent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from augment_ft.core.tokens import seed_tiktoken_cache

# --- tokens: real tiktoken encodings, offline ------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def tiktoken_offline_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Point tiktoken at a session cache seeded from the packaged files (never the network)."""
    cache = tmp_path_factory.mktemp("tiktoken-cache")
    seed_tiktoken_cache(cache)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        yield cache
