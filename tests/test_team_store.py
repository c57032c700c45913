"""Team mode, shared 范文库: PostgreSQL holds documents, chunk texts and the BM25 keyword index,
a chroma server the vectors. Both servers are real, started by the fixtures."""

from __future__ import annotations

import pytest

from drafting.config import Settings
from drafting.corpus.chunking import chunk_document
from drafting.corpus.ingest import ingest_bundled_corpus
from drafting.corpus.pg_index import PgKeywordIndex, pg_terms
from drafting.corpus.retrieve import retrieve
from drafting.corpus.store import IndexStore, Store, open_store
from drafting.domain import DocumentMeta
from drafting.errors import IngestError, RetrievalError
from tests.team_servers import chroma_server, fresh_collection, pg_url  # noqa: F401 - fixtures

FLOOD = """关于做好汛期山洪灾害防御工作的通知

一、压实防汛责任

各乡镇要落实以行政首长负责制为核心的防汛责任制，确保山洪灾害危险区责任到人。

二、加强隐患排查

对水库、堤防、山洪灾害危险区开展拉网式排查，发现问题立即整改。
"""

SEEDS = """关于推进种业振兴行动的实施意见

一、加强种质资源保护

开展农作物种质资源普查，建设县级种质资源库，做好地方特色品种的收集保存。

二、培育壮大种业企业

支持育繁推一体化企业做强做大，建设制种基地，提升良种供给能力。
"""


def _doc(doc_id: str, text: str) -> tuple[DocumentMeta, list]:
    meta = DocumentMeta(
        doc_id=doc_id, title=text.splitlines()[0], genre="通知", date="2025-05-01", sha256=doc_id * 8, source=doc_id
    )
    return meta, chunk_document(text, doc_id)


def _team(settings: Settings, tmp_path, name: str, pg: str, chroma: tuple[str, int] | None, collection: str):
    """One writer's settings: their own data folder, the shared servers."""
    own = settings.replace(data_dir=tmp_path / name, team_db_url=pg, collection=collection, team=True)
    if chroma:
        own = own.replace(chroma_host=chroma[0], chroma_port=chroma[1])
    return own


def test_two_writers_find_each_others_documents(
    settings: Settings,
    tmp_path,
    fake_embeddings,
    pg_url: str,  # noqa: F811
    chroma_server: tuple[str, int],  # noqa: F811
) -> None:
    collection = fresh_collection()
    zhang = open_store(
        _team(settings, tmp_path, "zhang", pg_url, chroma_server, collection), fake_embeddings, writer="张三"
    )
    li = open_store(_team(settings, tmp_path, "li", pg_url, chroma_server, collection), fake_embeddings, writer="李四")
    assert isinstance(zhang, Store)
    zhang.add(*_doc("flood", FLOOD))
    li.add(*_doc("seeds", SEEDS))

    for store, other_doc, query in ((li, "flood", "山洪灾害危险区排查"), (zhang, "seeds", "种质资源普查")):
        keyword = store.search_keyword(query, 3)
        dense = store.search_dense(query, 3)
        assert keyword and keyword[0][0].startswith(other_doc + ":")
        assert dense and dense[0][0].startswith(other_doc + ":")
        hybrid = retrieve(query, store, 3)
        assert hybrid[0].doc_id == other_doc
    # The shared 范文库 shows who added each document.
    assert {d.doc_id: d.added_by for d in li.documents()} == {"flood": "张三", "seeds": "李四"}
    assert zhang.stats()["documents"] == 2 and zhang.stats()["vectors"] == li.stats()["vectors"]
    # Nothing of the keyword side was written to a writer's own folder.
    assert not (tmp_path / "zhang" / "index" / "keyword.sqlite3").exists()

    # A removal by one writer is seen by the other at once.
    li.delete("flood")
    assert not zhang.search_keyword("山洪灾害危险区排查", 3)
    assert all(not cid.startswith("flood:") for cid, _ in zhang.search_dense("山洪灾害危险区排查", 3))


