from __future__ import annotations

import pytest

from drafting.config import Settings
from drafting.corpus.chunking import chunk_document
from drafting.corpus.keyword import MAX_QUERY_TERMS
from drafting.corpus.retrieve import (
    DENSE_WEIGHT,
    KEYWORD_WEIGHT,
    RRF_K,
    highlight_terms,
    query_terms,
    relevance,
    retrieve,
    rrf,
)
from drafting.corpus.store import IndexStore, open_store
from drafting.domain import DocumentMeta
from drafting.errors import RetrievalError

TOPICS = {
    "安全生产": [
        "紧盯道路交通安全",
        "严查超限超载车辆，整治农村道路隐患",
        "紧盯建筑施工安全",
        "深基坑高支模起重机械专项检查",
    ],
    "防汛抗旱": ["压实防汛责任", "水库堤防山洪灾害危险区拉网排查", "做好抗旱保供水", "启用应急水源保障群众饮水"],
    "营商环境": ["深化政务服务改革", "推行一网通办和最多跑一次", "构建亲清政商关系", "领导干部挂钩联系重点企业"],
    "乡村振兴": ["发展特色产业", "培育茶叶和中药材产业带动农民增收", "壮大集体经济", "盘活闲置资产增加村集体收入"],
    "基层治理": ["健全网格体系", "科学划分网格配齐专职网格员", "推进基层减负", "精简会议文件和督查检查考核"],
    "生态环保": ["打好蓝天保卫战", "管控扬尘和秸秆焚烧改善空气质量", "推进河长制", "清理河道垃圾和排污口整治"],
}
GENRE_YEAR = [
    ("讲话稿", "2024-03-01"),
    ("通知", "2025-04-02"),
    ("讲话稿", "2025-05-03"),
    ("汇报材料", "2023-06-04"),
    ("意见", "2025-07-05"),
    ("通知", "2024-08-06"),
]


def _text(topic: str, parts: list[str]) -> str:
    h1, body1, h2, body2 = parts
    return (
        f"关于{topic}工作的材料\n\n一、{h1}\n\n要{body1}，各部门要切实负起责任，确保各项措施落实到位。\n\n"
        f"二、{h2}\n\n要{body2}，定期调度通报，形成工作合力。"
    )


@pytest.fixture
def store(settings: Settings, fake_embeddings) -> IndexStore:
    s = open_store(settings, embeddings=fake_embeddings)
    for i, (topic, parts) in enumerate(TOPICS.items()):
        genre, date = GENRE_YEAR[i]
        doc_id = f"t{i}"
        meta = DocumentMeta(
            doc_id=doc_id,
            title=f"关于{topic}工作的材料",
            genre=genre,
            date=date,
            issuing_body=f"{i}号单位",
            sha256=str(i) * 64,
        )
        s.add(meta, chunk_document(_text(topic, parts), doc_id))
    return s


def test_heading_query_ranks_its_section_first(store: IndexStore) -> None:
    for method in ("dense", "keyword", "hybrid"):
        top = retrieve("紧盯建筑施工安全", store, 3, method=method)[0]
        assert top.section_path == ["二、紧盯建筑施工安全"], method
        assert top.title == "关于安全生产工作的材料"


def test_filters(store: IndexStore) -> None:
    speeches = retrieve("工作责任落实", store, 10, genre="讲话稿")
    assert speeches and {p.genre for p in speeches} == {"讲话稿"}
    in_2025 = retrieve("工作责任落实", store, 10, year=2025)
    assert in_2025 and {p.date[:4] for p in in_2025} == {"2025"}
    both = retrieve("工作责任落实", store, 10, genre="通知", year=2025)
    assert {p.doc_id for p in both} == {"t1"}
    assert retrieve("工作", store, 5, issuing_body="3号单位") and all(
        p.issuing_body == "3号单位" for p in retrieve("工作", store, 5, issuing_body="3号单位")
    )
    assert retrieve("工作", store, 5, genre="纪要") == []


def _hit_rate(store: IndexStore, method: str, queries: list[tuple[str, list[str]]]) -> float:
    hits = sum(
        1
        for q, path in queries
        if any(p.section_path == path for p in retrieve(q, store, 2, method=method, mmr_lambda=1.0))
    )
    return hits / len(queries)


def test_hybrid_at_least_as_good_as_each_single_method(store: IndexStore) -> None:
    queries: list[tuple[str, list[str]]] = []
    for parts in TOPICS.values():
        h1, b1, h2, b2 = parts
        queries += [(h1, [f"一、{h1}"]), (h2, [f"二、{h2}"])]
        # Reworded: a clause of the body, shuffled and partly replaced.
        queries += [("、".join(reversed(b1.split("，"))), [f"一、{h1}"]), (b2[4:] + "的举措", [f"二、{h2}"])]
    dense, keyword, hybrid = (_hit_rate(store, m, queries) for m in ("dense", "keyword", "hybrid"))
    assert hybrid >= max(dense, keyword), (dense, keyword, hybrid)
    assert hybrid >= 0.9


def test_scores_and_methods(store: IndexStore) -> None:
    hybrid = retrieve("防汛责任", store, 4)
    assert all(0 < p.score <= (DENSE_WEIGHT + KEYWORD_WEIGHT) / (RRF_K + 1) for p in hybrid)  # RRF over two lists
    assert [p.score for p in retrieve("防汛责任", store, 4, mmr_lambda=1.0)] == sorted(
        (p.score for p in hybrid), reverse=True
    )
    with pytest.raises(RetrievalError, match="未知的检索方式"):
        retrieve("防汛", store, 3, method="magic")
    assert retrieve("  ", store, 3) == []


