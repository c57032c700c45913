from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from drafting.config import Settings
from drafting.corpus.chunking import chunk_document
from drafting.corpus.store import IndexStore, Store, open_store
from drafting.domain import DocumentMeta
from drafting.errors import IngestError, RetrievalError

TEXT = """关于做好防汛工作的通知

一、压实防汛责任

各乡镇要落实以行政首长负责制为核心的防汛责任制，确保责任到人。

二、加强隐患排查

对水库、堤防、山洪灾害危险区开展拉网式排查，发现问题立即整改。
"""


def _doc(doc_id: str = "d1", text: str = TEXT, **kw) -> tuple[DocumentMeta, list]:
    meta = DocumentMeta(
        doc_id=doc_id, title=text.splitlines()[0], sha256=kw.pop("sha256", "aa" * 32), source=f"/x/{doc_id}.txt", **kw
    )
    return meta, chunk_document(text, doc_id)


@pytest.fixture
def store(settings: Settings, fake_embeddings) -> IndexStore:
    return open_store(settings, embeddings=fake_embeddings)


def test_store_satisfies_protocol_and_roundtrips(store: IndexStore, settings: Settings) -> None:
    assert isinstance(store, Store)
    meta, chunks = _doc(genre="通知", date="2025-06-03", issuing_body="青山县人民政府")
    store.add(meta, chunks)
    assert store.get_document("d1") == meta
    assert store.documents() == [meta]
    passages = store.get_chunks([c.chunk_id for c in chunks][::-1])
    assert [p.chunk_id for p in passages] == [c.chunk_id for c in chunks][::-1]
    assert passages[-1].title == "关于做好防汛工作的通知" and passages[-1].genre == "通知"
    assert store.stats() == {"documents": 1, "chunks": len(chunks), "by_genre": {"通知": 1}, "vectors": len(chunks)}
    assert store.known_sources() == {"/x/d1.txt": "aa" * 32}
    assert (settings.index_dir / "keyword.sqlite3").exists() and (settings.index_dir / "chroma").is_dir()


def test_search_dense_and_keyword_return_chunk_ids(store: IndexStore) -> None:
    store.add(*_doc())
    dense = store.search_dense("山洪灾害危险区拉网式排查", 2)
    kw = store.search_keyword("山洪灾害 排查", 2)
    assert dense[0][0] == kw[0][0] == "d1:0002"
    assert dense[0][1] >= dense[-1][1]
    assert store.search_keyword("的 了", 5) == []  # only stopwords


def test_filters_in_both_indexes(store: IndexStore) -> None:
    store.add(*_doc("a", genre="通知", date="2024-05-01", issuing_body="甲县人民政府"))
    store.add(*_doc("b", genre="讲话稿", date="2025-05-01", issuing_body="乙县人民政府", sha256="bb" * 32))
    for search in (store.search_dense, store.search_keyword):
        assert {cid.split(":")[0] for cid, _ in search("防汛责任", 10, {"genre": "讲话稿"})} == {"b"}
        assert {cid.split(":")[0] for cid, _ in search("防汛责任", 10, {"year": 2024})} == {"a"}
        assert {
            cid.split(":")[0] for cid, _ in search("防汛责任", 10, {"issuing_body": "甲县人民政府", "year": 2024})
        } == {"a"}
        assert search("防汛责任", 10, {"genre": "请示"}) == []
    with pytest.raises(RetrievalError):
        store.search_keyword("防汛", 3, {"colour": "red"})


def test_delete_removes_from_both(store: IndexStore) -> None:
    store.add(*_doc())
    store.delete("d1")
    assert store.stats()["chunks"] == 0 and store.stats()["vectors"] == 0
    assert store.search_keyword("防汛", 5) == [] and store.search_dense("防汛", 5) == []
    assert store.get_document("d1") is None


def test_chroma_failure_leaves_nothing_of_a_new_document(store: IndexStore, monkeypatch) -> None:
    real = store._col.add

    def half_then_crash(**kw):
        real(**{k: v[:1] for k, v in kw.items()})
        raise RuntimeError("boom")

    monkeypatch.setattr(store._col, "add", half_then_crash)
    with pytest.raises(IngestError, match="写入向量索引失败"):
        store.add(*_doc())
    assert store.stats() == {"documents": 0, "chunks": 0, "by_genre": {}, "vectors": 0}


def test_sqlite_failure_removes_vectors_and_keeps_old_version(store: IndexStore, monkeypatch) -> None:
    store.add(*_doc())
    before = store.get_chunks([f"d1:{i:04d}" for i in range(5)])
    from drafting.corpus import keyword

    def broken(*_a, **_k):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(keyword.KeywordIndex, "write_document", staticmethod(broken))
    with pytest.raises(IngestError, match="写入关键词索引失败"):
        store.add(*_doc(text=TEXT.replace("拉网式", "地毯式"), sha256="cc" * 32))
    assert store.get_chunks([f"d1:{i:04d}" for i in range(5)]) == before
    assert store.stats()["vectors"] == store.stats()["chunks"] == len(before)
    assert store.search_dense("地毯式排查", 1)[0][0] == "d1:0002"