def test_bm25_matches_the_local_fts5_index(
    settings: Settings,
    tmp_path,
    fake_embeddings,
    pg_url: str,  # noqa: F811
) -> None:
    """Same corpus, same queries: the PostgreSQL ranking equals SQLite FTS5's bm25() (ids and scores)."""
    local = open_store(settings.replace(data_dir=tmp_path / "local"), fake_embeddings)
    team = open_store(_team(settings, tmp_path, "team", pg_url, None, fresh_collection()), fake_embeddings)
    assert isinstance(team.keyword, PgKeywordIndex)
    for store in (local, team):
        report = ingest_bundled_corpus(store)
        assert report.added and not report.failed
    assert local.stats() == team.stats()
    queries = ["乡村振兴", "安全生产责任", "防汛抗旱工作部署", "优化营商环境", "基层党组织建设", "2025年工作安排"]
    compared = 0
    for q in queries:
        want = local.search_keyword(q, 10)
        got = team.search_keyword(q, 10)
        assert [c for c, _ in got] == [c for c, _ in want], q
        assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-6), q
        compared += len(want)
        # filters too
        want_f = local.search_keyword(q, 5, {"genre": "讲话稿"})
        assert [c for c, _ in team.search_keyword(q, 5, {"genre": "讲话稿"})] == [c for c, _ in want_f]
    assert compared > 20


def test_failed_write_leaves_the_shared_index_unchanged(
    settings: Settings,
    tmp_path,
    fake_embeddings,
    pg_url: str,  # noqa: F811
    monkeypatch,
) -> None:
    store = open_store(_team(settings, tmp_path, "w", pg_url, None, fresh_collection()), fake_embeddings)
    store.add(*_doc("flood", FLOOD))
    before = store.search_keyword("山洪灾害", 5)

    def broken(self, db, meta, chunks, vec_ids):  # noqa: ANN001
        raise RuntimeError("disk full")

    monkeypatch.setattr(PgKeywordIndex, "write_document", broken)
    meta, chunks = _doc("flood", FLOOD.replace("拉网式", "全覆盖"))
    with pytest.raises(IngestError):
        store.add(meta.model_copy(update={"sha256": "ff" * 32}), chunks)
    assert store.search_keyword("山洪灾害", 5) == before
    assert store.stats()["documents"] == 1 and store.stats()["vectors"] == len(chunks)


def test_unreachable_database_is_a_clear_error(settings: Settings, fake_embeddings) -> None:
    bad = settings.replace(team_db_url="postgresql://nobody:secret@127.0.0.1:1/none")
    with pytest.raises(RetrievalError) as err:
        open_store(bad, fake_embeddings)
    assert "无法连接团队数据库" in str(err.value) and "secret" not in str(err.value)


def test_terms_split_like_fts5_unicode61() -> None:
    assert pg_terms("COVID-19 疫情防控") == ["covid", "19", "疫情", "防控"]


def test_local_default_is_untouched(settings: Settings, fake_embeddings) -> None:
    store: IndexStore = open_store(settings, fake_embeddings)
    assert not settings.team_db_url and not settings.team
    assert type(store.keyword).__name__ == "KeywordIndex"
    store.add(*_doc("flood", FLOOD))
    assert store.documents()[0].added_by == ""


def test_documents_added_in_a_signed_in_run_carry_the_writer(settings: Settings, fake_embeddings) -> None:
    """The app's store is shared by all sessions; the signed-in writer of the run is put on what they add."""
    from drafting.team import acting_as

    store = open_store(settings, fake_embeddings)
    with acting_as("王五"):
        store.add(*_doc("flood", FLOOD))
    store.add(*_doc("seeds", SEEDS))
    assert {d.doc_id: d.added_by for d in store.documents()} == {"flood": "王五", "seeds": ""}
