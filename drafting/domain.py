"""Typed data passed between the stages: brief -> passages -> outline -> draft -> review -> versions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "GENRES",
    "SPOKEN_GENRES",
    "Criterion",
    "PRINCIPLES",
    "STANCES",
    "RevisionMode",
    "SectionKind",
    "Severity",
    "PassageOrigin",
    "Brief",
    "DocumentMeta",
    "Chunk",
    "Passage",
    "OutlineSection",
    "Outline",
    "Citation",
    "DraftSection",
    "StageCost",
    "Costs",
    "Draft",
    "CriterionScore",
    "CheckFinding",
    "Review",
    "Comment",
    "CommentStatus",
    "CommentOrigin",
    "PointCoverage",
    "PrincipleCoverage",
    "RoundReport",
    "Version",
    "ConfirmedFact",
    "count_chars",
    "now_iso",
]

# Every genre of prompts/genres.yaml (a test keeps the two in step), and whether it is spoken (read out).
_GENRE_SPOKEN: dict[str, bool] = {
    "讲话稿": True,
    "表态发言": True,
    "经验交流发言": True,
    "发言稿": True,
    "致辞": True,
    "主持词": True,
    "先进事迹报告": True,
    "事迹材料": False,
    "述职报告": True,
    "调研报告": False,
    "心得体会": False,
    "工作报告": True,
    "汇报材料": True,
    "请示": False,
    "报告": False,
    "通知": False,
    "意见": False,
    "函": False,
    "纪要": False,
    "方案": False,
    "总结": False,
}
GENRES: tuple[str, ...] = tuple(_GENRE_SPOKEN)
SPOKEN_GENRES: frozenset[str] = frozenset(g for g, spoken in _GENRE_SPOKEN.items() if spoken)

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def count_chars(text: str) -> int:
    """Length as Chinese offices count it: Chinese characters (not tokens, not punctuation)."""
    return len(_HAN.findall(text))


def now_iso() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


class Criterion(str, Enum):
    """The five speech principles and the three stances a draft is written and reviewed against."""

    TONGTIANQI = "通天气"
    JIEDIQI = "接地气"
    JURENQI = "聚人气"
    YICAIQI = "溢才气"
    XIANBAQI = "显霸气"
    QING = "动之以情"
    LI = "晓之以理"
    WEI = "孚之以威"


PRINCIPLES: tuple[Criterion, ...] = (
    Criterion.TONGTIANQI,
    Criterion.JIEDIQI,
    Criterion.JURENQI,
    Criterion.YICAIQI,
    Criterion.XIANBAQI,
)
STANCES: tuple[Criterion, ...] = (Criterion.QING, Criterion.LI, Criterion.WEI)


class RevisionMode(str, Enum):
    URGENT = "urgent"  # 急稿
    SLOW = "slow"  # 慢稿

    @property
    def label(self) -> str:
        return "急稿" if self is RevisionMode.URGENT else "慢稿"


class SectionKind(StrEnum):
    """Where a part of the outline (and of the draft) stands. Saved as its value, as before."""

    OPENING = "opening"
    BODY = "body"
    CLOSING = "closing"

    @property
    def label(self) -> str:
        """The word a writer reads (开头 / 正文 / 结尾)."""
        return {"opening": "开头", "body": "正文", "closing": "结尾"}[self.value]


class Severity(StrEnum):
    """How serious a finding of an automatic check is."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class PassageOrigin(StrEnum):
    """Where a reference passage came from."""

    CORPUS = "corpus"  # the 范文库
    MATERIAL = "material"  # what the writer supplied with the brief
    PINNED = "pinned"  # a 范文 passage the writer pinned for this draft (the page's 固定 button)


if TYPE_CHECKING:
    # Pydantic turns a value into its member when the model is built, so constructors may be given
    # either; mypy checks the literal spelling. Read back, the field always holds the member.
    SectionKindField: TypeAlias = SectionKind | Literal["opening", "body", "closing"]
    SeverityField: TypeAlias = Severity | Literal["error", "warning", "info"]
    PassageOriginField: TypeAlias = PassageOrigin | Literal["corpus", "material", "pinned"]
