from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest

from drafting.config import Settings
from drafting.corpus import ingest as ingest_mod
from drafting.corpus.ingest import (
    BUNDLED_CORPUS,
    infer_metadata,
    ingest_bundled_corpus,
    ingest_paths,
    load_manifest,
    make_doc_id,
    read_document,
)
from drafting.corpus.store import IndexStore, open_store
from drafting.errors import IngestError

SPEECH = """在全县安全生产工作会议上的讲话
青山县县长 王某某

同志们：

今天，我们召开全县安全生产工作会议，安排部署今年重点任务。

一、清醒认识形势，绷紧安全生产这根弦

（一）成绩来之不易。去年，全县上下坚持人民至上、生命至上，安全生产形势总体平稳。

二、突出重点领域，坚决遏制事故发生

（一）紧盯道路交通安全。交警、交通运输部门要把“两客一危”车辆作为监管重点。
"""


def make_pdf(lines: list[str]) -> bytes:
    """A minimal PDF whose text layer holds ``lines`` (Type0 font, Identity-H, ToUnicode CMap)."""
    chars = sorted({c for line in lines for c in line})
    cid = {c: i + 1 for i, c in enumerate(chars)}
    bfchar = "\n".join(f"<{cid[c]:04X}> <{ord(c):04X}>" for c in chars)
    tounicode = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /X def "
        "1 begincodespacerange <0000> <FFFF> endcodespacerange "
        f"{len(chars)} beginbfchar\n{bfchar}\nendbfchar endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    ops = [
        "BT /F1 12 Tf 14 TL 50 780 Td",
        *("<" + "".join(f"{cid[c]:04X}" for c in line) + "> Tj T*" for line in lines),
        "ET",
    ]
    content = "\n".join(ops)
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type0 /BaseFont /X /Encoding /Identity-H /DescendantFonts [6 0 R] /ToUnicode 7 0 R >>",
        f"<< /Length {len(content.encode())} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /X "
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /DW 1000 >>",
        f"<< /Length {len(tounicode.encode())} >>\nstream\n{tounicode}\nendstream",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


@pytest.fixture
def store(settings: Settings, fake_embeddings) -> IndexStore:
    return open_store(settings, embeddings=fake_embeddings)


# -- readers ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16", "utf-16-le"])
def test_read_text_in_chinese_encodings(tmp_path: Path, encoding: str) -> None:
    f = tmp_path / "speech.txt"
    f.write_bytes(SPEECH.encode(encoding))
    text, hints = read_document(f)
    assert text.startswith("在全县安全生产工作会议上的讲话")
    assert "“两客一危”" in text
    assert "\ufeff" not in text
    assert hints == {}


def test_read_docx_headings_by_style_and_manual_numbering(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = "关于加强基层治理的实施意见"
    d.add_paragraph("关于加强基层治理的实施意见", style="Title")
    d.add_paragraph("总体要求", style="Heading 1")
    d.add_paragraph("坚持党建引领，推动治理重心下移。")
    d.add_paragraph("一、主要任务", style="Heading 1")
    d.add_paragraph("（一）健全网格体系。各乡镇要科学划分网格。")
    d.add_paragraph("完善机制", style="Heading 2")
    d.add_paragraph("建立问题收集、分办、反馈闭环。")
    f = tmp_path / "opinion.docx"
    d.save(str(f))
    text, hints = read_document(f)
    assert hints["title"] == "关于加强基层治理的实施意见"
    lines = text.splitlines()
    assert "# 总体要求" in lines  # styled heading without numbering keeps its level
    assert "一、主要任务" in lines  # manual numbering is left as it is
    assert "## 完善机制" in lines
    from drafting.corpus.chunking import chunk_document

    paths = [c.section_path for c in chunk_document(text, "x")]
    assert ["总体要求"] in paths
    assert ["一、主要任务", "（一）健全网格体系。"] in paths
    assert ["一、主要任务", "完善机制"] in paths


def test_read_pdf_text_layer(tmp_path: Path) -> None:
    f = tmp_path / "notice.pdf"
    f.write_bytes(make_pdf(["关于做好防汛工作的通知", "一、压实责任", "各乡镇要落实防汛责任制，确保安全度汛。"]))
    text, _ = read_document(f)
    assert "关于做好防汛工作的通知" in text
    assert "确保安全度汛。" in text


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "另存为 .docx"),
        ("scan.pdf", None, "没有文字层"),
        ("empty.txt", b"", "空"),
        ("binary.txt", bytes(range(256)) * 40, "不是文本"),
        ("random.docx", os.urandom(2048), "已损坏"),
        ("locked.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(2048), "密码"),
        ("image.png", b"\x89PNG\r\n", "不支持的文件格式"),
    ],
)
def test_unreadable_files_raise_ingest_error_in_chinese(
    tmp_path: Path, name: str, content: bytes | None, reason: str
) -> None:
    f = tmp_path / name
    f.write_bytes(make_pdf([]) if content is None else content)
    with pytest.raises(IngestError, match=reason):
        read_document(f)


