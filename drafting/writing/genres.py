"""The kinds of text writers are asked for (prompts/genres.yaml): how to recognise each in a pasted
instruction, its shape, its speaker's voice, and the wording that is wrong in it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from drafting.llm.prompts import PROMPTS_DIR

__all__ = [
    "GenreProfile",
    "genre_profile",
    "genre_names",
    "genre_instructions",
    "detect_genre",
    "default_title",
    "topic_of",
    "DEFAULT_GENRE",
]

DEFAULT_GENRE = "讲话稿"


@dataclass(frozen=True)
class GenreProfile:
    name: str
    family: str  # "speech" or "document"
    detect: tuple[str, ...]
    opening: float
    closing: float
    voice: str
    opening_hint: str
    closing_hint: str
    headings: tuple[str, ...]
    shape: str
    forbidden: tuple[str, ...]
    # Whether the deterministic helpers may add local-fact asks (〔待补：…〕) and a superior formulation:
    # true for a unit's work (讲话稿, 工作报告, 方案…), false for a story, a ceremony or a personal reflection.
    anchors: bool = True
    # Whether the body's parts carry numbered headings (一、…); a 主持词 or a 致辞 is read as paragraphs.
    titled: bool = True
    # Whether a classical line is offered to the writer model (not in a 主持词: the host only links the items).
    quotes: bool = True
    # Where the parts of an outline made without the model come from: points | skeleton | agenda.
    parts: str = "points"
    # Which follow-up focuses serve a short part (prompts/follow_ups.yaml): speech | document | story | host |
    # ceremony | reflection.
    follow_ups: str = "speech"
    # Whether the speaker may introduce himself ("我是……"): not where everyone in the room knows him.
    self_intro: bool = True

    @property
    def spoken(self) -> bool:
        return self.family == "speech"

    @property
    def layout(self) -> str:
        """How the writer model lays out the body (prompts/layouts.yaml)."""
        return _layouts()["titled" if self.titled else "untitled"]["instruction"]

    def data_line(self, facts: list[str]) -> str:
        """The line under a part of the outline that hands the writer model the writer's figures for it."""
        return _layouts()["titled" if self.titled else "untitled"]["data"].format(facts="；".join(facts))

    def part_label(self, n: str) -> str:
        """How body part ``n`` (一, 二, …) is labelled in the outline the writer model sees."""
        return _layouts()["titled" if self.titled else "untitled"]["label"].format(n=n)


