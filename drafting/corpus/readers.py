"""Readers: turn .docx, .txt/.md (any common Chinese encoding) and text-layer .pdf into plain text.

Each bad file raises IngestError with a Chinese reason the writer can act on.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

from drafting.config import get_settings
from drafting.corpus.chunking import detect_heading
from drafting.domain import count_chars
from drafting.errors import IngestError
from drafting.textclean import xml_safe

__all__ = ["read_document", "check_docx_expansion", "MAX_FILE_BYTES", "SUPPORTED_SUFFIXES"]

MAX_FILE_BYTES = 50 * 1024 * 1024
SUPPORTED_SUFFIXES = frozenset({".docx", ".txt", ".md", ".pdf"})
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCODINGS = ["utf_8", "gb18030", "utf_16", "utf_16_le", "utf_16_be", "big5"]
_HEADING_STYLE = re.compile(r"^(heading|标题)\s*(\d)$", re.IGNORECASE)


def _decode_text(data: bytes) -> str:
    for bom, enc in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return data.decode(enc, errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=_ENCODINGS).best()
    if best is None:
        raise IngestError(
            "无法识别文件编码，文件内容不是文本（可能是改了扩展名的二进制文件），请另存为 UTF-8 文本或 .docx 再导入"
        )
    return str(best)


def _check_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u3000", " ")
    control = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\t")
    if control > max(3, len(text) // 100) or "\ufffd" * 3 in text:
        raise IngestError("文件内容不是文本（可能是改了扩展名的二进制文件），请另存为 UTF-8 文本或 .docx 再导入")
    # A few stray NULs or control characters are dropped: they cannot go into a .docx later.
    return xml_safe(text)


def _check_length(length: int) -> None:
    limit = get_settings().max_text_chars
    if length > limit:
        raise IngestError(
            f"文件文字过多（{length:,} 字符，上限 {limit:,}，设置项 DRAFTING_MAX_TEXT_CHARS），请拆分后再导入"
        )


def check_docx_expansion(path: Path) -> None:
    """Refuse a .docx whose members would inflate beyond the limit, before any XML is parsed.

    The declared sizes bound what zipfile will inflate (it stops at a member's declared size),
    so a 2 MB file that would expand to 600 MB of XML is refused here in milliseconds.
    """
    limit = int(get_settings().max_unzipped_mb * 1024 * 1024)
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise IngestError(
            f"文件已损坏或不是有效的 .docx 文档（{type(exc).__name__}），请用 Word/WPS 打开后重新另存为 .docx"
        ) from exc
    if len(members) > 10_000:
        raise IngestError(f".docx 内部文件过多（{len(members)} 个），不像正常的文档，已拒绝导入")
    total = sum(max(0, m.file_size) for m in members)
    xml = sum(max(0, m.file_size) for m in members if m.filename.lower().endswith((".xml", ".rels")))
    xml_limit = int(get_settings().max_docx_xml_mb * 1024 * 1024)
    for size, cap, name in ((total, limit, "DRAFTING_MAX_UNZIPPED_MB"), (xml, xml_limit, "DRAFTING_MAX_DOCX_XML_MB")):
        if size > cap:
            what = "解压后" if name.endswith("UNZIPPED_MB") else "解压后的正文 XML"
            raise IngestError(
                f".docx {what}过大（约 {size / 1e6:.0f} MB，上限 {cap / 1e6:.0f} MB，设置项 {name}），"
                "可能是异常文件；请用 Word/WPS 打开后另存，或拆分后再导入"
            )


def _read_docx(path: Path, data: bytes) -> tuple[str, dict[str, Any]]:
    if data.startswith(_OLE_MAGIC):
        raise IngestError("文件设有打开密码（已加密），或实为旧版 .doc 格式：请取消密码或另存为 .docx 再导入")
    if not data.startswith(b"PK"):
        raise IngestError("文件已损坏或不是有效的 .docx 文档，请用 Word/WPS 打开后重新另存为 .docx")
    check_docx_expansion(path)
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError, OSError, Exception) as exc:  # zipfile.BadZipFile et al.
        raise IngestError(
            f"文件已损坏或不是有效的 .docx 文档（{type(exc).__name__}），请用 Word/WPS 打开后重新另存为 .docx"
        ) from exc
    hints: dict[str, Any] = {}
    core_title = (document.core_properties.title or "").strip()
    if core_title and core_title.lower() not in {"untitled", "无标题", "document", "文档"}:
        hints["title"] = core_title
    lines: list[str] = []
    style_of = _paragraph_style_names(document)
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = style_of(para._p.style)
        if style.lower() == "title" or style == "标题":
            hints.setdefault("title", text)
        elif (m := _HEADING_STYLE.match(style)) and detect_heading(text) is None:
            # A styled heading without manual numbering: keep its level as a Markdown heading.
            text = "#" * min(int(m.group(2)), 4) + " " + text
        lines.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            if cells:
                lines.append("\t".join(dict.fromkeys(cells)))
    return "\n\n".join(lines), hints


def _paragraph_style_names(document: Any) -> Any:
    """style id -> style name, looked up once per document.

    ``Paragraph.style`` scans every style in Python for each paragraph without an explicit style
    (about 2 ms each): 300,000 paragraphs took over 10 minutes. A dict makes it linear.
    """
    from docx.enum.style import WD_STYLE_TYPE

    names: dict[str, str] = {}
    for st in document.styles:
        if st.type == WD_STYLE_TYPE.PARAGRAPH and st.style_id:
            names[st.style_id] = st.name or ""
    default = document.styles.default(WD_STYLE_TYPE.PARAGRAPH)
    default_name = (default.name or "") if default is not None else ""

    def style_of(style_id: str | None) -> str:
        return names.get(style_id, default_name) if style_id else default_name

    return style_of


def _read_pdf(path: Path) -> tuple[str, dict[str, Any]]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    settings = get_settings()
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError("PDF 设有打开密码，请先取消密码再导入")
        if len(reader.pages) > settings.max_pdf_pages:
            raise IngestError(
                f"PDF 页数过多（{len(reader.pages)} 页，上限 {settings.max_pdf_pages}，设置项 DRAFTING_MAX_PDF_PAGES），请拆分后再导入"
            )
        pages: list[str] = []
        chars = 0
        for page in reader.pages:
            pages.append(page.extract_text() or "")
            chars += len(pages[-1])
            _check_length(chars)  # stop reading pages as soon as the text is too long
    except IngestError:
        raise
    except (PdfReadError, Exception) as exc:
        raise IngestError(f"PDF 文件已损坏，无法读取（{type(exc).__name__}）") from exc
    text = "\n".join(pages)
    if count_chars(text) + sum(ch.isalnum() for ch in text) < 10 * max(1, len(pages)) // 2:
        raise IngestError("PDF 没有文字层（可能是扫描件），请先做文字识别（OCR）或另存为 .docx 再导入")
    hints: dict[str, Any] = {}
    title = str(reader.metadata.get("/Title") or "").strip() if reader.metadata else ""
    if title:
        hints["title"] = title
    return text, hints


def read_document(path: Path, *, max_bytes: int | None = None) -> tuple[str, dict[str, Any]]:
    """Text (paragraphs on their own lines, headings as their own lines) and metadata hints.

    Every limit (file size, a .docx's inflated size, PDF pages, text length) is checked before or
    while parsing, so one hostile file cannot hold up a folder; the text is XML-safe.
    """
    path = Path(path)
    if max_bytes is None:
        max_bytes = int(get_settings().max_file_mb * 1024 * 1024)
    suffix = path.suffix.lower()
    if suffix == ".doc":
        raise IngestError("不支持旧版 Word（.doc）格式，请先另存为 .docx 再导入")
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(f"不支持的文件格式 {suffix or '（无扩展名）'}，请使用 .docx、.txt、.md 或 .pdf")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise IngestError(f"文件过大（{size / 1e6:.1f} MB，上限 {max_bytes / 1e6:.0f} MB），请拆分后再导入")
        if size == 0:
            raise IngestError("文件是空的（0 字节）")
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"无法读取文件：{exc.strerror or exc}") from exc
    if suffix == ".docx":
        text, hints = _read_docx(path, data)
    elif suffix == ".pdf":
        text, hints = _read_pdf(path)
    else:
        text, hints = _decode_text(data), {}
    _check_length(len(text))
    hints = {k: xml_safe(v) if isinstance(v, str) else v for k, v in hints.items()}
    text = _check_text(text).strip()
    if not text:
        raise IngestError("文件中没有文字内容")
    return text, hints
