"""The deterministic gate: each detector on planted cases, and the gate inside write_draft."""

from __future__ import annotations

import pytest

from drafting.checks.facts import FactKind, find_facts, placeholders_in
from drafting.checks.gate import DefectKind, count_defects, find_defects, repair_draft
from drafting.corpus.retrieve import relevant_passages
from drafting.domain import Brief, Criterion, Draft, DraftSection, Outline, OutlineSection, Passage
from drafting.writing.brief import brief_from_request
from drafting.writing.draft import write_draft
from drafting.writing.genres import detect_genre, genre_names, topic_of
from drafting.writing.outline import quick_outline
from tests.fakes import BODY_MARKER, RoutedFakeChat, writer_routes

FANWEN = Passage(
    chunk_id="f1",
    doc_id="qingshan",
    title="在青山县安全生产工作会议上的讲话",
    text=(
        "去年，全县共发生各类生产安全事故11起、死亡6人，同比分别下降26.7%和33.3%。"
        "全县开展各类应急演练2100余场次，参与群众约38万人次，青山县应急管理局牵头排查一般隐患4300余处。"
        "我们必须清醒看到，一些企业安全投入不足、从业人员培训流于形式的问题依然比较突出。"
    ),
)
COMMON = Passage(
    chunk_id="f2",
    doc_id="other",
    title="另一篇范文",
    text="我们必须清醒看到，一些企业安全投入不足、从业人员培训流于形式的问题依然比较突出。",
)


@pytest.fixture
def brief() -> Brief:
    return Brief(
        genre="讲话稿",
        occasion="全县安全生产工作会议",
        speaker="县长",
        length=900,
        facts="今年以来全县发生事故3起",
    )


def kinds(text: str, brief: Brief, passages: list[Passage]) -> dict[str, int]:
    return count_defects(find_defects(text, brief=brief, passages=passages))


def test_transplanted_figures_and_names_are_found(brief: Brief) -> None:
    text = "标题\n去年全县共发生各类生产安全事故11起、死亡6人。青山县排查隐患4300余处。今年以来发生事故3起。"
    found = find_defects(text, brief=brief, passages=[FANWEN])
    transplanted = [d.text for d in found if d.kind is DefectKind.TRANSPLANTED_FACT]
    assert transplanted == ["11起", "6人", "青山县", "4300余处"]  # 3起 is the writer's own figure


def test_invented_figures_are_unsourced(brief: Brief) -> None:
    found = find_defects("标题\n全县投入资金5600万元。", brief=brief, passages=[FANWEN])
    assert [(d.kind, d.text) for d in found] == [(DefectKind.UNSOURCED_FACT, "5600万元")]


def test_copied_sentence_found_unless_standard_wording(brief: Brief) -> None:
    copied = "标题\n我们必须清醒看到，一些企业安全投入不足、从业人员培训流于形式的问题依然比较突出。"
    assert kinds(copied, brief, [FANWEN])["copied_run"] == 1
    # The same wording in two documents is standard wording, not another unit's sentence.
    assert kinds(copied, brief, [FANWEN, COMMON])["copied_run"] == 0


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("标题\n我们将通过举办讲座、展览、宣传栏", "fragment"),
        ("标题\n的宣传教育活动，要常抓不懈。我们要压实责任。", "fragment"),
        ("标题\n【三、组织保障和责任落实】\n我们要压实责任。", "leaked"),
        ("标题\n文种：讲话稿\n我们要压实责任。", "leaked"),
        ("标题\n我们要压实责任。\n（讲话稿内容可参考提纲，具体细节可根据实际情况调整）", "leaked"),
        ("标题\n我们要压实责任。以上就是我今天的工作安排。", "leaked"),
        ("标题\n我今天非常荣幸能够站在这里讲话。", "register"),
        ("标题\n我是云岗市副市长，今天召开全市医保基金监管动员会。", "register"),
        ("标题\n一、压实责任\n我们要压实责任。\n一、压实责任\n我们要狠抓落实。", "repeat"),
        ("标题\n我们要压实企业主体责任。我们要压实企业主体责任。", "repeat"),
        ("标题\n一、压实责任\n（一）健全体系\n要抓好。\n（三）强化考核\n要抓好考核。", "numbering"),
        ("标题\n我们将从以下几个方面入手：\n1. 加强培训教育，提升业务能力。", "numbering"),
        ("标题\n为此，我们建议采取以下具体措施：\n二、压实责任\n要抓好。", "fragment"),
    ],
)
def test_each_mechanical_defect_is_found(brief: Brief, text: str, kind: str) -> None:
    assert kinds(text, brief, [])[kind] >= 1


def test_one_item_lists_and_empty_announcements_are_repaired(brief: Brief) -> None:
    outline = quick_outline(brief)
    h = [s.heading for s in outline.body_sections]
    answer = "\n".join(
        [
            "同志们：\n今天召开这次会议，主要是部署今年的安全生产工作。",
            f"一、{h[0]}\n今年以来全县发生事故3起，形势依然严峻。\n我们将从以下几个方面入手，确保各项工作落实到位：\n"
            "1. 加强培训和教育，定期组织企业负责人进行安全培训。",
            f"二、{h[1]}\n企业主要负责人要亲自抓、负总责。\n1. 压实企业主体责任，企业要落实全员责任制。\n"
            "2. 压实属地管理责任，乡镇要守土有责。",
            f"三、{h[2]}\n各级各部门要把安全生产摆在突出位置。\n为此，我们建议采取以下具体措施：",
            "同志们，让我们以更加务实的作风，坚决打好安全生产攻坚战！",
        ]
    )
    llm = RoutedFakeChat(routes=writer_routes(**{BODY_MARKER: [answer]}), default="好。")
    draft = write_draft(brief, outline, [], llm)
    text = "\n".join([draft.title, draft.body_text])
    assert "以下几个方面入手" not in text and "以下具体措施" not in text  # promises the text did not keep
    assert "加强培训和教育，定期组织企业负责人进行安全培训。" in text and "1. 加强培训" not in text
    assert "1. 压实企业主体责任" in text and "2. 压实属地管理责任" in text  # a real list stays numbered
    assert kinds(text, brief, []) == {k: 0 for k in kinds(text, brief, [])}