else:
    SectionKindField = SectionKind
    SeverityField = Severity
    PassageOriginField = PassageOrigin


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Brief(_Model):
    """What the writer was asked for. Either the structured fields, or ``request`` alone."""

    title: str = ""
    genre: str = "讲话稿"
    occasion: str = ""
    speaker: str = ""
    audience: str = ""
    length: int = Field(default=1500, ge=100, le=30000)
    key_points: list[str] = Field(default_factory=list)
    policy: str = ""
    facts: str = ""
    mode: RevisionMode = RevisionMode.URGENT
    request: str = ""
    # Source material the writer pasted or attached: first-priority reference.
    material: list[str] = Field(default_factory=list)
    date: str = ""
    # Why the genre was chosen when the writer did not name it (shown in the CLI and the UI).
    genre_note: str = ""
    # Facts the writer confirmed or corrected in the facts ledger (drafting.checks.ledger): they count as
    # supplied, so the gate keeps them, and revisions never change them.
    confirmed: list[str] = Field(default_factory=list)

    def is_empty(self) -> bool:
        fields = (self.title, self.occasion, self.request, self.policy, self.facts)
        return not any(s.strip() for s in fields) and not self.key_points and not self.material

    def query_text(self) -> str:
        """The text used to search the corpus for this brief."""
        parts = [self.title, self.occasion, self.request, " ".join(self.key_points), self.policy]
        return " ".join(p for p in parts if p.strip())[:500]


class DocumentMeta(_Model):
    doc_id: str
    title: str
    genre: str = ""
    date: str = ""
    issuing_body: str = ""
    speaker: str = ""
    occasion: str = ""
    tags: list[str] = Field(default_factory=list)
    source: str = ""
    sha256: str = ""
    added_by: str = ""  # team mode: the writer who added it to the shared 范文库


class Chunk(_Model):
    chunk_id: str
    doc_id: str
    text: str
    section_path: list[str] = Field(default_factory=list)
    ordinal: int = 0


class Passage(_Model):
    """A retrieved chunk with its source, as shown to the writer and cited in drafts."""

    chunk_id: str
    doc_id: str
    title: str
    text: str
    section_path: list[str] = Field(default_factory=list)
    genre: str = ""
    date: str = ""
    issuing_body: str = ""
    source: str = ""
    score: float = 0.0
    origin: PassageOriginField = PassageOrigin.CORPUS
    # Why retrieval handed this passage to the writer model (shown beside the source).
    why: str = ""

    @property
    def section(self) -> str:
        return " > ".join(self.section_path)


class OutlineSection(_Model):
    """One part of the outline: its opening, a body part, or its closing."""

    heading: str
    kind: SectionKindField = SectionKind.BODY
    purpose: str = ""
    points: list[str] = Field(default_factory=list)
    budget: int = 0
    principles: list[Criterion] = Field(default_factory=list)
    refs: list[int] = Field(default_factory=list)
    # Bank entries (their text) the writer chose for this part on the outline step; empty: the ones
    # picked for the brief (drafting.principles.offers_for / swap_entry).
    classics: list[str] = Field(default_factory=list)
    formulations: list[str] = Field(default_factory=list)


class Outline(_Model):
    title: str
    sections: list[OutlineSection]

    @property
    def body_sections(self) -> list[OutlineSection]:
        return [s for s in self.sections if s.kind == "body"]


class Citation(_Model):
    n: int
    passage: Passage


class DraftSection(_Model):
    heading: str
    kind: SectionKindField = SectionKind.BODY
    text: str = ""
    complete: bool = True


class StageCost(_Model):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: str
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0


class Costs(_Model):
    """What the model calls of a run (or a part of one) cost, per stage: a frozen record. A run collects
    its calls in :class:`drafting.llm.calls.CostLog`; a draft holds a snapshot that never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: tuple[StageCost, ...] = ()

    def plus(self, other: Costs) -> Costs:
        """These costs and ``other``'s together, stage by stage (a new record)."""
        totals: dict[str, StageCost] = {s.stage: s for s in self.stages}
        for s in other.stages:
            have = totals.get(s.stage)
            totals[s.stage] = (
                s
                if have is None
                else have.model_copy(
                    update={
                        "calls": have.calls + s.calls,
                        "tokens_in": have.tokens_in + s.tokens_in,
                        "tokens_out": have.tokens_out + s.tokens_out,
                        "seconds": have.seconds + s.seconds,
                    }
                )
            )
        return Costs(stages=tuple(totals.values()))

    @property
    def calls(self) -> int:
        return sum(s.calls for s in self.stages)

    @property
    def tokens_in(self) -> int:
        return sum(s.tokens_in for s in self.stages)

    @property
    def tokens_out(self) -> int:
        return sum(s.tokens_out for s in self.stages)

    @property
    def seconds(self) -> float:
        return round(sum(s.seconds for s in self.stages), 2)