def test_replace_swaps_vectors(store: IndexStore) -> None:
    store.add(*_doc())
    store.add(*_doc(text=TEXT.replace("拉网式", "地毯式"), sha256="cc" * 32))
    assert store.stats()["vectors"] == store.stats()["chunks"] == 3
    assert "地毯式" in store.get_chunks(["d1:0002"])[0].text
    store.add(*_doc(text=TEXT.replace("拉网式", "地毯式"), sha256="cc" * 32))  # same content again
    assert store.stats()["vectors"] == 3


def test_index_persists_across_reopen(settings: Settings, fake_embeddings) -> None:
    first = open_store(settings, embeddings=fake_embeddings)
    first.add(*_doc())
    first.close()
    again = open_store(settings, embeddings=fake_embeddings)
    assert again.search_keyword("隐患排查", 1)[0][0] == "d1:0002"
    assert again.search_dense("隐患排查", 1)[0][0].startswith("d1:")
    assert again.stats()["documents"] == 1


def test_collection_name_must_be_ascii(settings: Settings, fake_embeddings) -> None:
    with pytest.raises(RetrievalError, match="集合名"):
        open_store(settings.replace(collection="范文库"), embeddings=fake_embeddings)


def test_default_embedding_function_never_loads(settings: Settings, fake_embeddings, monkeypatch) -> None:
    import chromadb.utils.embedding_functions as efs

    def forbidden(*_a, **_k):
        raise AssertionError("chroma's default embedding function was used")

    monkeypatch.setattr(efs.DefaultEmbeddingFunction, "__call__", forbidden)
    store = open_store(settings, embeddings=fake_embeddings)
    store.add(*_doc())
    assert store.search_dense("防汛", 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# chromadb installs the ``chroma`` command beside the interpreter (the venv's bin/).
CHROMA_CLI = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")


@pytest.mark.e2e
@pytest.mark.skipif(CHROMA_CLI is None, reason="chroma CLI not installed")
def test_http_client_backend(tmp_path: Path, settings: Settings, fake_embeddings) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [str(CHROMA_CLI), "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        remote = settings.replace(chroma_host="127.0.0.1", chroma_port=port)
        deadline = time.monotonic() + 20
        while True:
            try:
                store = open_store(remote, embeddings=fake_embeddings)
                break
            except RetrievalError:
                if time.monotonic() > deadline:
                    pytest.fail("chroma server did not start")
                time.sleep(0.3)
        store.add(*_doc())
        assert store.search_dense("山洪灾害危险区", 1)[0][0] == "d1:0002"
        assert not (settings.index_dir / "chroma").exists()  # vectors went to the server
        assert store.stats()["vectors"] == 3
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_embed_text_keeps_heading_and_whole_sentences() -> None:
    from drafting.corpus.keyword import embed_text, index_text
    from drafting.domain import Chunk

    body = "第一句讲清目标任务。" + "第二句展开具体措施，明确责任单位和完成时限。" * 4
    chunk = Chunk(chunk_id="c", doc_id="d", section_path=["一、总体要求"], text=body, ordinal=0)
    assert embed_text(chunk, 0) == index_text(chunk) == "一、总体要求\n" + body
    cut = embed_text(chunk, 40)
    assert cut.startswith("一、总体要求\n第一句讲清目标任务。") and cut.endswith("。")
    assert len(cut) <= len("一、总体要求\n") + 40
    no_stop = Chunk(chunk_id="c", doc_id="d", section_path=[], text="甲" * 100, ordinal=0)
    assert embed_text(no_stop, 30) == "甲" * 30  # no sentence end in reach: a hard cut


def test_store_embeds_the_opening_but_keyword_indexes_everything(settings: Settings, fake_embeddings) -> None:
    seen: list[str] = []

    class Recording(type(fake_embeddings)):  # type: ignore[misc]
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            seen.extend(texts)
            return super().embed_documents(texts)

    tail = "河道清障工作由水利部门牵头，月底前完成。"
    text = TEXT.replace("确保责任到人。", "确保责任到人。" + "汛期实行二十四小时值班。" * 3 + tail)
    store = open_store(replace(settings, embed_chars=30), embeddings=Recording())
    meta, chunks = _doc(text=text)
    store.add(meta, chunks)
    assert seen and all(tail not in t for t in seen)
    assert any("压实防汛责任" in t for t in seen)  # the heading path is always embedded
    assert store.search_keyword("河道清障", 3)  # the tail is still found by keyword


def test_chunk_count_follows_writes_from_any_connection(settings: Settings, fake_embeddings) -> None:
    store = open_store(settings, embeddings=fake_embeddings)
    kw = store.keyword
    assert kw._chunk_count() == 0
    meta, chunks = _doc()
    store.add(meta, chunks)
    assert kw._chunk_count() == len(chunks)
    other = open_store(settings, embeddings=fake_embeddings)  # a second process, in effect
    other.add(*_doc("d2", sha256="bb" * 32))
    assert kw._chunk_count() == 2 * len(chunks)
    other.delete("d1")
    assert kw._chunk_count() == len(chunks)