def test_parroted_headings_lone_quotes_and_cited_salutations_are_repaired(brief: Brief) -> None:
    outline = quick_outline(brief)
    h = [s.heading for s in outline.body_sections]
    core = [x.split("、", 1)[1] if x[:2].endswith("、") else x for x in h]
    answer = "\n".join(
        [
            "同志们：[1]\n今天召开这次会议，主要是部署今年的安全生产工作。",
            f"一、{h[0]}\n会议的目的是为了{core[0]}；\n为了进一步{core[0]}，我们要加强宣传教育和培训，落实管理制度。\n"
            "“安全生产是头等大事，必须时刻绷紧这根弦。今年以来全县发生事故3起，形势依然严峻。",
            f"二、{h[1]}\n接下来，我们要{core[1]}。\n企业主要负责人要亲自抓、负总责，乡镇要守土有责。",
            f"三、{h[2]}\n各级各部门要把安全生产摆在突出位置，决不能有丝毫懈怠。",
            "同志们，让我们以更加务实的作风，坚决打好安全生产攻坚战！",
        ]
    )
    llm = RoutedFakeChat(routes=writer_routes(**{BODY_MARKER: [answer]}), default="好。")
    draft = write_draft(brief, outline, [], llm)
    body = draft.body_text
    assert "同志们：\n" in body + "\n" and "同志们：[" not in body
    for c in core[:2]:
        assert body.count(c) == 1, c  # only in its heading
    assert "我们要加强宣传教育和培训，落实管理制度。" in body  # the sentence's own content stays
    assert "安全生产是头等大事，必须时刻绷紧这根弦。" in body and body.count("“") == body.count("”")
    assert "企业主要负责人要亲自抓" in body
    found = kinds("\n".join([draft.title, body]), brief, [])
    assert sum(found.values()) == 0, found


def test_key_point_headings_and_gap_labels_are_never_cut_inside_a_word() -> None:
    from drafting.writing.text import short_heading, short_label

    point = "医保基金是人民群众的“看病钱”“救命钱”，监管只能加强不能削弱，要把专项整治作为今年的头等大事抓紧抓实"
    heading = short_heading(point)
    assert heading == "医保基金是人民群众的“看病钱”“救命钱”，监管只能加强不能削弱"
    assert short_label(heading) == "医保基金"  # not "医保基金是人民群" nor one ending on 是
    assert short_label("推进医保智能监控全覆盖，强化大数据筛查") == "推进医保智能监控"


def test_thanks_end_the_speech_and_a_cited_documents_year_is_no_gap(brief: Brief) -> None:
    outline = quick_outline(brief)
    h = [s.heading for s in outline.body_sections]
    answer = "\n".join(
        [
            "同志们：\n今天召开这次会议，主要是部署今年的安全生产工作。",
            f"一、{h[0]}\n2023年国务院《政府工作报告》提出“人民至上、生命至上”，今年以来全县发生事故3起。",
            f"二、{h[1]}\n企业主要负责人要亲自抓、负总责，乡镇要守土有责。",
            f"三、{h[2]}\n让我们一起行动起来，为全县安全生产形势持续稳定而努力！谢谢大家！\n"
            "各级各部门要把安全生产摆在突出位置，决不能有丝毫懈怠。",
        ]
    )
    assert kinds("标题\n" + answer, brief, [])["register"] >= 1  # thanks before the end is found
    llm = RoutedFakeChat(routes=writer_routes(**{BODY_MARKER: [answer]}), default="好。")
    draft = write_draft(brief, outline, [], llm)
    body = draft.body_text
    assert body.rstrip().endswith("谢谢大家！") and body.count("谢谢大家！") == 1
    assert "2023年国务院《政府工作报告》" in body  # the year of a cited document stays


def test_gap_labels_are_whole_words() -> None:
    from drafting.checks.facts import placeholder_for

    for text, label in [
        ("去年，我们在全市范围内追回医保基金2870万元", "〔待补：追回医保基金金额〕"),
        ("暂停了医保服务协议的定点机构14家", "〔待补：定点机构家数〕"),
        ("全县共发生各类生产安全事故11起", "〔待补：各类生产安全事故起数〕"),
    ]:
        fact = find_facts(text)[0]
        assert placeholder_for(fact, text[: fact.start]) == label


def test_pasted_offers_become_sentences(brief: Brief) -> None:
    from drafting.checks import gate

    ctx = gate._Context.build(brief, [], [], [])
    lines = [
        "“欲速则不达，见小利则大事不成。”（《论语·子路》）",
        "“坚持稳中求进工作总基调”（2025年国务院政府工作报告）",
    ]
    fixed, found = gate.clean_lines(lines, ctx, seen=[], fix=True, headings_seen=set())
    assert fixed == [
        "《论语·子路》中讲：“欲速则不达，见小利则大事不成。”",
        "2025年国务院《政府工作报告》提出“坚持稳中求进工作总基调”。",
    ]
    assert [d.kind for d in found] == [DefectKind.LEAKED, DefectKind.LEAKED]


def test_a_clean_text_has_no_defects(brief: Brief) -> None:
    text = (
        "在全县安全生产工作会议上的讲话\n同志们：\n今天召开这次会议，主要是分析形势、部署任务。\n"
        "一、认清形势\n今年以来全县发生事故3起，〔待补：同比变化〕。我们要清醒看到风险仍然不少。\n"
        "二、压实责任\n（一）压实企业主体责任\n企业主要负责人要亲自抓。\n（二）压实属地责任\n乡镇要守土尽责。"
    )
    assert sum(kinds(text, brief, [FANWEN]).values()) == 0


# The planted answer, in pieces: opening, three parts, closing.
PLANTED = [
    "同志们：\n我今天非常荣幸能够站在这里，为全县安全生产工作会议上的讲话。今天召开这次会议，就是要统一思想。",
    "一、{h1}\n去年，全县共发生各类生产安全事故11起、死亡6人，同比分别下降26.7%和33.3%。\n"
    "去年全县事故总数是11起，全县排查隐患4300余处。\n"
    "我们必须清醒看到，一些企业安全投入不足、从业人员培训流于形式的问题依然比较突出。\n"
    "【三、组织保障和责任落实】\n目的：提出要求，鼓舞动员。\n"
    "的宣传教育活动，要常抓不懈。今年以来全县发生事故3起，形势依然严峻。",
    "（一）压实企业主体责任\n企业主要负责人要亲自抓、负总责。\n（三）压实属地管理责任\n"
    "乡镇要守土有责、守土尽责。乡镇要守土有责、守土尽责。\n我们将通过举办讲座、展览、宣传栏",
    "各级各部门要把安全生产摆在更加突出的位置，决不能有丝毫懈怠。\n好。",
    "同志们，让我们以更加务实的作风，坚决打好安全生产攻坚战！",
]


