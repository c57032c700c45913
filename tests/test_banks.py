"""The classics and policy banks: every entry's fields, the office's own entries, selection for a brief."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from drafting.domain import Brief
from drafting.writing import banks as banks_mod
from drafting.writing.banks import (
    BANKS_DIR,
    Banks,
    ClassicLine,
    Formulation,
    han_only,
    load_banks,
    load_topics,
    pick_classics,
    pick_formulations,
    used_entries,
)

CORPUS = Path("/work/shared/data/official-corpus/docs")


def _raw(name: str) -> list[dict]:
    return yaml.safe_load((BANKS_DIR / name).read_text(encoding="utf-8"))["entries"]


# ---- the bundled classics bank ---------------------------------------------------------------------


def test_classics_bank_entries_are_complete() -> None:
    raw = _raw("classics.yaml")
    assert len(raw) >= 200
    topics = set(load_topics())
    for item in raw:
        entry = ClassicLine.model_validate(item)  # unknown fields and a bad source form fail here
        where = entry.text
        assert re.fullmatch(r"《[^《》]+》", entry.source), where
        assert entry.meaning.strip(), where
        assert entry.meaning.endswith("。"), where
        assert entry.tags, where
        assert set(entry.tags) <= topics, (where, set(entry.tags) - topics)
        assert len(set(entry.tags)) == len(entry.tags), where
        assert han_only(entry.text), where
        assert not re.search(r"[A-Za-z]", entry.text), where
        for variant in entry.variants:
            assert variant != entry.text, where


def test_classics_bank_has_no_duplicates() -> None:
    raw = _raw("classics.yaml")
    texts = Counter(han_only(e["text"]) for e in raw)
    assert [t for t, n in texts.items() if n > 1] == []
    # no line is a part of another one either: a quotation must point to one entry
    keys = sorted(texts, key=len)
    nested = [(a, b) for i, a in enumerate(keys) for b in keys[i + 1 :] if len(a) >= 6 and a in b]
    assert nested == []


def test_classics_cover_the_topics_an_office_speech_needs() -> None:
    tags = Counter(t for e in _raw("classics.yaml") for t in e["tags"])
    for topic in ("安全生产", "防汛", "民生", "作风", "廉洁", "担当", "调查研究", "基层治理", "法治", "生态"):
        assert tags[topic] >= 5, topic


# ---- the bundled policy bank -----------------------------------------------------------------------


def test_policy_bank_entries_are_complete() -> None:
    raw = _raw("policy.yaml")
    assert len(raw) >= 120
    topics = set(load_topics())
    assert len({e["text"] for e in raw}) == len(raw)
    for item in raw:
        entry = Formulation.model_validate(item)
        assert len(entry.text) <= 30, entry.text
        assert entry.document and entry.issuer and entry.year >= 2017, entry.text
        assert entry.topics and set(entry.topics) <= topics, entry.text


@pytest.mark.skipif(not CORPUS.is_dir(), reason="官方语料 /work/shared/data/official-corpus 不在本机，无法逐条核对原文")
def test_policy_bank_entries_occur_verbatim_in_their_documents() -> None:
    for item in _raw("policy.yaml"):
        path = CORPUS / f"{item['doc_id']}.txt"
        head, _, body = path.read_text(encoding="utf-8").partition("\n")
        meta = json.loads(head)
        assert meta["title"] == item["document"], item["text"]
        assert meta["issuing_body"] == item["issuer"], item["text"]
        assert int(meta["year"]) == item["year"], item["text"]
        assert item["text"] in body, item["text"]


# ---- office entries --------------------------------------------------------------------------------


def _office_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "office" / "banks"
    folder.mkdir(parents=True)
    return folder.parent


def test_office_yaml_and_csv_entries_are_merged(tmp_path: Path) -> None:
    data = _office_dir(tmp_path)
    (data / "banks" / "classics.yaml").write_text(
        "- text: 为官一任，造福一方\n  source: 《本县县志·序》\n  meaning: 做一任官就要为一方百姓谋福。\n  tags: [民生]\n",
        encoding="utf-8",
    )
    (data / "banks" / "policy.csv").write_text(
        "text,document,issuer,year,topics\n全县安全生产“百日攻坚”,县委县政府关于开展百日攻坚的通知,县委办,2026,安全生产、责任落实\n",
        encoding="utf-8",
    )
    b = load_banks(data)
    assert b.problems == ()
    office = [e for e in b.classics if e.origin == "office"]
    assert [e.text for e in office] == ["为官一任，造福一方"]
    f = next(e for e in b.formulations if e.origin == "office")
    assert f.topics == ["安全生产", "责任落实"] and f.year == 2026
    assert len(b.classics) == len(_raw("classics.yaml")) + 1


def test_bad_office_files_are_reported_with_file_and_line_and_bundled_banks_still_load(tmp_path: Path) -> None:
    data = _office_dir(tmp_path)
    (data / "banks" / "classics.yaml").write_text(
        "- text: 好句子\n  source: 《论语·学而》\n  tags: [学习]\n"
        "- text: 没有出处的句子\n  tags: [学习]\n"
        "- text: 出处格式不对\n  source: 论语\n",
        encoding="utf-8",
    )
    (data / "banks" / "policy.yaml").write_text("- text: [未闭合\n  document: x\n", encoding="utf-8")
    b = load_banks(data)
    assert len(b.classics) == len(_raw("classics.yaml")) + 1
    assert len(b.formulations) == len(_raw("policy.yaml"))
    messages = "\n".join(b.problems)
    assert "classics.yaml 第 4 行：缺少“出处”" in messages
    assert "classics.yaml 第 6 行：“出处”应写成《书名·篇名》" in messages
    assert re.search(r"policy\.yaml 第 \d+ 行：YAML 格式错误", messages)


def test_office_entry_replaces_the_bundled_one_and_the_cache_sees_changes(tmp_path: Path) -> None:
    data = _office_dir(tmp_path)
    path = data / "banks" / "classics.csv"
    path.write_text(
        "text,source,meaning,tags\n民惟邦本，本固邦宁。,《尚书·五子之歌》,本县的讲法。,民生\n", encoding="utf-8"
    )
    first = load_banks(data)
    entry = next(e for e in first.classics if e.text == "民惟邦本，本固邦宁。")
    assert entry.origin == "office" and entry.meaning == "本县的讲法。"
    assert load_banks(data) is first  # cached
    path.write_text("text,source,meaning,tags\n新加一句话，共勉。,《本县志·一》,说明。,学习\n", encoding="utf-8")
    import os

    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    second = load_banks(data)
    assert any(e.text == "新加一句话，共勉。" for e in second.classics)
    assert next(e for e in second.classics if e.text == "民惟邦本，本固邦宁。").origin == "bundled"


def test_office_csv_saved_by_excel_in_gbk_is_read(tmp_path: Path) -> None:
    data = _office_dir(tmp_path)
    (data / "banks" / "classics.csv").write_bytes(
        "text,source,meaning,tags\n为官一任，造福一方,《本县县志·序》,做一任官就要为一方百姓谋福。,民生、作风\n"
        "缺出处的一句,,说明。,民生\n".encode("gb18030")
    )
    b = load_banks(data)
    office = next(e for e in b.classics if e.origin == "office")
    assert office.text == "为官一任，造福一方" and office.tags == ["民生", "作风"]
    assert b.problems == (f"{data / 'banks' / 'classics.csv'} 第 3 行：缺少“出处”，已跳过",)


def test_default_data_dir_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from drafting import config

    data = _office_dir(tmp_path)
    (data / "banks" / "policy.yaml").write_text(
        "entries:\n- {text: 县里的提法, document: 县委文件, issuer: 县委, year: 2026, topics: [作风]}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("DRAFTING_DATA_DIR", str(data))
    config.get_settings.cache_clear()
    assert any(f.text == "县里的提法" for f in load_banks().formulations)


# ---- selection -------------------------------------------------------------------------------------


def test_pick_classics_fits_the_brief_and_is_deterministic() -> None:
    brief = Brief(title="在全县防汛工作会议上的讲话", key_points=["汛前隐患排查", "山洪地质灾害防御"])
    picked = pick_classics(brief, k=3)
    assert len(picked) == 3
    assert all({"防汛", "应急", "风险防范", "安全生产"} & set(e.tags) for e in picked)
    assert len({e.book for e in picked}) == 3
    assert [e.text for e in pick_classics(brief, k=3)] == [e.text for e in picked]
    edu = pick_classics(Brief(title="在全县教育工作会议上的讲话", key_points=["办好人民满意的教育"]), k=2)
    assert all("教育" in e.tags for e in edu)


def test_pick_classics_without_a_topic_falls_back_to_general_lines() -> None:
    picked = pick_classics(Brief(request="写一篇讲话"), k=2)
    assert len(picked) == 2
    assert all(set(e.tags) & set(banks_mod.FALLBACK_TOPICS) for e in picked)


def _formulation(text: str, year: int, topics: list[str]) -> Formulation:
    return Formulation(text=text, document=f"{year}年文件", issuer="国务院", year=year, topics=topics)


def test_pick_formulations_prefers_recent_years_and_skips_nested_ones() -> None:
    bank = Banks(
        classics=(),
        formulations=(
            _formulation("旧的安全提法", 2018, ["安全生产"]),
            _formulation("统筹发展和安全", 2025, ["安全生产"]),
            _formulation("更好统筹发展和安全", 2025, ["安全生产"]),
            _formulation("新的安全提法", 2026, ["安全生产"]),
            _formulation("乡村全面振兴", 2026, ["乡村振兴"]),
        ),
        topics=load_topics(),
    )
    brief = Brief(title="安全生产工作会议讲话")
    picked = [f.text for f in pick_formulations(brief, k=4, banks=bank)]
    assert picked[0] == "新的安全提法"
    assert picked.index("新的安全提法") < picked.index("旧的安全提法")
    assert not {"统筹发展和安全", "更好统筹发展和安全"} <= set(picked)
    assert "乡村全面振兴" not in picked


def test_pick_formulations_puts_the_central_wording_before_a_provinces() -> None:
    provincial = Formulation(
        text="省里的安全提法", document="2026年某省政府工作报告", issuer="某省人民政府", year=2026, topics=["安全生产"]
    )
    bank = Banks(
        classics=(), formulations=(provincial, _formulation("中央的安全提法", 2025, ["安全生产"])), topics=load_topics()
    )
    picked = [f.text for f in pick_formulations(Brief(title="安全生产工作会议讲话"), k=2, banks=bank)]
    assert picked == ["中央的安全提法", "省里的安全提法"]


def test_pick_formulations_from_the_bundled_bank() -> None:
    picked = pick_formulations(Brief(title="全县安全生产工作会议", key_points=["遏制重特大事故"]), k=4)
    assert len(picked) == 4
    assert all("安全生产" in f.topics or "风险防范" in f.topics for f in picked)
    economy = pick_formulations(Brief(title="全县经济工作会议", key_points=["稳增长", "大水漫灌不可取"]), k=30)
    assert "大水漫灌" not in {f.text for f in economy}  # known to the checks, never offered
    assert any(not f.offer and f.text == "大水漫灌" for f in load_banks().formulations)


def test_entries_display_with_their_source() -> None:
    b = load_banks()
    line = next(e for e in b.classics if e.text.startswith("民惟邦本"))
    assert line.display == "“民惟邦本，本固邦宁”（《尚书·五子之歌》）"
    essay = next(e for e in b.classics if e.source == "《岳阳楼记》")
    assert essay.display.endswith("（范仲淹《岳阳楼记》）")
    f = next(e for e in b.formulations if e.text == "统筹发展和安全")
    assert f.display == "“统筹发展和安全”（国务院《2025年中华人民共和国国务院政府工作报告》）"


def test_used_entries_lists_what_a_draft_quotes() -> None:
    text = "古人讲，千丈之堤，以蝼蚁之穴溃。我们要更好统筹发展和安全，守住安全底线。居安思危。"
    used = used_entries(text)
    assert [e.source for e in used.classics] == ["《韩非子·喻老》"]
    assert [f.text for f in used.formulations] == ["更好统筹发展和安全"]  # the nested shorter one is not repeated


def test_a_provinces_formulation_is_offered_only_to_a_unit_the_brief_places_there() -> None:
    from drafting.writing.banks import pick_formulations, region_of
    from drafting.writing.brief import brief_from_request

    assert region_of("吉林省人民政府") == "吉林" and region_of("广西壮族自治区人民政府") == "广西"
    assert region_of("国务院") == "" and region_of("上海市人民政府") == "上海"
    anywhere = brief_from_request("为市长起草在全市优化营商环境大会上的讲话，约3000字")
    assert [f for f in pick_formulations(anywhere, k=8)]
    assert all(region_of(f.issuer) == "" for f in pick_formulations(anywhere, k=8))
    placed = brief_from_request("为吉林省长春市市长起草在全市优化营商环境大会上的讲话，约3000字")
    assert {region_of(f.issuer) for f in pick_formulations(placed, k=8)} <= {"", "吉林"}
    assert any(region_of(f.issuer) == "吉林" for f in pick_formulations(placed, k=8))