def test_mmr_spreads_over_documents(settings: Settings, fake_embeddings) -> None:
    s = open_store(settings, embeddings=fake_embeddings)
    para = "各地要加强安全生产隐患排查整治，落实企业主体责任，严防重特大事故发生。"
    long_doc = "\n\n".join(f"{'一二三四五六'[i]}、第{i}部分\n\n{para}" for i in range(6))
    s.add(DocumentMeta(doc_id="big", title="大文档", sha256="1" * 64), chunk_document(long_doc, "big"))
    other = "关于安全工作\n\n一、排查\n\n加强隐患排查，落实安全责任。"
    s.add(DocumentMeta(doc_id="small", title="小文档", sha256="2" * 64), chunk_document(other, "small"))
    plain = retrieve(para, s, 3, method="dense", mmr_lambda=1.0)
    diverse = retrieve(para, s, 3, method="dense", mmr_lambda=0.7)
    assert {p.doc_id for p in plain} == {"big"}
    assert "small" in {p.doc_id for p in diverse}


def test_mmr_keeps_a_clear_top_hit() -> None:
    # Relevance falls steeply at the top: moving the best hit down one place costs more than the
    # same-document penalty, so diversity reorders the tail, not the head.
    from drafting.corpus.retrieve import SAME_DOC_PENALTY

    assert relevance(0) == 1.0
    assert all(relevance(i) > relevance(i + 1) for i in range(30))
    assert 0.7 * (relevance(0) - relevance(1)) > SAME_DOC_PENALTY
    assert relevance(1) - relevance(2) > relevance(20) - relevance(21)


def test_hybrid_waits_for_keyword_and_reports_dense_failure(store: IndexStore, monkeypatch) -> None:
    import time

    calls: list[str] = []
    real_keyword = store.search_keyword

    def keyword(*args, **kwargs):
        time.sleep(0.3)  # still running when the dense search fails
        calls.append("keyword")
        return real_keyword(*args, **kwargs)

    def broken_dense(*args, **kwargs):
        raise RetrievalError("向量检索失败：测试")

    monkeypatch.setattr(store, "search_keyword", keyword)
    monkeypatch.setattr(store, "search_dense", broken_dense)
    with pytest.raises(RetrievalError, match="向量检索失败"):
        retrieve("防汛责任", store, 3)
    assert calls == ["keyword"]  # finished before retrieve() gave up
    assert retrieve("防汛责任", store, 3, method="keyword")[0].doc_id == "t1"


def test_long_query_keeps_only_the_rarest_words(store: IndexStore) -> None:
    common = query_terms("各部门要切实负起责任，确保各项措施落实到位")
    words = [w for parts in TOPICS.values() for w in query_terms("".join(parts))] + common
    assert len(set(words)) > MAX_QUERY_TERMS and "部门" in common
    chosen = store.keyword._selective(list(dict.fromkeys(words)))
    assert 0 < len(chosen) <= MAX_QUERY_TERMS
    assert "部门" not in chosen  # in every document: never worth scoring
    df = dict(store.keyword._db.execute("SELECT term, doc FROM chunk_vocab").fetchall())
    left_out = set(words) - set(chosen)
    assert max(df[t] for t in chosen) <= min(df.get(t, 0) for t in left_out if df.get(t, 0) > 0)
    # The capped query still finds the section one of its rare words comes from.
    assert retrieve("".join(TOPICS["防汛抗旱"]) + "".join(TOPICS["营商环境"]), store, 5, method="keyword")


def test_keyword_query_stays_within_the_posting_budget(store: IndexStore, monkeypatch) -> None:
    import drafting.corpus.keyword as kw

    words = query_terms("压实防汛责任，各部门要切实负起责任")
    df = dict(store.keyword._db.execute("SELECT term, doc FROM chunk_vocab").fetchall())
    full = store.keyword._selective(words)
    assert len(full) >= 2
    monkeypatch.setattr(kw, "POSTING_BUDGET", df[full[0]])  # room for the rarest word only
    assert store.keyword._selective(words) == full[:1]
    monkeypatch.setattr(kw, "POSTING_BUDGET", 0)  # never fewer than one word
    assert store.keyword._selective(words) == full[:1]


def test_rrf() -> None:
    fused = rrf([["a", "b"], ["b", "c"]], k=60)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    weighted = rrf([["a", "b"], ["b", "c"]], k=5, weights=[0.5, 1.0])
    assert weighted == pytest.approx({"a": 0.5 / 6, "b": 0.5 / 7 + 1 / 6, "c": 1 / 7})
    assert max(fused, key=fused.__getitem__) == "b"


def test_query_terms_and_highlight() -> None:
    assert query_terms("关于加强安全生产的通知") == ["加强", "安全", "生产", "通知"]
    text = "各地要加强安全生产工作。加强！"
    spans = highlight_terms("加强安全生产", text)
    assert [text[a:b] for a, b in spans] == ["加强", "安全", "生产", "加强"]
    assert spans[0] == (3, 5)
    assert highlight_terms("防汛", text) == []
