"""涉密 guard: find 密级 markings in text before it is used, and refuse what must not be processed.

- 绝密 / 机密 / 秘密 (with or without ★ and a 保密期限): never processed by this tool, whatever the
  endpoint; such material belongs on an approved classified system.
- 内部 / 工作秘密 / 敏感 (plus ``restricted_markings`` from the settings): allowed only when the
  configured model endpoint's host is in ``trusted_endpoints`` (loopback by default); otherwise
  refused before any byte is sent.

Only markings count, not words: "保守国家秘密" in prose is not a marking. A marking is a word in
【】/〔〕/[] brackets, a word followed by ★, or a line that is nothing but the marking (optionally
after a 6-digit 份号, with its 保密期限 and 紧急程度), which is where the 份号-密级 header stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from drafting.config import Settings, get_settings
from drafting.errors import ClassifiedError, DraftingError

if TYPE_CHECKING:
    from drafting.domain import Brief, Comment
    from drafting.workspace import Workspace

__all__ = [
    "Marking",
    "SECRET_LEVELS",
    "RESTRICTED_LEVELS",
    "find_markings",
    "endpoint_host",
    "endpoint_trusted",
    "check_text",
    "check_brief",
    "check_comments",
    "guard_brief",
    "guard_project",
    "guard_resume",
    "check_outgoing",
]

SECRET_LEVELS = ("绝密", "机密", "秘密")
RESTRICTED_LEVELS = ("内部", "工作秘密", "敏感")
_QUOTES = "“‘「『\"'《"
_BRIEF_FIELDS = {
    "title": "标题",
    "occasion": "场合",
    "speaker": "讲话人",
    "audience": "听众",
    "policy": "上级精神",
    "facts": "本地情况",
    "request": "领导交代",
    "date": "日期",
}
_REFUSE_SECRET = "标有密级“{mark}”：涉密材料不得用本工具处理，请在经批准的涉密信息系统中办理。"
_REFUSE_RESTRICTED = (
    "标有“{mark}”：这类材料只能发给受信任的模型服务，当前配置的 {host} 不在受信任列表"
    "（DRAFTING_TRUSTED_ENDPOINTS）中，未向模型发送任何内容。请改用本地模型，或由管理员把该服务加入受信任列表。"
)


@dataclass(frozen=True)
class Marking:
    level: str  # the marking word as configured, e.g. 机密
    secret: bool  # 绝密/机密/秘密
    where: str  # file name or field
    line: int  # 1-based
    text: str  # the marking as written, e.g. 机密★1年

    def describe(self) -> str:
        return f"{self.where}第 {self.line} 行"


def _words(extra: str) -> tuple[str, ...]:
    custom = [w.strip() for w in re.split(r"[,，、;；\s]+", extra) if w.strip()]
    # Longest first, so 工作秘密 wins over 秘密 at the same position.
    return tuple(sorted(dict.fromkeys([*SECRET_LEVELS, *RESTRICTED_LEVELS, *custom]), key=len, reverse=True))


@lru_cache(maxsize=8)
def _patterns(extra: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    words = "|".join(re.escape(w) for w in _words(extra))
    # ★ with an optional 保密期限: ★1年, ★6个月, ★长期, ★2030年12月31日.
    term = r"(?:\s*[★☆]\s*(?:[\d一二三四五六七八九十〇]+\s*(?:年|个月|月|天|日)[\d月日]*|长期|永久)?)"
    bracketed = re.compile(rf"[【〔\[［]\s*({words}){term}?\s*[】〕\]］]")
    starred = re.compile(rf"({words}){term}")
    suffix = r"(?:资料|文件|材料|刊物|参阅|明电|件)?"
    urgency = r"(?:\s*(?:特急|加急|特提|平急|急件))?"
    keep = r"(?:\s*[，,]?\s*(?:注意保存|注意保管|妥善保管|不得外传|阅后收回))?"
    line = re.compile(
        rf"^\s*(?:(?:份号[:：]?\s*)?\d{{3,8}}\s+)?[（(【〔\[]?\s*({words}){suffix}{term}?\s*[）)】〕\]]?{urgency}{keep}\s*[。.]?\s*$"
    )
    return bracketed, starred, line


def find_markings(text: str, where: str, *, extra: str = "") -> list[Marking]:
    """Every 密级 marking in ``text`` (a marking in prose, like 保守国家秘密, is not one)."""
    if not text:
        return []
    bracketed, starred, line_pat = _patterns(extra)
    secret = set(SECRET_LEVELS)
    found: list[Marking] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        hits: list[tuple[str, str]] = []
        m = line_pat.match(raw)
        if m:
            hits.append((m.group(1), raw.strip()))
        for pat in (bracketed, starred):
            # A marking quoted in prose (对标有“机密★”的文件……) is talked about, not carried.
            hits.extend(
                (h.group(1), h.group(0).strip())
                for h in pat.finditer(raw)
                if not (h.start() > 0 and raw[h.start() - 1] in _QUOTES)
            )
        if hits:  # one marking per line names it; the strictest one wins
            level, shown = next((h for h in hits if h[0] in secret), hits[0])
            found.append(Marking(level=level, secret=level in secret, where=where, line=n, text=shown))
    return found


def endpoint_host(settings: Settings) -> str:
    return (urlsplit(settings.llm_base_url.strip()).hostname or "").lower()


def endpoint_trusted(settings: Settings | None = None) -> bool:
    """Whether the configured model endpoint may receive text marked 内部/工作秘密/敏感."""
    settings = settings or get_settings()
    trusted = {h.strip().lower().strip("[]") for h in settings.trusted_endpoints.split(",") if h.strip()}
    return endpoint_host(settings) in trusted


def _refuse(markings: list[Marking], settings: Settings) -> None:
    secret = [m for m in markings if m.secret]
    if secret:
        m = secret[0]
        raise ClassifiedError(f"{m.describe()}{_REFUSE_SECRET.format(mark=m.text)}")
    if markings and not endpoint_trusted(settings):
        m = markings[0]
        host = endpoint_host(settings) or settings.llm_base_url
        raise ClassifiedError(f"{m.describe()}{_REFUSE_RESTRICTED.format(mark=m.text, host=host)}")


def check_text(text: str, where: str, settings: Settings | None = None) -> list[Marking]:
    """Raise ClassifiedError for text that must not be used here; return the markings that are allowed."""
    settings = settings or get_settings()
    markings = find_markings(text, where, extra=settings.restricted_markings)
    _refuse(markings, settings)
    return markings


def _brief_texts(brief: Brief) -> Iterable[tuple[str, str]]:
    for name, label in _BRIEF_FIELDS.items():
        yield f"任务书的“{label}”", str(getattr(brief, name, "") or "")
    for i, point in enumerate(brief.key_points, start=1):
        yield f"任务书的第 {i} 条要点", point
    for i, material in enumerate(brief.material, start=1):
        yield f"素材{i}", material


def check_brief(brief: Brief, settings: Settings | None = None) -> list[Marking]:
    settings = settings or get_settings()
    markings = [
        m for where, text in _brief_texts(brief) for m in find_markings(text, where, extra=settings.restricted_markings)
    ]
    _refuse(markings, settings)
    return markings


def check_comments(comments: Iterable[Comment], settings: Settings | None = None) -> list[Marking]:
    settings = settings or get_settings()
    markings = [
        m
        for i, c in enumerate(comments, start=1)
        for m in find_markings(f"{c.text}\n{c.quote}", f"第 {i} 条意见", extra=settings.restricted_markings)
    ]
    _refuse(markings, settings)
    return markings


def _effective(settings: Settings | None) -> Settings:
    settings = settings or get_settings()
    from drafting.secrets import effective_settings

    return effective_settings(settings)


def guard_brief(brief: Brief, settings: Settings | None = None) -> None:
    """The pipeline's entry check: refuse before anything is saved or sent."""
    check_brief(brief, _effective(settings))