def test_write_draft_passes_every_draft_through_the_gate(brief: Brief) -> None:
    outline = quick_outline(brief)
    h = [s.heading for s in outline.body_sections]
    planted = "\n".join(
        [PLANTED[0], PLANTED[1].format(h1=h[0]), f"二、{h[1]}", PLANTED[2], f"三、{h[2]}", *PLANTED[3:]]
    )
    routes = writer_routes(**{BODY_MARKER: [planted]})
    llm = RoutedFakeChat(routes=routes, default="好。")
    draft = write_draft(brief, outline, [FANWEN], llm)
    text = "\n".join([draft.title, draft.body_text])
    left = kinds(text, brief, [FANWEN])
    assert sum(left.values()) == 0, left
    for planted in ("荣幸", "11起", "26.7%", "从业人员培训流于形式", "【", "目的：", "的宣传教育", "宣传栏", "好。"):
        assert planted not in text
    assert "今年以来全县发生事故3起" in text  # the writer's own fact stays
    assert "〔待补：" in text and placeholders_in([text])  # the borrowed figure became a visible gap
    assert text.count("乡镇要守土有责、守土尽责。") == 1
    assert "（二）压实属地管理责任" in text  # numbering repaired
    assert draft.sections[1].text.count(h[0]) == 0  # the part's own heading written again is dropped


def test_facts_and_placeholders() -> None:
    facts = find_facts("2025年3月15日，排查隐患4300余处，占比26.7%，〔待补：事故起数〕，第3条。")
    assert [(f.kind, f.text) for f in facts] == [
        (FactKind.DATE, "2025年3月15日"),
        (FactKind.NUMBER, "4300余处"),
        (FactKind.NUMBER, "26.7%"),
    ]


@pytest.mark.parametrize(
    "text", ["部分乡镇责任落实不到位", "一些村干部作风不实", "这个县的经验", "两个乡镇先行试点", "个别县区工作滞后"]
)
def test_quantified_places_are_not_names(text: str) -> None:
    # "部分乡镇" is not a place called 部分乡: flagging it would put 〔待补〕 where nothing is missing.
    assert [f.text for f in find_facts(text) if f.kind == FactKind.PLACE] == []


def test_named_places_are_found() -> None:
    assert [f.text for f in find_facts("青山县东岭镇和江川市") if f.kind == FactKind.PLACE] == [
        "青山县",
        "东岭镇",
        "江川市",
    ]


@pytest.mark.parametrize(
    ("request_text", "genre"),
    [
        ("请撰写一篇2000字左右的关于街道调解主任化解邻里纠纷的事迹材料作为先进事迹报告会的演讲稿", "先进事迹报告"),
        ("为县长起草在全县安全生产工作会议上的讲话，约1500字", "讲话稿"),
        ("替局长写一篇在全市营商环境大会上的表态发言", "表态发言"),
        ("写一篇在招商推介会开幕式上的欢迎辞", "致辞"),
        ("起草全县人才工作会议的主持词", "主持词"),
        ("给区委副书记写一份表彰大会上的主持词，议程：宣读表彰决定、颁奖、区委书记讲话", "主持词"),
        ("在表彰大会上的讲话，介绍先进事迹", "讲话稿"),
        ("帮我写一份今年的述职报告", "述职报告"),
        ("写一篇关于农村养老服务的调研报告", "调研报告"),
        ("写一篇学习新修订条例的心得体会", "心得体会"),
        ("关于申请防汛物资经费的请示", "请示"),
    ],
)
def test_genre_is_recognised_and_explained(request_text: str, genre: str) -> None:
    assert detect_genre(request_text)[0] == genre
    brief = brief_from_request(request_text)
    assert brief.genre == genre and genre in brief.genre_note


def test_every_genre_in_the_yaml_is_a_domain_genre() -> None:
    from drafting.domain import GENRES

    assert set(genre_names()) == set(GENRES)


def test_quick_outline_is_about_the_occasion_and_carries_every_principle() -> None:
    brief = brief_from_request("为县长起草在全县安全生产工作会议上的讲话，约1500字")
    outline = quick_outline(brief)
    assert brief.genre == "讲话稿" and topic_of("", brief.occasion, "", []) == "安全生产"
    assert all("安全生产" in s.heading for s in outline.body_sections)
    carried = {p for s in outline.body_sections for p in s.principles}
    assert carried >= {
        Criterion.TONGTIANQI,
        Criterion.JIEDIQI,
        Criterion.JURENQI,
        Criterion.YICAIQI,
        Criterion.XIANBAQI,
    }
    assert sum(s.budget for s in outline.sections) == 1500


def test_off_topic_passages_are_not_handed_to_the_model() -> None:
    query = "在国际法律论坛上关于司法改革的致辞"
    on_topic = Passage(chunk_id="a", doc_id="a", title="司法改革", text="深化司法体制综合配套改革，推进国际法治合作。")
    off_topic = Passage(chunk_id="b", doc_id="b", title="基层减负", text="持续为基层减负，改革考核方式。")
    kept = relevant_passages(query, [on_topic, off_topic])
    assert [p.chunk_id for p in kept] == ["a"] and kept[0].why.startswith("与任务共有的关键词")


def test_names_and_numbers_are_matched_whole(brief: Brief) -> None:
    b = brief.model_copy(update={"facts": "2026年全县发生事故3起"})
    found = find_defects("标题\n我们要全力推动青山县建设。全年死亡6人。", brief=b, passages=[FANWEN])
    # "青山县" is found inside a longer run of characters; "6" is not the "6" of "2026".
    assert [(d.kind, d.text) for d in found] == [
        (DefectKind.TRANSPLANTED_FACT, "青山县"),
        (DefectKind.TRANSPLANTED_FACT, "6人"),
    ]


