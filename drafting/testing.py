"""The fake chat model, for tests and for the app's demo mode (``DRAFTING_FAKE_LLM=1``).

It follows simonw/llm's ``MockModel``: answers wait in an ordered queue per pipeline stage, and
``history`` records what each call asked. The stage is the name of the prompt template that made
the call (``outline.default``, ``draft.body``, ``draft.more``, ``review.scores``, ``revise.comments``,
``revise.section``, ``repair.json``…), which :func:`drafting.llm.calls.complete` hands to the model in
the run's metadata; the fake never reads prompt wording, so a prompt file can be reworded freely.
(langchain-core's ``stream()`` does not hand the run manager to ``_stream``, so the fake reads the
metadata through a callback handler of its own, which LangChain calls as each run starts.)

An answer is a string, an exception to raise, or a callable that receives the :class:`FakeRequest`
(the prompt text, with the template's name and variables) and returns the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessageChunk, BaseMessage
from pydantic import Field, PrivateAttr

from drafting.llm.calls import PROMPT_KEY, VALUES_KEY
from drafting.llm.labels import LabelledChatModel

__all__ = [
    "FakeRequest",
    "FakeChatModel",
    "NoAnswerQueued",
    "ScriptedChatModel",
    "demo_chat_model",
    "Answer",
]

Answer = str | BaseException | Callable[["FakeRequest"], str]


class NoAnswerQueued(LookupError):
    """The fake was asked for a stage it has no (more) answers for: the test forgot to enqueue one."""


class FakeRequest(str):
    """One call as the fake saw it. As a string it is the text of all messages (what tests search);
    ``stage`` is the prompt template's name ("" for messages no template made), ``values`` its
    variables as rendered, ``messages`` the (role, text) pairs."""

    stage: str
    values: Mapping[str, str]
    messages: tuple[tuple[str, str], ...]
    kwargs: Mapping[str, Any]

    def __new__(
        cls,
        messages: Sequence[tuple[str, str]],
        stage: str = "",
        values: Mapping[str, str] | None = None,
        kwargs: Mapping[str, Any] | None = None,
    ) -> FakeRequest:
        self = super().__new__(cls, "\n".join(text for _, text in messages))
        self.stage = stage
        self.values = dict(values or {})
        self.messages = tuple(messages)
        self.kwargs = dict(kwargs or {})
        return self

    @property
    def prompt(self) -> str:
        """The last message (the request itself)."""
        return self.messages[-1][1] if self.messages else ""


_ROLES = {"human": "user", "ai": "assistant"}


class FakeChatModel(LabelledChatModel):
    """Answers from a queue per stage, streams them in chunks, and records every call in ``history``.

    A stage with no queue gets ``default`` (an error when ``default`` is None). With ``repeat_last``
    a stage's last answer keeps being given once its queue runs dry; otherwise that is an error too.
    ``fail_on_call`` (1-based) breaks that call mid-stream with a ConnectionError, ``fail_after_chars``
    breaks every call after that many characters with a TimeoutError (a read timeout).
    """

    answers: dict[str, list[Any]] = Field(default_factory=dict)
    default: Any = None
    repeat_last: bool = False
    history: list[FakeRequest] = Field(default_factory=list)
    chunk_chars: int = 8
    fail_on_call: int | None = None
    fail_after_chars: int | None = None
    _served: dict[str, int] = PrivateAttr(default_factory=dict)

    @property
    def _llm_type(self) -> str:
        return "drafting-fake"

    def enqueue(self, stage: str, *answers: Answer) -> FakeChatModel:
        """Queue answers for ``stage`` (a prompt template name), given in this order."""
        self.answers.setdefault(stage, []).extend(answers)
        return self

    def asked(self, stage: str) -> list[FakeRequest]:
        """The calls made for ``stage``, in order."""
        return [r for r in self.history if r.stage == stage]

    def choose(self, request: FakeRequest) -> Answer:
        """The answer for this call (subclasses may route otherwise)."""
        queue = self.answers.get(request.stage)
        if not queue:
            if self.default is None:
                raise NoAnswerQueued(
                    f"fake chat model: no answer queued for stage {request.stage or '(no template)'!r}; "
                    f"queued stages: {sorted(self.answers)}"
                )
            return self.default  # type: ignore[no-any-return]
        served = self._served.get(request.stage, 0)
        if served >= len(queue) and not self.repeat_last:
            raise NoAnswerQueued(
                f"fake chat model: the queue for stage {request.stage!r} is empty "
                f"(all {len(queue)} answers used; call {served + 1} asked for another)"
            )
        self._served[request.stage] = served + 1
        return queue[min(served, len(queue) - 1)]  # type: ignore[no-any-return]

    def _request(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> FakeRequest:
        meta = self.take_labels()
        pairs = [(_ROLES.get(m.type, m.type), str(m.content)) for m in messages]
        return FakeRequest(pairs, str(meta.get(PROMPT_KEY, "")), meta.get(VALUES_KEY) or {}, kwargs)

    def _text(self, request: FakeRequest) -> str:
        self.history.append(request)
        answer = self.choose(request)
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return str(answer(request))
        return str(answer)

    def _pieces(
        self, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> Iterator[AIMessageChunk]:
        text = self._text(self._request(messages, kwargs))
        failing = self.fail_on_call is not None and len(self.history) == self.fail_on_call
        for i in range(0, len(text), self.chunk_chars):
            if self.fail_after_chars is not None and i >= self.fail_after_chars:
                raise TimeoutError("fake timeout mid-stream")
            if failing and i >= len(text) // 2:
                raise ConnectionError("fake model: connection lost")
            yield AIMessageChunk(content=text[i : i + self.chunk_chars])


# -- the scripted demo: every stage of the pipeline answered in the right shape --------------------
_HEADINGS = [
    ("提高政治站位，切实增强做好工作的责任感", ["深刻认识重要意义", "准确把握形势任务"], ["通天气"]),
    ("突出工作重点，扎实推进各项任务落地", ["聚焦群众关切抓整改", "创新方法抓落实"], ["接地气", "显霸气"]),
    ("加强组织领导，确保各项部署落到实处", ["压实各级责任", "强化督查考核"], ["聚人气"]),
    ("坚持久久为功，巩固拓展工作成果", ["完善长效机制", "营造良好氛围"], ["溢才气"]),
    ("强化要素保障，凝聚推动发展的强大合力", ["加强队伍建设", "保障经费投入"], ["聚人气"]),
]
_CLAUSES = [
    "要把思想和行动统一到上级决策部署上来，坚持问题导向，拿出过硬措施。",
    "各乡镇、各部门要结合实际，细化任务清单，明确时间节点，一项一项抓落实。",
    "要深入基层一线，倾听群众呼声，把群众满意作为检验工作成效的根本标准。",
    "要敢于担当、善于作为，对看准了的事情雷厉风行、一抓到底。",
    "要加强统筹协调，形成上下联动、齐抓共管的工作格局。",
    "要把责任压实到岗、落实到人，确保各项任务按期完成。",
]
_LEADS = ["围绕", "抓好", "推进", "落实", "聚焦", "做实", "深化", "巩固"]
_CRITERIA = ["通天气", "接地气", "聚人气", "溢才气", "显霸气", "动之以情", "晓之以理", "孚之以威"]
_PERSPECTIVE_COMMENTS = {
    "基层一线": "这一段要写明基层落实的难点和解决办法。",
    "文字把关": "这一段句子偏长，建议拆成短句，删去套话。",
    "领导视角": "这一段要点明责任单位和牵头领导。",
}
_NUMERALS = "一二三四五六七八九十"


def _number(values: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(values.get(name, default))
    except ValueError:
        return default


def _prose(topic: str, budget: int, start: int) -> str:
    """Sentences that never repeat (the gate drops repeats), about ``budget`` characters."""
    out, i = "", start
    while len(out) < budget * 0.95:
        out += f"{_LEADS[(i // len(_CLAUSES)) % len(_LEADS)]}{topic}，{_CLAUSES[i % len(_CLAUSES)]}"
        i += 1
    return out


def _parts(outline_text: str) -> list[tuple[str, int]]:
    """(heading, budget) of the numbered parts of an outline as the writer stage renders it."""
    import re

    return [(h, int(b)) for h, b in re.findall(r"^[一二三四五六七八九十]+、(.+?)（约(\d+)字）$", outline_text, re.M)]


def _outline(request: FakeRequest) -> str:
    n = _number(request.values, "sections", 3)
    sections = [
        {"heading": h, "purpose": f"讲清{p[0]}", "points": p, "principles": pr, "refs": [1]}
        for h, p, pr in _HEADINGS[:n]
    ]
    return json.dumps({"title": "", "sections": sections}, ensure_ascii=False)


def _scores(request: FakeRequest) -> str:
    scores = [
        {"criterion": c, "score": 6 + i % 3, "evidence": _CLAUSES[i % 6], "suggestion": f"进一步加强{c}的表达。"}
        for i, c in enumerate(_CRITERIA)
    ]
    return json.dumps({"scores": scores}, ensure_ascii=False)


def _comments(request: FakeRequest) -> str:
    # One comment per perspective (identical comments on one paragraph are dropped as repeats).
    said = _PERSPECTIVE_COMMENTS.get(request.values.get("perspective", ""), "这一段要补充具体措施和时间节点。")
    # A reviewer quotes the text it means (comments that quote nothing are dropped).
    m = re.search(r"^\[2\] (.+)$", str(request.values.get("paragraphs", "")), re.M)
    quote = m.group(1)[:10] if m else ""
    return json.dumps({"comments": [{"paragraph": 2, "quote": quote, "comment": said}]}, ensure_ascii=False)


def _body(history: list[FakeRequest]) -> Callable[[FakeRequest], str]:
    def answer(request: FakeRequest) -> str:
        # The one-call body: the opening, every outline heading in order with its prose, the closing.
        start = len(history) * 6
        cite = "[1]" if request.values.get("references", "（无）").strip() != "（无）" else ""
        lines = ["同志们：", "今天召开这次会议，" + _prose("开好这次会议", 60, start)]
        for k, (heading, budget) in enumerate(_parts(request.values.get("outline", ""))):
            text = _prose(heading.split("，")[0][:8], budget, start)
            lines += [f"{_NUMERALS[k]}、{heading}", text[:-1] + cite + "。" if k == 0 else text]
        lines.append("同志们，" + _prose("会后抓落实", 60, start))
        return "\n".join(lines)

    return answer


def _revised(request: FakeRequest) -> str:
    """A part rewritten for its comments: the current text kept, one new sentence that answers them
    (a rewrite that only re-says the rest of the draft would be rejected as a repeat)."""
    current = str(request.values.get("current", "")).strip()
    asked = re.sub(r"[\s“”]+", "", str(request.values.get("comments", "")))[:16] or "意见"
    sentences = re.findall(r"[^。！？]+[。！？]", current)
    kept = "".join(sentences[:-1]) if len(sentences) > 1 else ""  # the new sentence takes the last one's place
    return f"{kept}针对“{asked}”，要逐条对照、立行立改，把整改责任落实到具体岗位。"


def _more(history: list[FakeRequest]) -> Callable[[FakeRequest], str]:
    def answer(request: FakeRequest) -> str:
        values = request.values
        budget = _number(values, "more", _number(values, "budget", 120))
        topic = values.get("heading", "这项工作").split("，")[0] or "这项工作"
        return _prose(topic, budget, len(history) * 6)

    return answer


class ScriptedChatModel(FakeChatModel):
    """The demo model: every stage of the pipeline answered deterministically, in the right shape,
    for as many calls as asked (the app's demo mode and the page tests)."""

    chunk_chars: int = 6
    repeat_last: bool = True

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        script: dict[str, list[Any]] = {
            "outline.default": [_outline],
            "review.scores": [_scores],
            "revise.comments": [_comments],
            "revise.section": [_revised],
            "draft.body": [_body(self.history)],
        }
        for stage, answers in script.items():
            self.answers.setdefault(stage, answers)
        if self.default is None:
            # draft.more and anything else: new prose of the length the call asks for.
            self.default = _more(self.history)


def demo_chat_model() -> ScriptedChatModel:
    """The model the app uses when ``Settings.fake_llm`` is on: no model server needed."""
    return ScriptedChatModel()