def guard_project(
    workspace: Workspace, project_id: str, comments: list[Comment] | None = None, settings: Settings | None = None
) -> None:
    """Entry check for a revision: the project's brief and the comments that will be sent."""
    settings = _effective(settings)
    project = workspace.load(project_id)
    if project.brief is not None:
        check_brief(project.brief, settings)
    given = comments if comments is not None else [c for c in project.comments if c.status != "rejected"]
    check_comments(given, settings)


def guard_resume(workspace: Workspace, project_id: str, settings: Settings | None = None) -> None:
    """Entry check for resuming: the brief must be allowed, and no saved version may be overwritten."""
    settings = _effective(settings)
    project = workspace.load(project_id)
    if project.brief is not None:
        check_brief(project.brief, settings)
    if project.versions:
        last = project.versions[-1].number
        raise DraftingError(
            f"项目 {project_id} 已有第{last}稿，没有中断的初稿可续写；续写会覆盖已保存的稿子，已拒绝。"
            f"要在此基础上修改，请在“修改”页或用 drafting revise 生成第{last + 1}稿。"
        )


def check_outgoing(text: str, stage: str, settings: Settings | None = None) -> None:
    """Backstop at the model seam (``calls.complete``): no marked text leaves, whichever path built the prompt.

    The entry checks above name the field and line; this one catches any path that skipped them.
    """
    settings = _effective(settings)
    markings = find_markings(text, "", extra=settings.restricted_markings)
    if not markings:
        return
    m = next((x for x in markings if x.secret), markings[0])
    if m.secret:
        raise ClassifiedError(f"要发给模型的内容（{stage}）{_REFUSE_SECRET.format(mark=m.text)}")
    if not endpoint_trusted(settings):
        host = endpoint_host(settings) or settings.llm_base_url
        raise ClassifiedError(f"要发给模型的内容（{stage}）{_REFUSE_RESTRICTED.format(mark=m.text, host=host)}")