def test_salutations_and_talk_about_the_text(brief: Brief) -> None:
    assert kinds("标题\n尊敬的各位领导、各位同仁，\n今天我们在这里交流经验。", brief, [])["fragment"] == 0
    leaked = kinds("标题\n下面我将详细阐述这一部分的内容。\n我们可以引用“有备无患”的古语。", brief, [])["leaked"]
    assert leaked == 2


def test_a_speech_quotes_one_offered_classic_verbatim(brief: Brief) -> None:
    from drafting.checks.bankcheck import check_quotes
    from drafting.writing.banks import used_entries
    from drafting.writing.draft import bank_extras

    outline = quick_outline(brief)
    draft = write_draft(brief, outline, [], RoutedFakeChat(routes=writer_routes()))
    offered = bank_extras(brief)[1]
    used = used_entries(draft.body_text).classics
    assert used and used[0].text == offered[0].text  # the model ignored the offer: the first line was added
    carrier = next(
        s
        for s in draft.sections
        if s.kind == "body" and Criterion.YICAIQI in outline.sections[draft.sections.index(s)].principles
    )
    assert offered[0].source in carrier.text
    assert not [f for f in check_quotes(draft.body_text) if f.severity in ("error", "warning")]


# --- invented quotations, echoed instructions, empty labels, bullets (issue 11, eval drafts of 2026-11-27) ----


def _through_writer(brief: Brief, answer: str) -> str:
    """The body the pipeline keeps when the writer model answers ``answer``."""
    fake = RoutedFakeChat(routes={BODY_MARKER: [answer]}, default="")
    return write_draft(brief, quick_outline(brief), [], fake).body_text


def test_a_quotation_put_in_a_leaders_mouth_that_nobody_gave_is_removed(brief: Brief) -> None:
    text = (
        "标题\n习近平提出“只有把人民放在心中，才能做到无微不至。”\n"
        "“在实践中不断探索和总结，才能更好地实现自己的目标。”（毛泽东）\n"
        "古人云：“天下难事，必作于易。”\n"
    )
    found = [d.text for d in find_defects(text, brief=brief, passages=[]) if d.detail == "无法核实的引语"]
    # The bank's line checks out; the two lines no source has are invented.
    assert found == ["只有把人民放在心中，才能做到无微不至。", "在实践中不断探索和总结，才能更好地实现自己的目标。"]
    # A quotation the writer supplied is theirs to use.
    own = brief.model_copy(update={"policy": "习近平总书记强调，只有把人民放在心中，才能做到无微不至。"})
    assert not [d for d in find_defects(text, brief=own, passages=[]) if d.text.startswith("只有把人民")]
    body = _through_writer(brief, "一、压实安全责任\n" + "\n".join(text.splitlines()[1:]) + "\n各单位要抓实抓细。")
    assert "无微不至" not in body and "自己的目标" not in body
    assert "各单位要抓实抓细" in body


def test_a_sentence_that_restates_the_writing_job_is_removed() -> None:
    brief = Brief(
        genre="先进事迹报告",
        length=800,
        request="请撰写一篇800字左右的关于街道调解主任在疫情期间坚持化解邻里纠纷的事迹材料作为先进事迹报告会的演讲稿",
    )
    text = "标题\n我今天以街道调解主任的事迹作为先进事迹报告会的演讲稿。街道调解主任周秀兰化解了邻里纠纷。\n"
    found = find_defects(text, brief=brief, passages=[])
    assert [d.text for d in found if d.detail == "复述写作要求"] == [
        "我今天以街道调解主任的事迹作为先进事迹报告会的演讲稿。"
    ]


def test_empty_labels_and_markdown_bullets_do_not_survive(brief: Brief) -> None:
    answer = (
        "一、压实安全责任\n- 各乡镇要落实属地责任，县直部门要落实监管责任。\n具体措施：\n要求：\n"
        "二、抓好隐患排查\n下一步工作：\n各企业要开展自查自纠，做到隐患清零。\n未来努力方向：\n"
    )
    text = "标题\n" + answer
    details = [d.detail for d in find_defects(text, brief=brief, passages=[])]
    assert details.count("空的小标签") == 3  # "下一步工作：" has a paragraph under it
    body = _through_writer(brief, answer)
    assert "具体措施：" not in body and "要求：" not in body and "未来努力方向" not in body
    assert "- " not in body and "各乡镇要落实属地责任" in body and "下一步工作：" in body


def test_dropping_a_repeat_never_leaves_half_a_quotation(brief: Brief) -> None:
    answer = (
        "一、压实安全责任\n各乡镇要把安全责任落实到每一个岗位。\n"
        "他坚持“各乡镇要把安全责任落实到每一个岗位。把服务送到家门口。”的理念，群众普遍认可。\n"
    )
    body = _through_writer(brief, answer)
    assert "”的理念" not in body or "“各乡镇" in body
    assert body.count("“") == body.count("”")


def test_local_asks_stay_out_of_stories_ceremonies_and_quotations() -> None:
    from drafting.writing.principles import ensure_principles

    story = Brief(genre="事迹材料", length=700, title="吴德明同志先进事迹", speaker="县卫生健康局")
    outline = quick_outline(story)
    parts = {i: (["他三十年坚守在山村卫生室。"] if s.kind == "body" else []) for i, s in enumerate(outline.sections)}
    assert ensure_principles(parts, outline, story) is False
    assert all("待补" not in x for v in parts.values() for x in v)
    speech = Brief(genre="讲话稿", occasion="全县安全生产工作会议", speaker="县长", length=900)
    outline = quick_outline(speech)
    body = [i for i, s in enumerate(outline.sections) if s.kind == "body"]
    parts = {i: [] for i in range(len(outline.sections))}
    parts[body[0]] = ["“人无远虑，必有近忧。”（《论语·卫灵公》）", "安全生产要常抓不懈。"]
    ensure_principles(parts, outline, speech)
    text = "\n".join(parts[body[0]])
    assert "“人无远虑，必有近忧。”（《论语·卫灵公》）" in text  # the quotation and its source stay together
    assert "待补" in text