def test_truncated_docx_is_reported_as_corrupt(tmp_path: Path) -> None:
    import docx

    d = docx.Document()
    d.add_paragraph("正文内容")
    good = tmp_path / "good.docx"
    d.save(str(good))
    bad = tmp_path / "bad.docx"
    bad.write_bytes(good.read_bytes()[:1500])
    with pytest.raises(IngestError, match="已损坏"):
        read_document(bad)
    # A valid zip that is not a Word document.
    with zipfile.ZipFile(tmp_path / "zip.docx", "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(IngestError, match="已损坏"):
        read_document(tmp_path / "zip.docx")


def test_size_cap(tmp_path: Path) -> None:
    f = tmp_path / "big.txt"
    f.write_text(SPEECH * 20, encoding="utf-8")
    with pytest.raises(IngestError, match="文件过大"):
        read_document(f, max_bytes=1000)
    assert read_document(f)[0]


# -- metadata ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("title", "genre"),
    [
        ("在全县安全生产工作会议上的讲话", "讲话稿"),
        ("青山县人民政府关于申请老旧小区改造补助资金的请示", "请示"),
        ("关于东岭镇基层治理工作的汇报", "汇报材料"),
        ("2025年青山县政府工作报告", "工作报告"),
        ("关于印发《青山县安全生产专项整治实施方案》的通知", "通知"),
        ("关于进一步加强基层减负工作的实施意见", "意见"),
        ("在全市教育系统经验交流会上的发言", "经验交流发言"),
        ("江川市应急管理局关于2025年上半年安全生产工作情况的报告", "报告"),
        ("县长办公会议纪要", "纪要"),
    ],
)
def test_genre_from_title(title: str, genre: str) -> None:
    assert infer_metadata(f"{title}\n\n正文。", {}, Path("x.txt")).genre == genre


def test_metadata_from_text() -> None:
    text = SPEECH + "\n\n青山县人民政府\n2025年6月3日\n"
    meta = infer_metadata(text, {}, Path("/tmp/a.txt"))
    assert meta.title == "在全县安全生产工作会议上的讲话"
    assert meta.speaker == "青山县县长 王某某"
    assert meta.occasion == "全县安全生产工作会议"
    assert meta.date == "2025-06-03"
    assert meta.issuing_body == "青山县人民政府"
    assert meta.doc_id == make_doc_id(Path("/tmp/a.txt").resolve().as_posix())
    dashed = infer_metadata("关于x的通知\n\n（2024-11-05）\n\n正文", {}, Path("b.txt"))
    assert dashed.date == "2024-11-05"
    cn = infer_metadata("关于x的通知\n\n正文\n\n二〇二三年十二月二十日", {}, Path("b.txt"))
    assert cn.date == "2023-12-20"


