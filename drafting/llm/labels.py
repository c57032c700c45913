"""Reading a run's prompt label back inside a chat model.

:func:`drafting.llm.calls.complete` puts the prompt template's name and values in the LangChain run
metadata (never sent to the provider). langchain-core's ``stream()`` does not hand the run manager to
``_stream``, so a model that wants the label (the fake models, the page's watched model) reads it
through this callback handler, which LangChain calls as each run starts.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, BaseMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr


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


class LabelledChatModel(BaseChatModel):
    """A chat model of ours (the fakes, the page's watched model) that reads each call's prompt label
    (:meth:`take_labels`) and streams its answer; a call that does not stream gets the pieces joined."""

    _labels: RunLabels = PrivateAttr(default_factory=RunLabels)

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        callbacks = self.callbacks if isinstance(self.callbacks, list) else []
        self.callbacks = [*callbacks, self._labels]

    def take_labels(self) -> dict[str, Any]:
        """The metadata of the run that just started (the prompt template's name and values)."""
        return self._labels.take()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(str(c.message.content) for c in self._stream(messages, stop, run_manager, **kwargs))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for piece in self._pieces(messages, stop, kwargs):
            yield ChatGenerationChunk(message=piece)

    def _pieces(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> Iterator[BaseMessageChunk]:
        """The answer, piece by piece (each subclass says how)."""
        raise NotImplementedError