def test_a_host_script_walks_the_agenda_without_numbered_headings() -> None:
    brief = brief_from_request(
        "为镇长写一份全镇秋季森林防火工作部署会的主持词，400字左右。会议议程：一是分管副镇长通报前期森林防火工作情况；"
        "二是各村支部书记签订责任书；三是县林业局同志讲解防火知识；四是镇党委书记讲话。"
    )
    outline = quick_outline(brief)
    assert brief.genre == "主持词"
    assert [s.heading for s in outline.sections if s.kind == "body"] == [
        "分管副镇长通报前期森林防火工作情况",
        "各村支部书记签订责任书",
        "县林业局同志讲解防火知识",
        "镇党委书记讲话",
    ]
    answer = (
        "同志们，现在开会。今天召开全镇秋季森林防火工作部署会，主要任务是部署今冬明春的森林防火工作。\n"
        "第一部分：分管副镇长通报前期森林防火工作情况\n下面，请分管副镇长通报前期森林防火工作情况。\n"
        "下面，请各村支部书记上台签订森林防火责任书。\n"
        "下面，请县林业局的同志讲解森林防火知识，大家要认真听、记在心。\n"
        "下面，请镇党委书记作重要讲话，大家欢迎。\n"
        "同志们，会后各村要把责任落实到山头地块。现在我宣布，散会。\n"
    )
    fake = RoutedFakeChat(routes={BODY_MARKER: [answer]}, default="")
    draft = write_draft(brief, outline, [], fake)
    prompt = fake.calls[0]["all"]
    assert "不写小标题" in prompt and "第一部分：" in prompt and "一、分管" not in prompt
    body = draft.body_text
    assert not any(line.startswith(("一、", "二、", "第一部分")) for line in body.splitlines())
    assert "请各村支部书记上台签订森林防火责任书" in body and "散会" in body
    # A work speech keeps its numbered headings.
    speech = Brief(genre="讲话稿", occasion="全县安全生产工作会议", speaker="县长", length=900)
    speech_body = write_draft(speech, quick_outline(speech), [], RoutedFakeChat(routes=writer_routes())).body_text
    assert any(line.startswith("一、") for line in speech_body.splitlines())


def test_the_wish_and_the_thanks_end_a_welcome_speech_and_no_quote_precedes_the_greeting() -> None:
    brief = Brief(genre="致辞", occasion="松溪县非物质文化遗产展演周开幕式", speaker="县长", length=500)
    outline = quick_outline(brief)
    assert not any("{" in s.heading or "正当其时" in s.heading for s in outline.sections)
    answer = (
        "尊敬的各位来宾：\n大家好！我是松溪县人民政府县长。我代表县人民政府向各位来宾表示热烈的欢迎！\n"
        "松溪的竹编和采茶戏有着深厚的历史底蕴，是祖辈留给我们的宝贵财富。\n"
        "最后，我预祝展演周圆满成功！\n希望社会各界关心支持非遗保护传承，让老手艺焕发新光彩。\n谢谢大家！\n"
    )
    draft = write_draft(brief, outline, [], RoutedFakeChat(routes={BODY_MARKER: [answer]}, default=""))
    lines = draft.body_text.splitlines()
    assert lines[-1].endswith("预祝展演周圆满成功！谢谢大家！")
    assert "让老手艺焕发新光彩" in draft.body_text and "我是松溪县人民政府县长" not in draft.body_text
    greeting = next(x for x in lines if "大家好" in x)
    assert greeting.startswith("大家好") or greeting.startswith("尊敬的")  # a quotation never opens before the greeting


def test_sub_headings_repeated_in_a_later_part_are_removed(brief: Brief) -> None:
    answer = (
        "一、提高站位、统一思想，切实增强做好安全生产工作的责任感紧迫感\n（一）压实企业主体责任\n各企业要落实全员安全生产责任制。\n"
        "二、聚焦重点、精准发力，扎实推进安全生产各项任务落地见效\n（一）压实企业主体责任\n（二）抓好隐患排查整治\n各乡镇要开展拉网式排查。\n"
    )
    body = _through_writer(brief, answer)
    assert body.count("压实企业主体责任") == 1
    assert "（二）抓好隐患排查整治" not in body or "（一）压实" in body.split("二、")[0]


def test_what_the_model_writes_after_its_thanks_is_not_part_of_the_speech() -> None:
    brief = Brief(genre="致辞", occasion="松溪县非物质文化遗产展演周开幕式", speaker="县长", length=150)
    answer = (
        "尊敬的各位来宾：\n大家好！我代表县人民政府向各位来宾表示热烈的欢迎！松溪的竹编和采茶戏有着深厚的历史底蕴。\n"
        "“仓廪实则知礼节，衣食足则知荣辱。”（《管子·牧民》）让我们携手共进，共同推动松溪文化繁荣发展。\n"
        "最后，祝愿各位来宾在松溪度过愉快的时光！谢谢大家！\n\n（署名：松溪县人民政府县长）\n2026年XX月XX日\n"
        "（一）展望以非遗促进文旅融合\n1. 建立非物质文化遗产保护传承体系。\n（二）基层和群众身边的具体事、具体数字\n"
    )
    body = _through_writer(brief, answer)
    assert body.endswith("谢谢大家！")
    assert "署名" not in body and "XX" not in body and "具体数字" not in body and "保护传承体系" not in body
    assert "《管子·牧民》中讲：“仓廪实则知礼节，衣食足则知荣辱。”让我们携手共进" in body


def test_the_writers_persona_a_second_greeting_and_a_note_to_the_writer_are_removed(brief: Brief) -> None:
    answer = (
        "同志们，大家好！今天召开全县安全生产工作会议，部署今年的安全生产工作。\n"
        "一、提高站位、统一思想，切实增强做好安全生产工作的责任感紧迫感\n"
        "我是县长，履行着党政机关的文字秘书职责，负责起草讲话稿和公文。各乡镇要压实属地责任。\n"
        "各位领导、各位代表，大家好！各企业要落实全员安全生产责任制。\n以上是根据您的提纲和要求编写的讲话全文。\n"
    )
    body = _through_writer(brief, answer)
    assert "各位代表，大家好" not in body and "文字秘书" not in body and "以上是根据" not in body
    assert "各乡镇要压实属地责任" in body and "各企业要落实全员安全生产责任制" in body


