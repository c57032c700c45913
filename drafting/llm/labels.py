"""Reading a run's prompt label back inside a chat model.

:func:`drafting.llm.calls.complete` puts the prompt template's name and values in the LangChain run
metadata (never sent to the provider). langchain-core's ``stream()`` does not hand the run manager to
``_stream``, so a model that wants the label (the fake models, the page's watched model) reads it
through this callback handler, which LangChain calls as each run starts.
"""

from __future__ import annotations

import threading
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler


class RunLabels(BaseCallbackHandler):
    """Keeps the metadata of the run that just started, per thread (one model may serve several pages)."""

    def __init__(self) -> None:
        self._local = threading.local()

    def on_chat_model_start(self, serialized: Any, messages: Any, *, metadata: Any = None, **kwargs: Any) -> None:
        self._local.metadata = dict(metadata or {})

    def take(self) -> dict[str, Any]:
        meta: dict[str, Any] = getattr(self._local, "metadata", {})
        self._local.metadata = {}
        return meta
