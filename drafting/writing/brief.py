"""Stage 0: the brief. Load it from YAML, or read it out of the leader's pasted instruction."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from drafting.domain import GENRES, Brief, RevisionMode
from drafting.errors import BriefError
from drafting.writing.genres import default_title, detect_genre

__all__ = ["load_brief", "brief_from_request", "validate_brief", "mode_of"]

_LENGTH = re.compile(r"(\d{3,5})\s*字")
_SPEAKER = re.compile(r"(?:为|给|替|帮)([^，。,\s]{1,16}?)(?:同志)?(?:起草|撰写|写|准备|拟)")
_OCCASION = re.compile(r"(在[^，。,]{2,40}?(?:会议|大会|会|座谈会|仪式|典礼|培训班|论坛)上)")
# "讲清形势、重点任务和责任落实" -> three key points.
_POINTS = re.compile(r"(?:讲清|讲清楚|讲到|讲好|突出|重点讲|主要讲|包括|围绕|体现|要有|涵盖)([^。；;！!\n]{4,80})")


def _points_from(text: str) -> list[str]:
    points: list[str] = []
    for m in _POINTS.finditer(text):
        for p in re.split(r"[、，,和及以及]", m.group(1)):
            p = p.strip(" 等")
            if 2 <= len(p) <= 30 and not re.search(r"\d+\s*字", p):
                points.append(p)
    return points


# "写一份全镇秋季森林防火工作部署会的主持词": the meeting named before the genre.
_OCCASION_OF = re.compile(
    r"(?:写|起草|撰写|拟)一?[份篇个]?([^，。,、]{2,30}?(?:会议|大会|会|座谈会|开幕式|仪式|典礼|论坛))的?(?:主持词|讲话|致辞|欢迎辞|发言)"
)


def brief_from_request(request: str, **overrides: Any) -> Brief:
    """Read what can be read from a pasted instruction; the rest stays in ``request`` for the model."""
    text = request.strip()
    if not text:
        raise BriefError("任务为空：请粘贴领导的要求，或填写标题、场合和要点。")
    fields: dict[str, Any] = {"request": text}
    if m := _LENGTH.search(text):
        fields["length"] = max(100, min(30000, int(m.group(1))))
    if m := _SPEAKER.search(text):
        fields["speaker"] = m.group(1)
    if m := _OCCASION.search(text) or _OCCASION_OF.search(text):
        fields["occasion"] = m.group(1)
    fields["genre"], fields["genre_note"] = detect_genre(text)
    if fields.get("occasion"):
        fields["title"] = default_title(fields["genre"], fields["occasion"], "")
    if points := _points_from(text):
        fields["key_points"] = points
    fields.update({k: v for k, v in overrides.items() if v not in (None, "", [])})
    return validate_brief(fields)


def validate_brief(data: dict[str, Any] | Brief) -> Brief:
    try:
        brief = data if isinstance(data, Brief) else Brief.model_validate(_normalise(data))
    except ValidationError as exc:
        problems = "；".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise BriefError(f"任务书字段有误：{problems}") from exc
    if brief.is_empty():
        raise BriefError("任务为空：请至少填写标题、场合、要点之一，或粘贴领导的要求。")
    if brief.genre not in GENRES:
        raise BriefError(f"不支持的文种“{brief.genre}”，可选：{'、'.join(GENRES)}")
    return brief


def _normalise(data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    if isinstance(data.get("key_points"), str):
        data["key_points"] = [p.strip() for p in re.split(r"[\n；;]", data["key_points"]) if p.strip()]
    if isinstance(data.get("material"), str):
        data["material"] = [data["material"]]
    if isinstance(data.get("mode"), str):
        mode = data["mode"].strip()
        data["mode"] = {"急稿": "urgent", "慢稿": "slow"}.get(mode, mode)
    if isinstance(data.get("length"), str):
        digits = re.sub(r"\D", "", data["length"])
        data["length"] = int(digits) if digits else 1500
    for key in ("policy", "facts", "title", "occasion", "speaker", "audience", "request", "date"):
        if isinstance(data.get(key), list):
            data[key] = "\n".join(str(x) for x in data[key])
        elif data.get(key) is None:
            data.pop(key, None)
    return data


def load_brief(path: Path) -> Brief:
    """Load a brief from a YAML (or JSON) file."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BriefError(f"找不到任务书文件：{path}") from exc
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise BriefError(f"任务书文件格式错误：{path}（{exc}）") from exc
    if not isinstance(raw, dict):
        raise BriefError(f"任务书文件为空或不是键值格式：{path}")
    if set(raw) == {"request"} or (raw.get("request") and not raw.get("title")):
        extra = {k: v for k, v in raw.items() if k != "request"}
        return brief_from_request(str(raw["request"]), **extra)
    return validate_brief(raw)


def mode_of(value: str | RevisionMode) -> RevisionMode:
    if isinstance(value, RevisionMode):
        return value
    return RevisionMode({"急稿": "urgent", "慢稿": "slow"}.get(value, value))