def test_hints_override_inference_and_id_key() -> None:
    hints = {"title": "T", "genre": "方案", "date": "2024-01-02", "tags": "安全、应急", "id": "corpus/docs/a.txt"}
    meta = infer_metadata(SPEECH, hints, Path("a.txt"))
    assert (meta.title, meta.genre, meta.date, meta.tags) == ("T", "方案", "2024-01-02", ["安全", "应急"])
    assert meta.doc_id == make_doc_id("corpus/docs/a.txt")


def test_load_manifest(tmp_path: Path) -> None:
    (tmp_path / "manifest-a.jsonl").write_text(
        json.dumps({"file": "docs/a.txt", "genre": "讲话稿"}, ensure_ascii=False) + "\n\n"
    )
    (tmp_path / "manifest-b.jsonl").write_text(json.dumps({"file": "docs/b.txt", "title": "B"}) + "\n")
    assert load_manifest(tmp_path) == {"docs/a.txt": {"genre": "讲话稿"}, "docs/b.txt": {"title": "B"}}
    (tmp_path / "manifest-c.jsonl").write_text("{not json\n")
    with pytest.raises(IngestError, match="manifest-c.jsonl 第 1 行"):
        load_manifest(tmp_path)


# -- ingest_paths -----------------------------------------------------------------------------------
def _write(folder: Path, name: str, text: str) -> Path:
    f = folder / name
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(text, encoding="utf-8")
    return f