@lru_cache(maxsize=1)
def _layouts() -> dict[str, dict[str, str]]:
    return dict(yaml.safe_load((PROMPTS_DIR / "layouts.yaml").read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _profiles() -> dict[str, GenreProfile]:
    data: dict[str, dict[str, Any]] = yaml.safe_load((PROMPTS_DIR / "genres.yaml").read_text(encoding="utf-8"))
    out = {}
    for name, d in data.items():
        out[name] = GenreProfile(
            name=name,
            family=str(d["family"]),
            detect=tuple(d.get("detect") or ()),
            opening=float(d["opening"]),
            closing=float(d["closing"]),
            voice=str(d["voice"]),
            opening_hint=str(d["opening_hint"]),
            closing_hint=str(d["closing_hint"]),
            headings=tuple(d["headings"]),
            shape=str(d["shape"]),
            forbidden=tuple(d.get("forbidden") or ()),
            anchors=bool(d.get("anchors", True)),
            titled=bool(d.get("titled", True)),
            quotes=bool(d.get("quotes", True)),
            parts=str(d.get("parts", "points")),
            self_intro=bool(d.get("self_intro", True)),
            follow_ups=str(d.get("follow_ups", d["family"])),
        )
    return out


def genre_instructions() -> list[str]:
    """The genre voices and layout instructions the writer model is shown (the opening, closing and shape
    hints are left out: they name parts in the words real documents use, "指导思想、目标、主要任务")."""
    texts = [p.voice for p in _profiles().values()]
    return texts + [v[key] for v in _layouts().values() for key in ("instruction", "data")]


def genre_names() -> tuple[str, ...]:
    return tuple(_profiles())


def genre_profile(genre: str) -> GenreProfile:
    """The profile of ``genre``; an unknown name gets the 讲话稿 profile under its own name."""
    profiles = _profiles()
    if genre in profiles:
        return profiles[genre]
    base = profiles[DEFAULT_GENRE]
    return GenreProfile(**{**base.__dict__, "name": genre})


# Genres named by a generic word ("讲话", "发言"): a specific cue just before it says which kind
# ("经验交流会上的发言" is an 经验交流发言).
_GENERIC_GENRES = frozenset({"讲话稿", "发言稿"})
_NEAR = 8
# Genres whose cue decides wherever it stands: "主持词……其中区委书记讲话" asks for a 主持词.
_STRONG_GENRES = frozenset({"主持词", "述职报告", "调研报告", "心得体会", "请示"})


def detect_genre(text: str) -> tuple[str, str]:
    """(genre, why) for a pasted instruction. The genre whose cue comes LAST in the sentence wins
    ("事迹材料作为报告会的演讲稿" asks for a 演讲稿); file order breaks ties."""
    matches: list[tuple[int, int, int, str, str]] = []  # (end, start, order, genre, cue)
    for order, (name, p) in enumerate(_profiles().items()):
        for pattern in p.detect:
            for m in re.finditer(pattern, text):
                matches.append((m.end(), m.start(), order, name, m.group(0)))
    if not matches:
        return DEFAULT_GENRE, f"要求里没有写明文种，按“{DEFAULT_GENRE}”起草；如不对，请在任务书里改文种"
    matches.sort(key=lambda x: (-x[0], x[2]))
    end, start, _, name, cue = matches[0]
    if name in _GENERIC_GENRES:
        for e, _s, _o, n, c in matches:
            if n not in _GENERIC_GENRES and (start - _NEAR <= e <= start or n in _STRONG_GENRES):
                name, cue = n, c
                break
    return name, f"要求里写的是“{cue}”，按“{name}”起草"


_SPOKEN_TITLE = {
    "讲话稿": "讲话",
    "表态发言": "表态发言",
    "发言稿": "发言",
    "经验交流发言": "交流发言",
    "致辞": "致辞",
    "主持词": "主持词",
}


def default_title(genre: str, occasion: str, topic: str) -> str:
    """A title from the occasion (speeches: "在……上的讲话") or the subject ("关于……的请示")."""
    occasion = occasion.strip()
    if occasion and genre in _SPOKEN_TITLE:
        place = occasion if occasion.startswith("在") else f"在{occasion}"
        place = place if place.endswith("上") else f"{place}上"
        return f"{place}的{_SPOKEN_TITLE[genre]}"
    if not topic or topic == "这项":
        return genre
    return f"关于{topic}的{genre}"


_OCCASION_NOISE = re.compile(
    r"^(?:在|于)|(?:上的讲话|的讲话|讲话稿|发言稿|致辞|主持词)$|"
    r"(?:工作)?(?:总结|表彰|部署|推进|动员|誓师|启动|推介|交流|观摩|暨)*(?:会议|大会|动员会|部署会|推进会|座谈会|调度会|现场会|"
    r"培训班|报告会|表彰会|开幕式|仪式|论坛|会)(?:上)?$"
)
_SCOPE = re.compile(r"^(?:全国|全省|全市|全县|全区|全镇|全乡|全街道|全系统|全行业|全局|全院|全校|全委|市|县|区|镇)")


# A document's subject in its title: "关于松溪县校园食品安全状况的调研报告" -> "松溪县校园食品安全状况".
_TITLE_SUBJECT = re.compile(r"关于(.{2,30}?)的(?:实施)?(?:调研报告|请示|报告|通知|意见|函|汇报|方案|纪要)$")
# An occasion that names who issues or sends, not what about ("县文化和旅游局、县教育局联合印发").
_NOT_A_SUBJECT = re.compile(
    r"印发|推荐|申请|部署$|^向|研究|常务会议|专题会议$|述职评议|^[^，]{0,12}(?:局|办|厅|委)[、，]"
)


def _subject(text: str) -> str:
    """``text`` without the meeting, the scope, the place, the year and the document words."""
    s = text.strip()
    for n in range(3):
        s = re.sub(r"^\d{4}年度?|\d{4}年度?$", "", s)
        for _ in range(3):
            s = _OCCASION_NOISE.sub("", s).strip()
        s = _SCOPE.sub("", s)
        if n == 0:  # the place once: "老旧小区" is no place
            s = re.sub(
                r"^[\u4e00-\u9fff]{1,6}?(?:省|市|县|(?<!小)区|镇|乡|街道)(?:人民政府)?(?=[\u4e00-\u9fff“\d]{2})", "", s
            )
        s = re.sub(r"^(?:关于|开展|推进|加强|做好)", "", s)
        s = re.sub(r"(?:工作)?(?:的)?(?:通知|请示|报告|意见|方案|函|纪要|汇报|情况|状况|述职)$", "", s)
        s = re.sub(r"(?:工作|专题|实施|活动)$", "", s)
    return s


def topic_of(title: str, occasion: str, request: str, key_points: list[str]) -> str:
    """The subject of a brief in a few words, for headings: "全县安全生产工作会议" -> "安全生产"."""
    subject = _TITLE_SUBJECT.search(title.strip())
    candidates = [subject.group(1) if subject else "", "" if _NOT_A_SUBJECT.search(occasion) else occasion, title]
    for source in candidates:
        s = _subject(source) if source else ""
        if 2 <= len(s) <= 16:
            return s
    m = re.search(r"(?:关于|围绕|就)([\u4e00-\u9fff“”]{2,24}?)(?:的|工作|写|起草|，)", request)
    if m:
        return m.group(1)
    m = re.search(r"在([\u4e00-\u9fff]{2,20}?)(?:工作)?(?:会议|大会|会)上", request)
    if m:
        return topic_of("", m.group(1) + "会议", "", [])
    if key_points:
        return key_points[0][:10]
    return "这项"