def test_a_greeting_is_said_once() -> None:
    brief = Brief(genre="述职报告", occasion="街道主要负责同志年度述职评议会", speaker="街道办事处主任", length=400)
    text = "标题\n尊敬的各位领导、各位代表，大家好！我是清源街道办事处主任。\n一、履职尽责\n我们完成了年度任务。\n各位领导、各位代表，大家好！感谢大家的信任。\n"
    found = find_defects(text, brief=brief, passages=[])
    assert [d.text for d in found if d.detail == "问候语重复"] == ["各位领导、各位代表，大家好！"]


def test_bank_lines_pasted_without_quotation_marks_become_prose(brief: Brief) -> None:
    answer = (
        "一、提高站位、统一思想，切实增强做好安全生产工作的责任感紧迫感\n各乡镇要压实属地责任。\n"
        "其安易持，其未兆易谋；其脆易泮，其微易散。\n安全生产治本攻坚三年行动（2025年国务院政府工作报告）\n"
        "为之于未有，治之于未乱。\n各企业要落实全员安全生产责任制。\n"
    )
    body = _through_writer(brief, answer)
    assert (
        "2025年国务院《政府工作报告》提出“安全生产治本攻坚三年行动”。" in body
        or "明确部署“安全生产治本攻坚三年行动”" in body
    )
    assert body.count("其安易持") == 1 and "中讲：“其安易持" in body  # the whole line once, with its source
    assert "\\n为之于未有" not in body and not any(x.startswith("为之于未有") for x in body.splitlines())


def test_prompt_words_as_sub_headings_and_nested_pasted_offers(brief: Brief) -> None:
    answer = (
        "一、提高站位、统一思想，切实增强做好安全生产工作的责任感紧迫感\n（一）具体措施和要求\n1. 各乡镇要压实属地责任。\n"
        "2. 各部门要落实监管责任。\n（二）群众身边的具体事、具体数字\n“兜牢基层“三保”底线”（2026年内蒙古自治区政府工作报告）\n"
        "（三）联系上级的部署要求来讲\n（四）压实企业主体责任\n各企业要落实全员安全生产责任制。\n"
    )
    body = _through_writer(brief, answer)
    assert "具体措施和要求" not in body and "具体数字" not in body and "部署要求来讲" not in body
    assert "（一）压实企业主体责任" in body  # renumbered once the prompt's labels are gone
    assert "“兜牢基层“三保”底线”（" not in body and "提出“兜牢基层“三保”底线”" in body


def test_a_part_the_model_never_writes_gets_a_placeholder_and_other_parts_are_still_asked(brief: Brief) -> None:
    outline = quick_outline(brief)
    body = [s.heading for s in outline.sections if s.kind == "body"]
    first = f"同志们：\n今天召开全县安全生产工作会议。\n一、{body[0]}\n各乡镇要压实属地责任，各部门要落实监管责任。\n"

    def more(request: object) -> str:
        # The part asked about is named in the request: the second part gets text, the third only a repeat.
        return (
            "各企业要开展隐患排查，做到隐患清零。"
            if body[1] in str(request)
            else "各乡镇要压实属地责任，各部门要落实监管责任。"
        )

    fake = RoutedFakeChat(routes={BODY_MARKER: [first], "draft.more": [more]}, default="")
    draft = write_draft(brief, outline, [], fake)
    texts = [s.text for s in draft.sections if s.kind == "body"]
    assert "隐患清零" in texts[1]
    assert texts[2].startswith("〔待补：") and texts[2].endswith("的具体内容〕")
    assert len(fake.asked("draft.more")) >= 2  # a part with nothing new does not end the follow-ups


def test_invented_profiles_schools_and_stand_in_names_are_removed() -> None:
    brief = Brief(
        genre="事迹材料",
        length=500,
        title="吴德明同志先进事迹",
        facts="吴德明，1968年生，1995年起在青坪村卫生室行医",
    )
    answer = (
        "一、忠诚担当，始终冲在工作一线\n吴德明，1968年生，毕业于松溪县中医学院，中共党员。他三十年坚守山村卫生室。\n"
        "李强，男，汉族，毕业于某大学，现为某公司员工。\n2. 张华，女，汉族，现为某学校教师。\n"
        "吴德明，男，1968年生，是群众信赖的乡村医生。\n"
    )
    body = _through_writer(brief, answer)
    assert "松溪县中医学院" not in body and "毕业于〔待补：毕业院校〕" in body
    assert "李强" not in body and "张华" not in body and "某公司" not in body
    assert "他三十年坚守山村卫生室" in body and "是群众信赖的乡村医生" in body  # the writer's own person stays


def test_the_subject_comes_from_a_documents_title_not_from_who_issues_it() -> None:
    assert (
        topic_of("关于松溪县校园食品安全状况的调研报告", "县政府常务会议研究校园食品安全工作", "", []) == "校园食品安全"
    )
    assert (
        topic_of("松溪县2026年“非遗进校园”活动实施方案", "县文化和旅游局、县教育局联合印发", "", []) == "“非遗进校园”"
    )
    assert topic_of("南湖区人民政府消费帮扶工作专题会议纪要", "区政府专题会议", "", []) == "消费帮扶"
    assert (
        topic_of("", "2026年松溪县非物质文化遗产展演周开幕式", "", ["对来宾表示欢迎和感谢"]) == "非物质文化遗产展演周"
    )
    assert topic_of("", "全县老旧小区改造推进会", "", []) == "老旧小区改造"
    assert topic_of("在全县安全生产工作会议上的讲话", "全县安全生产工作会议", "", []) == "安全生产"


def test_prompt_wording_and_a_source_left_alone_are_removed(brief: Brief) -> None:
    # What a real draft carried past the gate on 2026-11-27 (eval run decisive3, counted clean then).
    answer = (
        "一、提高站位、统一思想，切实增强做好安全生产工作的责任感紧迫感\n"
        "各乡镇要压实属地责任。\n（《左传·襄公二十五年》）\n"
        "以上就是压实责任的具体措施、要求或事例，希望大家认真履行职责。\n"
        "我们一定要以决策者口吻部署工作、提出要求，第一人称“我”“我们”，有分析、有部署、有要求；\n"
        "（一）大家关心的现实问题\n各企业要落实全员安全生产责任制。\n"
    )
    found = find_defects(answer, brief=brief, passages=[])
    leaked = [d.text for d in found if d.kind is DefectKind.LEAKED]
    assert any("具体措施、要求或事例" in t for t in leaked) and any("决策者口吻" in t for t in leaked)
    assert any("大家关心的现实问题" in t for t in leaked)
    assert [d.text for d in found if d.detail == "孤立的出处"] == ["（《左传·襄公二十五年》）"]
    body = _through_writer(brief, answer)
    assert "左传" not in body and "具体措施、要求" not in body and "决策者口吻" not in body
    assert "现实问题" not in body and "各乡镇要压实属地责任" in body and "各企业要落实全员安全生产责任制" in body


