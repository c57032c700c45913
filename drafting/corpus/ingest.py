"""Bring model documents into the 范文库: read files, infer metadata, chunk, and index them.

Document ids: ``doc_id = "d" + sha256(key)[:16]`` where ``key`` is the manifest's ``id`` when one
is given, else the file's resolved absolute path (POSIX, NFC-normalised). The same file therefore
keeps its id when its content changes (its chunks are replaced), and the bundled corpus uses
``corpus/<relative path>`` as its key so its ids are the same on every machine.

Re-ingesting is cheap: a file whose sha256 equals what the store recorded for its path is skipped
without parsing or embedding; content already stored under another (still existing) path is
not stored twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from drafting import resources
from drafting.classified import check_text
from drafting.cnnum import CN_DIGITS, cn_numeral_value
from drafting.config import get_settings
from drafting.corpus.chunking import chunk_document
from drafting.corpus.readers import MAX_FILE_BYTES, SUPPORTED_SUFFIXES, read_document
from drafting.corpus.store import Store
from drafting.domain import GENRES, Chunk, DocumentMeta
from drafting.errors import ClassifiedError, IngestError

__all__ = [
    "IngestReport",
    "read_document",
    "infer_metadata",
    "ingest_paths",
    "load_manifest",
    "ingest_bundled_corpus",
    "make_doc_id",
    "MAX_FILE_BYTES",
    "SUPPORTED_SUFFIXES",
    "BUNDLED_CORPUS",
]

log = logging.getLogger(__name__)

BUNDLED_CORPUS = resources.CORPUS_DIR
_META_KEYS = ("title", "genre", "date", "issuing_body", "speaker", "occasion", "tags")

# (pattern, genre): the genre whose keyword ends last in the title wins
# ("关于印发《……实施方案》的通知" is a 通知, not a 方案).
_GENRE_PATTERNS: dict[str, str] = {
    r"(经验交流|典型|表态|交流)(发言|材料)|经验交流[^，。]{0,12}?上的(发言|讲话)": "经验交流发言",
    r"政府工作报告|工作报告": "工作报告",
    r"上的(讲话|致辞|发言|主持词|总结讲话|动员讲话)|讲话(稿|提纲)?$|致辞$": "讲话稿",
    r"请示": "请示",
    r"汇报(材料|提纲)?": "汇报材料",
    r"的报告$|报告$": "报告",
    r"通知|通报": "通知",
    r"(指导)?意见": "意见",
    r"(复|公)?函$|的函": "函",
    r"纪要": "纪要",
    r"方案": "方案",
    r"总结": "总结",
}
_GENRE_RULES = tuple((re.compile(pattern), genre) for pattern, genre in _GENRE_PATTERNS.items())
_DATE_AR = re.compile(r"((?:19|20)\d\d)\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日|[-./](\d{1,2})[-./](\d{1,2})(?!\d))")
_DATE_CN = re.compile(
    r"([〇零○O一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月([一二三四五六七八九十]{1,3})日"
)
_YEAR_ONLY = re.compile(r"((?:19|20)\d\d)\s*年")
# The last word of an issuing body's name, and the titles a speaker line names.
_ORG_ENDINGS = [
    "人民政府",
    "人民代表大会常务委员会",
    "委员会",
    "办公厅",
    "办公室",
    "人民政府办公室",
    "国务院",
    "党委",
    "党组",
    "县委",
    "市委",
    "省委",
    "区委",
    "政府",
    "局",
    "厅",
    "部",
    "委",
    "院",
    "署",
    "中心",
    "协会",
    "公司",
    "集团",
    "工会",
    "团委",
    "妇联",
    "党总支",
    "党支部",
    "学校",
    "中学",
    "小学",
    "大学",
    "街道办事处",
]
_SPEAKER_TITLES = [
    "书记",
    "县长",
    "市长",
    "省长",
    "区长",
    "镇长",
    "乡长",
    "主任",
    "局长",
    "部长",
    "厅长",
    "主席",
    "总理",
    "院长",
    "校长",
    "经理",
    "董事长",
    "秘书长",
    "委员",
    "负责人",
    "处长",
    "科长",
    "队长",
    "组长",
    "代表",
]
_ORG = re.compile(r"^(中共)?[\u4e00-\u9fff（）()]{2,30}?(" + "|".join(_ORG_ENDINGS) + ")$")
_SPEAKER = re.compile(
    r"^[（(]?\s*([\u4e00-\u9fff、，]{2,40}?(" + "|".join(_SPEAKER_TITLES) + r"))\s+([\u4e00-\u9fff·]{2,5})\s*[）)]?$"
)
_OCCASION = re.compile(r"在(.{2,40}?)上的(讲话|致辞|发言|主持词|总结讲话|动员讲话)")


class IngestReport(BaseModel):
    """What one ingest run did. Paths are as given (absolute for walked folders)."""

    added: list[str] = Field(default_factory=list)
    replaced: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    # (path, path of the already stored file with identical content)
    duplicates: list[tuple[str, str]] = Field(default_factory=list)
    failed: list[tuple[str, str]] = Field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    @property
    def summary(self) -> str:
        return (
            f"新增 {len(self.added)} 篇，更新 {len(self.replaced)} 篇，未变 {len(self.unchanged)} 篇，"
            f"重复 {len(self.duplicates)} 篇，失败 {len(self.failed)} 篇，共 {self.chunks} 个片段，用时 {self.seconds:.1f} 秒"
        )


def make_doc_id(key: str) -> str:
    norm = unicodedata.normalize("NFC", key.strip().replace("\\", "/"))
    return "d" + hashlib.sha256(norm.encode("utf-8")).hexdigest()[:16]


def _first_lines(text: str, n: int) -> list[str]:
    out: list[str] = []
    for line in text.splitlines():
        if line.strip():
            out.append(line.strip())
            if len(out) == n:
                break
    return out


def _genre_of(text: str) -> str:
    best, best_end = "", -1
    for pattern, genre in _GENRE_RULES:
        for m in pattern.finditer(text):
            if m.end() > best_end or (m.end() == best_end and genre != best and best == "报告"):
                best, best_end = genre, m.end()
    return best if best in GENRES else ""


def _cn_number(s: str) -> int:
    return cn_numeral_value(s) or 0


def _find_date(s: str) -> str:
    m = _DATE_AR.search(s)
    if m:
        y, mo, d = m.group(1), m.group(2) or m.group(4), m.group(3) or m.group(5)
        if 1 <= int(mo) <= 12 and 1 <= int(d) <= 31:
            return f"{y}-{int(mo):02d}-{int(d):02d}"
    m = _DATE_CN.search(s)
    if m:
        y = "".join(str(CN_DIGITS.get(c, 0)) for c in m.group(1))
        mo, d = _cn_number(m.group(2)), _cn_number(m.group(3))
        if 1 <= mo <= 12 and 1 <= d <= 31:
            return f"{y}-{mo:02d}-{d:02d}"
    return ""


def _infer_date(title: str, lines: list[str]) -> str:
    # A line that is only a date (signature or "（2025年3月5日）" under the title) is the document's date.
    for line in lines[:6] + lines[-6:]:
        if len(line) <= 24:
            found = _find_date(line)
            if found:
                return found
    for s in [title, *lines[:3]]:
        found = _find_date(s)
        if found:
            return found
    m = _YEAR_ONLY.search(title)
    return m.group(1) if m else ""


def _infer_body(title: str, lines: list[str]) -> str:
    # The signature block: organisation lines just above the closing date.
    tail = [line for line in lines[-5:] if len(line) <= 30 and _ORG.match(line)]
    if tail:
        return " ".join(tail)
    m = re.match(r"^(.+?)(关于|政府工作报告|工作报告)", title)
    if m:
        orgs = m.group(1).split()
        if orgs and all(_ORG.match(o) for o in orgs):
            return " ".join(orgs)
    for line in lines[1:4]:
        if len(line) <= 30 and _ORG.match(line):
            return line
    return ""


def infer_metadata(text: str, hints: dict[str, Any], path: Path) -> DocumentMeta:
    """Metadata from explicit hints (manifest, file properties) first, then from the text itself."""
    lines = _first_lines(text, 10_000)
    title = str(hints.get("title") or (lines[0] if lines and len(lines[0]) <= 80 else "") or path.stem).strip()
    head = "\n".join(lines[:4])
    genre = str(hints.get("genre") or _genre_of(title) or _genre_of(head))
    speaker = str(hints.get("speaker") or "")
    if not speaker:
        for line in lines[1:4]:
            m = _SPEAKER.match(line)
            if m:
                speaker = f"{m.group(1)} {m.group(3)}"
                break
    occasion = str(hints.get("occasion") or "")
    if not occasion and (m := _OCCASION.search(title)):
        occasion = m.group(1)
    tags = hints.get("tags") or []
    if isinstance(tags, str):
        tags = [t for t in re.split(r"[,，、;；\s]+", tags) if t]
    key = str(hints.get("id") or path.resolve().as_posix())
    return DocumentMeta(
        doc_id=make_doc_id(key),
        title=title,
        genre=genre,
        date=str(hints.get("date") or _infer_date(title, lines)),
        issuing_body=str(hints.get("issuing_body") or _infer_body(title, lines)),
        speaker=speaker,
        occasion=occasion,
        tags=[str(t) for t in tags],
        source=str(hints.get("source") or path.resolve().as_posix()),
        sha256=str(hints.get("sha256") or ""),
    )


def load_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """Every ``manifest*.jsonl`` in ``folder``: relative file path -> metadata overrides."""
    out: dict[str, dict[str, Any]] = {}
    for mf in sorted(folder.glob("manifest*.jsonl")):
        for n, line in enumerate(mf.read_text(encoding="utf-8-sig").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as exc:
                raise IngestError(f"清单文件 {mf.name} 第 {n} 行不是有效的 JSON：{exc.msg}") from exc
            if not isinstance(entry, dict) or not entry.get("file"):
                raise IngestError(f"清单文件 {mf.name} 第 {n} 行缺少 file 字段")
            out[str(entry.pop("file")).replace("\\", "/")] = entry
    return out


def _is_skipped(p: Path) -> bool:
    name = p.name
    return (
        name.startswith((".", "~$"))
        or (name.startswith("manifest") and name.endswith(".jsonl"))
        or name.upper().startswith("README")
    )


def _walk(paths: list[Path]) -> Iterator[tuple[Path, str, bool]]:
    """(file, path relative to the folder given, explicitly named) for every candidate file."""
    for root in paths:
        if root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    f = Path(dirpath) / name
                    if not _is_skipped(f) and f.suffix.lower() in SUPPORTED_SUFFIXES | {".doc"}:
                        yield f, f.relative_to(root).as_posix(), False
        else:
            yield root, root.name, True


def ingest_paths(
    paths: list[Path],
    store: Store,
    *,
    manifest: dict[str, dict[str, Any]] | None = None,
    on_progress: Callable[[int, int, str], None] | None = None,
    max_bytes: int | None = None,
    batch_docs: int = 32,
    batch_chunks: int = 128,
) -> IngestReport:
    """Ingest files and folders (recursively). One failing file never stops the others.

    Documents are written in small batches (one embedding call, one chroma write); a batch that
    fails is retried document by document, so only the broken one ends up in ``failed``.
    """
    started = time.perf_counter()
    report = IngestReport()
    manifest = manifest or {}
    settings = get_settings()
    if max_bytes is None:
        max_bytes = int(settings.max_file_mb * 1024 * 1024)
    from drafting.secrets import effective_settings

    endpoint = effective_settings(settings)
    files = list(_walk([Path(p) for p in paths]))
    known = store.known_sources()
    by_sha: dict[str, str] = {sha: src for src, sha in known.items()}
    pending: list[tuple[str, str, str, DocumentMeta, list[Chunk], bool]] = []

    def flush() -> None:
        """Write the queued documents together; on failure retry one by one to isolate the bad one."""
        if not pending:
            return
        batch = list(pending)
        pending.clear()
        add_many = getattr(store, "add_many", None)
        try:
            if add_many is None or len(batch) == 1:
                raise IngestError("")
            add_many([(meta, chunks) for _, _, _, meta, chunks, _ in batch])
            done = batch
        except Exception:  # noqa: BLE001 - fall back to one document at a time
            done = []
            for item in batch:
                shown, source, sha, meta, chunks, _ = item
                try:
                    store.add(meta, chunks)
                    done.append(item)
                except Exception as exc:  # noqa: BLE001
                    log.info("ingest failed for %s: %s", shown, exc)
                    report.failed.append((shown, str(exc) if isinstance(exc, IngestError) else f"导入时出错：{exc}"))
                    known.pop(source, None)
                    if by_sha.get(sha) == source:
                        del by_sha[sha]
        for shown, _, _, _, chunks, replacing in done:
            (report.replaced if replacing else report.added).append(shown)
            report.chunks += len(chunks)

    for i, (f, rel, explicit) in enumerate(files, start=1):
        shown = str(f)
        if on_progress:
            on_progress(i, len(files), shown)
        try:
            if not f.exists():
                raise IngestError("文件不存在")
            if explicit and f.suffix.lower() not in SUPPORTED_SUFFIXES | {".doc"}:
                raise IngestError(f"不支持的文件格式 {f.suffix or '（无扩展名）'}，请使用 .docx、.txt、.md 或 .pdf")
            source = f.resolve().as_posix()
            size = f.stat().st_size
            if size > max_bytes:
                raise IngestError(f"文件过大（{size / 1e6:.1f} MB，上限 {max_bytes / 1e6:.0f} MB）")
            sha = hashlib.sha256(f.read_bytes()).hexdigest()
            if known.get(source) == sha:
                report.unchanged.append(shown)
                continue
            other = by_sha.get(sha)
            if other and other != source and Path(other).exists():
                report.duplicates.append((shown, other))
                continue
            text, hints = read_document(f, max_bytes=max_bytes)
            # 密级 markings: 绝密/机密/秘密 never; 内部/工作秘密/敏感 only while the endpoint is trusted.
            check_text(text, f"{f.name} ", endpoint)
            overrides = manifest.get(rel) or manifest.get(f.name) or {}
            hints = {**hints, **{k: v for k, v in overrides.items() if k in (*_META_KEYS, "id") and v}}
            meta = infer_metadata(text, {**hints, "source": source, "sha256": sha}, f)
            chunks = chunk_document(text, meta.doc_id)
            if not chunks:
                raise IngestError("文件中没有可用的正文")
            if len(chunks) > settings.max_chunks:
                raise IngestError(
                    f"文件切分后片段过多（{len(chunks)} 个，上限 {settings.max_chunks}，设置项 DRAFTING_MAX_CHUNKS），请拆分后再导入"
                )
            replacing = store.get_document(meta.doc_id) is not None or any(p[3].doc_id == meta.doc_id for p in pending)
            if replacing:
                flush()  # the earlier version must be written before it is replaced
            if other and other != source:  # same content moved here from a path that is gone
                for doc_id in [d.doc_id for d in store.documents() if d.source == other]:
                    store.delete(doc_id)
        except (IngestError, ClassifiedError) as exc:
            log.info("ingest failed for %s: %s", shown, exc)
            report.failed.append((shown, str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001 - a broken file must not stop the folder
            log.warning("unexpected error ingesting %s", shown, exc_info=True)
            report.failed.append((shown, f"导入时出错：{type(exc).__name__}: {exc}"))
            continue
        known[source] = sha
        by_sha[sha] = source
        pending.append((shown, source, sha, meta, chunks, replacing))
        if len(pending) >= batch_docs or sum(len(p[4]) for p in pending) >= batch_chunks:
            flush()
    flush()
    report.seconds = round(time.perf_counter() - started, 3)
    log.info("ingest: %s", report.summary)
    return report


def ingest_bundled_corpus(store: Store, corpus_dir: Path | None = None) -> IngestReport:
    """Ingest the model documents shipped with the project (``corpus/`` and its manifests)."""
    folder = corpus_dir or BUNDLED_CORPUS
    if not folder.is_dir():
        raise IngestError(f"找不到自带范文库目录：{folder}")
    manifest = load_manifest(folder)
    files = [rel for _, rel, _ in _walk([folder])]
    for rel in files:
        entry = manifest.setdefault(rel, {})
        entry.setdefault("id", f"corpus/{rel}")
    return ingest_paths([folder], store, manifest=manifest)