def test_ingest_folder_reports_each_outcome(tmp_path: Path, store: IndexStore) -> None:
    src = tmp_path / "src"
    _write(src, "docs/a.txt", SPEECH)
    _write(src, "docs/sub/b.txt", "关于做好防汛工作的通知\n\n一、压实责任\n\n各乡镇要落实防汛责任制。")
    (src / "docs" / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    (src / "docs" / "empty.txt").write_bytes(b"")
    _write(src, "manifest.jsonl", json.dumps({"file": "docs/a.txt", "genre": "讲话稿", "tags": ["安全生产"]}))
    seen: list[tuple[int, int]] = []
    report = ingest_paths([src], store, manifest=load_manifest(src), on_progress=lambda i, n, _p: seen.append((i, n)))
    assert sorted(Path(p).name for p in report.added) == ["a.txt", "b.txt"]
    assert sorted((Path(p).name, "另存为 .docx" in r or "空" in r) for p, r in report.failed) == [
        ("empty.txt", True),
        ("old.doc", True),
    ]
    assert seen == [(i, 4) for i in range(1, 5)]
    assert report.chunks == store.stats()["chunks"] > 0
    a = next(d for d in store.documents() if d.source.endswith("a.txt"))
    assert a.tags == ["安全生产"]
    assert a.sha256 and a.speaker == "青山县县长 王某某"


def test_reingest_unchanged_changed_and_duplicate(tmp_path: Path, store: IndexStore) -> None:
    src = tmp_path / "src"
    a = _write(src, "a.txt", SPEECH)
    _write(src, "b.txt", "关于做好防汛工作的通知\n\n一、压实责任\n\n各乡镇要落实防汛责任制。")
    first = ingest_paths([src], store)
    assert len(first.added) == 2

    again = ingest_paths([src], store)
    assert len(again.unchanged) == 2 and not again.added and not again.replaced and again.chunks == 0

    doc_id = next(d.doc_id for d in store.documents() if d.source.endswith("a.txt"))
    old_ids = {p.chunk_id for p in store.get_chunks([f"{doc_id}:{i:04d}" for i in range(50)])}
    a.write_text(SPEECH.replace("两客一危", "校车客运") + "\n\n三、加强组织领导\n\n各级要落实责任。", encoding="utf-8")
    changed = ingest_paths([src], store)
    assert [Path(p).name for p in changed.replaced] == ["a.txt"]
    assert [Path(p).name for p in changed.unchanged] == ["b.txt"]
    texts = [p.text for p in store.get_chunks([f"{doc_id}:{i:04d}" for i in range(50)])]
    assert any("校车客运" in t for t in texts) and not any("两客一危" in t for t in texts)
    assert len(texts) == len(old_ids) + 1
    assert store.stats()["vectors"] == store.stats()["chunks"]  # old vectors are gone

    _write(src, "copy-of-a.txt", a.read_text(encoding="utf-8"))
    dup = ingest_paths([src], store)
    assert [Path(p).name for p, _ in dup.duplicates] == ["copy-of-a.txt"]
    assert store.stats()["documents"] == 2


def test_crash_mid_ingest_leaves_that_file_out_and_others_in(tmp_path: Path, store: IndexStore, monkeypatch) -> None:
    src = tmp_path / "src"
    for i in range(3):
        _write(src, f"f{i}.txt", f"第{i}号文件\n\n一、要求\n\n第{i}号文件的正文内容，要求各单位认真落实。")
    real_add = store._col.add

    def flaky_add(**kwargs):
        if any(ident.startswith(make_doc_id((src / "f1.txt").resolve().as_posix())) for ident in kwargs["ids"]):
            real_add(**{k: v[:1] for k, v in kwargs.items()})  # half-written before the crash
            raise RuntimeError("disk full")
        return real_add(**kwargs)

    monkeypatch.setattr(store._col, "add", flaky_add)
    report = ingest_paths([src], store)
    assert sorted(Path(p).name for p in report.added) == ["f0.txt", "f2.txt"]
    assert [Path(p).name for p, _ in report.failed] == ["f1.txt"]
    assert "写入向量索引失败" in report.failed[0][1]
    stats = store.stats()
    assert stats["documents"] == 2 and stats["vectors"] == stats["chunks"]
    assert all(not d.source.endswith("f1.txt") for d in store.documents())
    monkeypatch.setattr(store._col, "add", real_add)
    retry = ingest_paths([src], store)
    assert [Path(p).name for p in retry.added] == ["f1.txt"]


def test_thousand_small_files(tmp_path: Path, store: IndexStore) -> None:
    src = tmp_path / "many"
    for i in range(1000):
        _write(src, f"d{i // 100}/n{i:04d}.txt", f"第{i}号通知\n\n请各单位于{i % 28 + 1}日前报送第{i}号材料。")
    report = ingest_paths([src], store)
    assert len(report.added) == 1000 and not report.failed
    again = ingest_paths([src], store)
    assert len(again.unchanged) == 1000
    assert again.seconds < 5


def test_explicit_unsupported_file_and_missing_file(tmp_path: Path, store: IndexStore) -> None:
    (tmp_path / "x.xlsx").write_bytes(b"PK")
    report = ingest_paths([tmp_path / "x.xlsx", tmp_path / "missing.txt"], store)
    assert [r for _, r in report.failed] == [
        "不支持的文件格式 .xlsx，请使用 .docx、.txt、.md 或 .pdf",
        "文件不存在",
    ]


def test_size_cap_in_ingest(tmp_path: Path, store: IndexStore) -> None:
    f = _write(tmp_path, "big.txt", SPEECH)
    report = ingest_paths([f], store, max_bytes=100)
    assert "文件过大" in report.failed[0][1]


def test_bundled_corpus_has_stable_ids(tmp_path: Path, store: IndexStore) -> None:
    corpus = tmp_path / "corpus"
    _write(corpus, "docs/sa01.txt", SPEECH)
    _write(corpus, "manifest-sa.jsonl", json.dumps({"file": "docs/sa01.txt", "date": "2025-02-20"}))
    report = ingest_bundled_corpus(store, corpus)
    assert len(report.added) == 1
    (doc,) = store.documents()
    assert doc.doc_id == make_doc_id("corpus/docs/sa01.txt")
    assert doc.date == "2025-02-20"
    assert Path(ingest_mod.__file__).resolve().parents[2] / "corpus" == BUNDLED_CORPUS  # the checkout's corpus/
