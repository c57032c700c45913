"""The typed seams of issue 17: exceptions that carry their data, typed progress events, the queue fake
that routes by prompt template (so prompts can be reworded), and settings carried by the model."""

from __future__ import annotations

import httpx
import openai
import pytest

from drafting.domain import Brief, Draft, DraftSection, Outline, OutlineSection
from drafting.errors import DraftingError, DroppedStreamError, EmptyAnswerError, ProviderError
from drafting.llm.calls import complete, safe_partial
from drafting.llm.client import translate_error
from tests.fakes import RoutedFakeChat


def _draft() -> Draft:
    outline = Outline(title="讲话", sections=[OutlineSection(heading="一、压实责任")])
    return Draft(title="讲话", brief=Brief(request="写一篇讲话"), outline=outline, sections=[DraftSection(heading="x")])


# ------------------------------------------------------------------ exceptions carry their data


def test_provider_error_data_set_in_the_constructor() -> None:
    draft = _draft()
    err = DroppedStreamError("断开了", partial="已写好的", draft=draft)
    assert (str(err), err.partial, err.draft) == ("断开了", "已写好的", draft)
    assert ProviderError("x").partial == "" and ProviderError("x").draft is None
    # with_draft keeps the class, the message and the partial text; the original is untouched.
    carried = EmptyAnswerError("空", partial="好").with_draft(draft)
    assert type(carried) is EmptyAnswerError and carried.partial == "好" and carried.draft is draft
    assert safe_partial(DraftingError("别的错")) == "" and safe_partial(err) == "已写好的"


def test_translate_error_uses_provider_types_and_keeps_partial() -> None:
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    refused = openai.AuthenticationError("no", response=httpx.Response(401, request=request), body=None)
    err = translate_error(refused, partial="半句")
    assert isinstance(err, ProviderError) and "API Key" in str(err) and err.partial == "半句"
    cut = translate_error(httpx.RemoteProtocolError("peer closed"), partial="一半")
    assert isinstance(cut, DroppedStreamError) and cut.partial == "一半"
    # An already translated error gains the partial text without changing class or message.
    again = translate_error(DroppedStreamError("断开"), partial="后来的")
    assert isinstance(again, DroppedStreamError) and str(again) == "断开" and again.partial == "后来的"


def test_complete_raises_typed_error_with_partial_text() -> None:
    llm = RoutedFakeChat(default="一二三四五六七八九十" * 5, fail_after_chars=16)
    with pytest.raises(ProviderError, match="超时") as info:
        complete(llm, [("user", "x")], stage="draft")
    assert info.value.partial == ("一二三四五六七八九十" * 5)[:16] and info.value.draft is None
    with pytest.raises(EmptyAnswerError) as empty:
        complete(RoutedFakeChat(default="好。"), [("user", "写一段")], stage="draft")
    assert empty.value.partial == "好。"