class Draft(_Model):
    title: str
    brief: Brief
    outline: Outline
    sections: list[DraftSection]
    citations: list[Citation] = Field(default_factory=list)
    costs: Costs = Field(default_factory=Costs)
    version: int = 1
    created_at: str = Field(default_factory=now_iso)

    @property
    def body_text(self) -> str:
        """The body as plain text: headings on their own lines, paragraphs separated by newlines."""
        lines: list[str] = []
        for s in self.sections:
            if s.kind == "body" and s.heading:
                lines.append(s.heading)
            lines.extend(p for p in s.text.splitlines() if p.strip())
        return "\n".join(lines)

    @property
    def paragraphs(self) -> list[str]:
        return self.body_text.splitlines()

    @property
    def char_count(self) -> int:
        return count_chars(self.body_text)

    @property
    def complete(self) -> bool:
        return all(s.complete for s in self.sections)


class CriterionScore(_Model):
    criterion: Criterion
    score: int = Field(ge=1, le=10)
    evidence: str = ""
    suggestion: str = ""


class CheckFinding(_Model):
    """A finding of an automatic check (no model needed)."""

    rule: str
    message: str
    severity: SeverityField = Severity.WARNING
    position: str = ""
    quote: str = ""  # the offending text, as it stands in the document (empty for whole-document counts)


class Review(_Model):
    scores: list[CriterionScore] = Field(default_factory=list)
    checks: list[CheckFinding] = Field(default_factory=list)
    costs: Costs = Field(default_factory=Costs)
    # Per principle (Criterion value), the body sentences that carry it; found without the model.
    evidence: dict[str, list[str]] = Field(default_factory=dict)

    def score_of(self, criterion: Criterion) -> int | None:
        for s in self.scores:
            if s.criterion == criterion:
                return s.score
        return None


class CommentStatus(str, Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class CommentOrigin(str, Enum):
    """Who made a comment; 慢稿 ranks them in this order (the leader's 批注 first)."""

    LEADER = "leader"  # a 批注 read back from the Word document the leader edited
    WRITER = "writer"  # 撰稿人
    COMPLETENESS = "completeness"  # the program's key-point check
    REVIEWER = "reviewer"  # a model reviewer perspective

    @property
    def label(self) -> str:
        return {"leader": "领导批注", "writer": "撰稿人", "completeness": "完整性检查", "reviewer": "审稿人"}[
            self.value
        ]


class Comment(_Model):
    id: str
    author: str  # a reviewer perspective or "撰稿人"
    text: str
    paragraph: int = -1  # index into Draft.paragraphs; -1 = whole draft
    quote: str = ""
    status: CommentStatus = CommentStatus.PENDING
    origin: CommentOrigin | None = None  # None in older saves: read from the author (revise.origin_of)
    note: str = ""  # the program's remark for the writer: quote not found in this version, why not applied


class PointCoverage(_Model):
    """横到边 for one key point of the brief: where the version before and after the round covers it."""

    point: str
    before: str  # "二、…（第5段）" or 未覆盖
    after: str


class PrincipleCoverage(_Model):
    """One of the five principles: the body sentences that carry it before and after the round."""

    principle: str
    before: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)


class RoundReport(_Model):
    """What one revision round did, measured without the model: key points and principles with
    evidence before and after, the accepted comments not applied (each with its reason), and the parts
    that were retried with a tighter instruction."""

    points: list[PointCoverage] = Field(default_factory=list)
    principles: list[PrincipleCoverage] = Field(default_factory=list)
    not_applied: list[Comment] = Field(default_factory=list)  # accepted but not applied; ``note`` says why
    retried: list[str] = Field(default_factory=list)


class Version(_Model):
    number: int
    draft: Draft
    mode: RevisionMode
    note: str = ""
    diff: str = ""
    addressed: list[Comment] = Field(default_factory=list)
    coverage: dict[str, str] = Field(default_factory=dict)
    created_at: str = Field(default_factory=now_iso)
    # The gate's defect counts (drafting.gate kinds + "placeholder") before and after the round, and
    # the parts whose rewrite was not taken, each with its reason in Chinese.
    defects_before: dict[str, int] = Field(default_factory=dict)
    defects_after: dict[str, int] = Field(default_factory=dict)
    kept_parts: list[str] = Field(default_factory=list)
    report: RoundReport | None = None  # 慢稿/急稿 rounds: coverage, principles, comments not applied


class ConfirmedFact(_Model):
    """A fact the writer confirmed in the facts ledger, or the value the writer put in its place."""

    value: str  # as it now stands in the draft
    kind: str = ""  # drafting.facts.FactKind value, or "placeholder" for a filled 〔待补〕
    was: str = ""  # what the draft said before the writer's correction ("" when confirmed as it stood)
    created_at: str = Field(default_factory=now_iso)