def test_the_prompt_wording_check_leaves_real_documents_alone() -> None:
    # Sentences of real documents that share short runs with the instructions (guidance, tasks, safeguards).
    brief = Brief(genre="意见", occasion="", speaker="县政府", length=800)
    text = (
        "一、总体要求\n坚持以人民为中心，把维护群众的切身利益作为出发点和落脚点。\n"
        "明确指导思想、目标、主要任务和保障措施，确保各项工作落到实处。\n"
    )
    assert not [d for d in find_defects(text, brief=brief, passages=[]) if d.kind is DefectKind.LEAKED]


def test_a_figure_the_writer_spelled_in_chinese_numerals_is_supplied() -> None:
    deeds = Brief(genre="事迹材料", title="扎根山村三十年的乡村医生", length=700, key_points=["带出两名年轻村医"])
    text = "一、坚守\n他扎根山村30年，带出2名年轻村医，管理患者186人。\n"
    unsourced = [d.text for d in find_defects(text, brief=deeds, passages=[]) if d.kind is DefectKind.UNSOURCED_FACT]
    assert unsourced == ["186人"] or unsourced == ["186"], unsourced


def test_a_welcome_speech_carries_no_numbered_lines_and_the_speaker_speaks_for_his_unit() -> None:
    brief = Brief(genre="致辞", occasion="非物质文化遗产展演周开幕式", speaker="松溪县人民政府县长", length=400)
    answer = (
        "尊敬的各位来宾：\n大家好！首先，请允许我代表松溪县人民政府县长向各位来宾表示热烈的欢迎！\n"
        "（一）介绍松溪竹编的保护传承\n松溪竹编历史悠久，工艺精湛。\n"
        "（一）展望以非遗促进文旅融合\n我们将推动非遗与旅游深度融合。\n谢谢大家！\n"
    )
    body = _through_writer(brief, answer)
    assert "（一）" not in body and "代表松溪县人民政府向各位来宾" in body
    assert "松溪竹编历史悠久" in body and "推动非遗与旅游深度融合" in body


def test_an_empty_sub_heading_a_quotation_said_twice_and_a_deadline_gap() -> None:
    brief = Brief(genre="调研报告", title="关于校园食品安全的调研报告", speaker="县市场监管局", length=600)
    answer = (
        "一、基本情况\n《道德经》中讲：“其安易持，其未兆易谋。”全县学校食堂普遍建立了陪餐制度。\n"
        "二、主要问题\n部分乡镇学校食堂管理人员多为兼职。\n（一）对策建议\n"
        "三、对策建议\n部门间检查信息共享机制必须在2026年6月底前建立。\n《道德经》中讲：“其安易持，其未兆易谋；”。\n"
    )
    found = find_defects(answer, brief=brief, passages=[])
    assert [d.text for d in found if d.detail == "空的小标题"] == ["（一）对策建议"]
    assert "引文重复" in [d.detail for d in found if d.kind is DefectKind.REPEAT]
    outline = quick_outline(brief)
    h = [s.heading for s in outline.body_sections]
    text = (
        f"一、{h[0]}\n《道德经》中讲：“其安易持，其未兆易谋。”全县学校食堂普遍建立了陪餐制度。\n"
        f"二、{h[1]}\n部分乡镇学校食堂管理人员多为兼职。\n（一）对策建议\n"
        f"三、{h[2]}\n部门间检查信息共享机制必须在2026年6月底前建立。\n《道德经》中讲：“其安易持，其未兆易谋；”。\n"
    )
    body = write_draft(brief, outline, [], RoutedFakeChat(routes={BODY_MARKER: [text]}, default="")).body_text
    assert "（一）对策建议" not in body and body.count("其安易持") == 1
    assert "必须在〔待补：完成时限〕前建立" in body


def test_a_classical_line_put_in_a_leaders_mouth_goes_back_to_its_book(brief: Brief) -> None:
    text = "标题\n一、提高站位\n安全生产是头等大事。习近平总书记强调：“人无远虑，必有近忧。”我们必须未雨绸缪。\n"
    found = [d for d in find_defects(text, brief=brief, passages=[]) if d.detail == "古语安在领导人名下"]
    assert len(found) == 1
    body = _through_writer(brief, text.split("\n", 1)[1])
    assert "总书记" not in body and "《论语·卫灵公》中讲：“人无远虑，必有近忧。”" in body
    assert "我们必须未雨绸缪" in body


def test_the_thanks_are_said_once(brief: Brief) -> None:
    found = find_defects("标题\n一、压实责任\n各乡镇要压实属地责任。谢谢大家！谢谢大家。\n", brief=brief, passages=[])
    assert [d.detail for d in found if d.kind is DefectKind.REPEAT] == ["致谢重复"]
    assert _through_writer(brief, "一、压实责任\n各乡镇要压实属地责任。谢谢大家！谢谢大家。\n").count("谢谢") == 1


def test_a_letters_close_and_an_unsourced_claim_to_be_the_only_one() -> None:
    brief = Brief(genre="致辞", occasion="非物质文化遗产展演周开幕式", speaker="县长", length=400)
    text = (
        "标题\n尊敬的各位来宾：\n松溪县作为福建省唯一的省级历史文化名城，文化底蕴深厚。\n"
        "我们将为实现第一个百年奋斗目标后的新征程贡献力量。\n此致\n敬礼！\n"
    )
    found = find_defects(text, brief=brief, passages=[])
    assert [d.text for d in found if d.detail.startswith("没有来源")] == ["唯一"]
    assert [d.text for d in found if d.detail == "书信的结尾"] == ["此致", "敬礼！"]
    given = brief.model_copy(update={"facts": "松溪县是福建省唯一的省级历史文化名城"})
    assert not [d for d in find_defects(text, brief=given, passages=[]) if d.detail.startswith("没有来源")]


