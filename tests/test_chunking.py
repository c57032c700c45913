from __future__ import annotations

import pytest

from drafting.corpus.chunking import chunk_document, detect_heading, split_heading, split_sentences


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("一、提高站位，压实责任", 1),
        ("十二、其他事项", 1),
        ("一、2024年工作回顾", 1),
        ("（一）坚持人民至上", 2),
        ("(二)健全工作机制", 2),
        ("（一）坚持人民至上。去年，全县上下坚持人民至上、生命至上，安全生产形势总体平稳。", 2),
        ("1. 加强组织领导", 3),
        ("2．压实工作责任", 3),
        ("3、强化督导检查。各地要建立台账。", 3),
        ("（1）强化考核", 4),
        ("(2) 严格问责", 4),
        ("第一章 总则", 1),
        ("第二节 监督管理", 2),
        ("# 总体要求", 1),
        ("## 主要任务", 2),
    ],
)
def test_detect_heading_levels(line: str, level: int) -> None:
    assert detect_heading(line) == level


@pytest.mark.parametrize(
    "line",
    [
        "1.5亿元资金已全部到位。",
        "2025年全县地区生产总值增长6%。",
        "一是压实责任，二是强化督导。",
        "同志们：",
        "第一条 为了规范安全生产工作，制定本条例。",
        # Long prose that merely starts with a number is body text, not a heading.
        "1. 我们要在全面总结经验的基础上进一步加强基层治理能力建设，推动各项工作落地见效，确保取得实效，让人民群众真正满意。",
        "一、",
        "",
    ],
)
def test_detect_heading_rejects_prose(line: str) -> None:
    assert detect_heading(line) is None


def test_heading_with_run_on_body_is_split_at_first_full_stop() -> None:
    assert split_heading("（一）成绩来之不易。去年，全县安全形势平稳。") == (
        2,
        "（一）成绩来之不易。",
        "去年，全县安全形势平稳。",
    )
    assert split_heading("一、提高站位，压实责任") == (1, "一、提高站位，压实责任", "")


def test_split_sentences_keeps_end_punctuation_and_closing_quotes() -> None:
    assert split_sentences("他说：“要抓实。”大家鼓掌！真的吗？是的；好") == [
        "他说：“要抓实。”",
        "大家鼓掌！",
        "真的吗？",
        "是的；",
        "好",
    ]


DOC = """在全县安全生产工作会议上的讲话
青山县县长 王某某

同志们：

今天我们召开会议。

一、清醒认识形势

（一）成绩来之不易。去年全县安全形势总体平稳。

（二）问题不容忽视。事故总量仍然偏高。

二、突出重点领域

（一）紧盯道路交通安全

1.严查超限超载。交警部门要加强路面管控。

（1）加强夜间巡查。夜间事故占比高。

2.整治农村道路。要加装护栏。
"""


def test_chunks_carry_section_path_from_top_level_down() -> None:
    chunks = chunk_document(DOC, "doc1")
    paths = [c.section_path for c in chunks]
    assert paths[0] == []
    assert "同志们：" in chunks[0].text
    assert ["一、清醒认识形势", "（一）成绩来之不易。"] in paths
    assert ["一、清醒认识形势", "（二）问题不容忽视。"] in paths
    assert ["二、突出重点领域", "（一）紧盯道路交通安全", "1.严查超限超载。", "（1）加强夜间巡查。"] in paths
    # A new level-3 heading pops the level-4 one.
    assert ["二、突出重点领域", "（一）紧盯道路交通安全", "2.整治农村道路。"] in paths
    body = {tuple(c.section_path): c.text for c in chunks}
    assert body[("一、清醒认识形势", "（一）成绩来之不易。")] == "去年全县安全形势总体平稳。"
    assert [c.chunk_id for c in chunks] == [f"doc1:{i:04d}" for i in range(len(chunks))]
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    assert all(c.doc_id == "doc1" for c in chunks)


def test_long_section_splits_on_sentence_boundaries() -> None:
    sentences = [f"第{i}项工作要抓紧推进落实，确保按期完成各项目标任务。" for i in range(60)]
    text = "一、重点任务\n\n" + "".join(sentences)
    chunks = chunk_document(text, "d", max_chars=200, min_chars=40)
    assert len(chunks) > 5
    for c in chunks:
        assert len(c.text) <= 200 + 40
        assert c.text.endswith("。"), c.text[-10:]
        assert c.section_path == ["一、重点任务"]
    assert "".join(c.text.replace("\n", "") for c in chunks) == "".join(sentences)


def test_tiny_trailing_piece_is_merged() -> None:
    para = "各部门要加强协调配合，形成工作合力。" * 10  # 180 chars
    text = f"一、要求\n\n{para}\n\n{para}\n\n短句收尾。"
    chunks = chunk_document(text, "d", max_chars=200, min_chars=40)
    assert len(chunks) == 2
    assert chunks[-1].text.endswith("短句收尾。")


def test_single_overlong_sentence_is_cut_hard() -> None:
    text = "一、任务\n\n" + "长" * 1300 + "。"
    chunks = chunk_document(text, "d", max_chars=600)
    assert all(len(c.text) <= 600 + 80 for c in chunks)
    assert "".join(c.text for c in chunks) == "长" * 1300 + "。"


def test_empty_text_has_no_chunks() -> None:
    assert chunk_document("\n\n  \n", "d") == []