def test_pasted_offer_lines_empty_items_and_a_gap_named_after_what_it_counts() -> None:
    brief = Brief(genre="表态发言", occasion="全县消费帮扶工作推进会", speaker="县供销社主任", length=500)
    answer = (
        "一、坚决完成今年消费帮扶采购任务\n目前，我社已经完成了300万元的消费帮扶采购任务。\n"
        "“坚持稳中求进工作总基调”（2025年中华人民共和国国务院政府工作报告）\n"
        "“大力提振消费”（2025年中华人民共和国国务院政府工作报告）\n"
        "中试基地利用率不均衡主要体现在以下几个方面：\n1. 地域分布：\n2. 项目类型：\n"
        "1. 地域分布：东部企业需求高，西部利用率低。\n2. 项目类型：大规模验证项目需求高。\n"
    )
    body = _through_writer(brief, answer)
    assert "〔待补：消费帮扶采购任务金额〕" in body or "〔待补：消费帮扶采购任务" in body, body
    assert body.count("政府工作报告") == 1 and "2025年国务院《政府工作报告》提出“坚持稳中求进工作总基调”" in body
    assert "中华人民共和国" not in body
    assert "地域分布：\n" not in body + "\n" and "1. 地域分布：东部企业需求高" in body


def test_a_name_in_quotation_marks_may_be_said_again() -> None:
    brief = brief_from_request("给区委副书记写一份在全区“最美退役军人”表彰大会上的主持词，500字左右。")
    text = (
        "标题\n同志们：\n今天召开全区“最美退役军人”表彰大会。\n"
        "下面，为10名“最美退役军人”颁奖。\n请受表彰的“最美退役军人”代表发言。\n"
    )
    assert not [d for d in find_defects(text, brief=brief, passages=[]) if d.kind is DefectKind.REPEAT]


def test_a_host_announces_nothing_and_leaves_nothing_out() -> None:
    brief = brief_from_request("给区委副书记写一份在全区表彰大会上的主持词，500字左右。")
    text = (
        "标题\n同志们：\n今天非常荣幸能够在这里召开全区表彰大会。\n现在，我宣布：\n"
        "请受表彰的代表上台发言。他们的名字是：(略)。\n"
    )
    found = find_defects(text, brief=brief, passages=[])
    assert {d.detail for d in found} >= {"主持词中不宜出现", "引出下文却没有下文", "说明性文字或提示词"}


def test_what_one_repair_exposes_is_repaired_too() -> None:
    brief = Brief(
        genre="请示",
        title="关于改造退役军人服务中心综合服务大厅的请示",
        speaker="区退役军人事务局",
        length=400,
        key_points=["现有服务大厅面积小、功能不全", "请求事项"],
    )
    outline = quick_outline(brief)
    h = [s.heading for s in outline.body_sections]
    answer = (
        f"一、{h[0]}\n现有服务大厅面积80平方米，难以满足需要。\n"
        f"二、{h[1]}\n现有服务大厅面积小、功能不全的问题，建议区政府批准改造。\n恳请区政府批准改造方案。\n"
    )
    fake = RoutedFakeChat(routes={BODY_MARKER: [answer]}, default="")
    draft = write_draft(brief, outline, [], fake)
    fragments = [d for d in find_defects(draft.body_text, brief=brief, passages=[]) if d.kind is DefectKind.FRAGMENT]
    assert not fragments, draft.body_text
    assert (
        not any(line.startswith("的") for line in draft.body_text.splitlines())
        and "恳请区政府批准改造方案" in draft.body_text
    )


def test_a_placeholder_rewritten_in_other_brackets_is_put_back(brief: Brief) -> None:
    # A 慢稿 rewrite on 2026-11-27 turned 〔待补：提高站位方面的具体数据〕 into [待补：提高站位方面的具体数据].
    body = _through_writer(
        brief, "一、压实责任\n从我县情况看，[待补：提高站位方面的具体数据]。各乡镇要【待补：牵头单位】负责。\n"
    )
    assert "〔待补：提高站位方面的具体数据〕" in body and "〔待补：牵头单位〕" in body and "[待补" not in body


def test_a_quotation_with_a_source_in_neither_bank_is_dropped_not_dressed_up() -> None:
    brief = Brief(title="在全市优化营商环境大会上的讲话", genre="讲话稿", speaker="市长", length=800)
    invented = "“质量第一，信誉至上。”（《习近平关于加强党的政治建设的意见》）"
    text = f"同志们：\n{invented}\n我们要把企业的事当成自己的事来办。"
    found = find_defects(text, brief=brief, passages=[])
    assert [d.detail for d in found] == ["出处无从核对的引文"]
    draft = Draft(
        title=brief.title,
        brief=brief,
        outline=Outline(title=brief.title, sections=[OutlineSection(heading="开头", kind="opening")]),
        sections=[DraftSection(heading="", kind="opening", text=text)],
    )
    body = repair_draft(draft, []).draft.body_text
    assert "质量第一" not in body and "习近平" not in body and "企业的事当成自己的事" in body
    # A bank line pasted with its source is still turned into a spoken citation.
    known = repair_draft(
        draft.model_copy(
            update={
                "sections": [
                    DraftSection(
                        heading="", kind="opening", text="同志们：\n“欲速则不达，见小利则大事不成。”（《论语·子路》）"
                    )
                ]
            }
        ),
        [],
    ).draft.body_text
    assert "《论语·子路》中讲：“欲速则不达" in known


def test_an_adverbial_left_alone_by_a_cut_is_a_fragment() -> None:
    brief = Brief(title="在全市优化营商环境大会上的讲话", genre="讲话稿", speaker="市长", length=800)
    text = "同志们：\n在接下来的工作中。我们要把企业的事当成自己的事来办。"
    assert [d.detail for d in find_defects(text, brief=brief, passages=[])] == ["只有状语的残句"]
    # An adverbial that leads into its sentence is prose.
    assert not find_defects("同志们：\n在接下来的工作中，我们要把企业的事当成自己的事来办。", brief=brief, passages=[])
