"""Genre rules: every rule fires on a failing example and stays quiet on a passing one."""

from __future__ import annotations

import pytest

from drafting.checks.lint import BAOGAO_MAX_CHARS, QINGSHI_MAX_CHARS, lint_draft, lint_text
from drafting.domain import Brief, CheckFinding, Draft, DraftSection, Outline

GOOD_QINGSHI = """江川市人民政府：
为保障农村群众饮水安全，现就申请拨付专项资金有关事项请示如下。
一、基本情况
（一）工程现状
1. 全县共有农村供水工程128处。
（1）其中老旧管网12处。
二、申请事项
恳请市人民政府拨付专项资金500万元，用于老旧管网改造。
妥否，请批示。
青山县人民政府
2026年11月23日"""

GOOD_BAOGAO = """江川市人民政府：
现将我县2026年安全生产工作情况报告如下。
一、工作进展
全年未发生较大以上事故。
特此报告。"""


def rules(findings: list[CheckFinding]) -> set[str]:
    return {f.rule for f in findings}


def one(findings: list[CheckFinding], rule: str) -> CheckFinding:
    found = [f for f in findings if f.rule == rule]
    assert len(found) == 1, findings
    return found[0]


def test_good_qingshi_and_baogao_are_clean():
    assert lint_text(GOOD_QINGSHI, "请示", title="关于申请拨付农村饮水安全专项资金的请示") == []
    assert lint_text(GOOD_BAOGAO, "报告", title="青山县人民政府关于2026年安全生产工作情况的报告") == []


def test_unknown_genre_is_one_info_and_general_rules_still_run():
    findings = lint_text("一、甲\n三、乙", "随便")
    info = one(findings, "lint.genre.unknown")
    assert info.severity == "info" and info.message.startswith("未知文种")
    assert "lint.heading.skip" in rules(findings)
    assert "lint.genre.unknown" not in rules(lint_text("一、甲", "通知"))


@pytest.mark.parametrize(("genre", "suggestion"), [("工作总结", "报告"), ("工作安排", "通知"), ("工作计划", "意见")])
def test_non_genres_as_genre_suggest_a_real_one(genre: str, suggestion: str):
    f = one(lint_text("正文。", genre), "lint.genre.not_official")
    assert suggestion in f.message and f.position == "文种"


def test_non_genre_title_suffix_is_flagged_but_a_notice_issuing_a_plan_is_not():
    f = one(lint_text("正文。", "通知", title="青山县2026年工作总结"), "lint.genre.not_official")
    assert f.position == "标题" and "报告" in f.message
    assert "lint.genre.not_official" not in rules(lint_text("正文。", "通知", title="关于印发2026年工作要点的通知"))
    assert one(lint_text("正文。", "方案"), "lint.genre.not_official").severity == "info"


def test_title_form_for_official_genres_only():
    assert "lint.title.form" in rules(lint_text("正文。", "通知", title="做好冬季防火工作的通知"))
    assert rules(lint_text("正文。", "通知", title="青山县人民政府关于做好冬季防火工作的通知")) == set()
    assert rules(lint_text("正文。", "讲话稿", title="在全县安全生产工作会议上的讲话")) == set()
    f = one(lint_text("正文。", "请示", title="关于申请资金的报告"), "lint.title.genre")
    assert "请示" in f.message and f.position == "标题"
    mixed = one(lint_text("正文。", "请示", title="关于申请资金的请示报告"), "lint.title.mixed_genre")
    assert mixed.severity == "error"


def test_heading_numbering_skip_order_and_level():
    good = "一、甲\n（一）子\n1. 孙\n（1）曾孙\n（2）曾孙\n2. 孙\n（二）子\n二、乙\n三、丙"
    assert lint_text(good, "讲话稿") == []
    assert one(lint_text("一、甲\n二、乙\n四、丁", "讲话稿"), "lint.heading.skip").position == "第3行"
    order = lint_text("一、甲\n（二）乙\n（一）甲", "讲话稿")
    assert one(order, "lint.heading.order").position == "第3行"
    assert "（三）" in one(order, "lint.heading.order").message
    level = one(lint_text("一、甲\n1. 直接到三级\n2. 又一个", "讲话稿"), "lint.heading.level_skip")
    assert level.position == "第2行" and "（一）" in level.message
    # a short text numbered only 1. 2. 3. has no missing parent level
    assert lint_text("1. 甲\n2. 乙", "通知") == []
    # sub-numbering restarts under each new parent
    assert lint_text("一、甲\n（一）子\n二、乙\n（一）子", "通知") == []


def test_dates_in_official_documents():
    assert lint_text("于2026年11月23日召开，1月5日结束。", "通知") == []
    assert one(lint_text("于2026.11.23召开。", "通知"), "lint.date.format").message.find("2026年11月23日") > 0
    assert "lint.date.format" in rules(lint_text("于2026-11-23召开。", "讲话稿"))
    assert "lint.date.zero_pad" in rules(lint_text("于2026年01月05日召开。", "通知"))
    assert "lint.date.chinese" in rules(lint_text("二〇二六年十一月召开。\n特此通知。", "通知"))
    # speeches may carry their date in Chinese numerals
    assert lint_text("（二〇二六年十一月二十三日）\n同志们：", "讲话稿") == []


def test_issue_date_in_chinese_numerals_is_an_error():
    text = GOOD_QINGSHI.replace("2026年11月23日", "二〇二六年十一月二十三日")
    f = one(lint_text(text, "请示", title="关于申请资金的请示"), "lint.date.issue_chinese")
    assert f.severity == "error" and f.position == "第11行"
    assert "lint.date.issue_chinese" not in rules(lint_text(GOOD_QINGSHI, "请示", title="关于申请资金的请示"))


def test_qingshi_length_limit():
    long = GOOD_QINGSHI.replace("用于老旧管网改造。", "用于老旧管网改造。" + "改造" * (QINGSHI_MAX_CHARS // 2))
    f = one(lint_text(long, "请示"), "lint.qingshi.length")
    assert str(QINGSHI_MAX_CHARS) in f.message
    assert "lint.qingshi.length" not in rules(lint_text(GOOD_QINGSHI, "请示"))


def test_qingshi_exactly_one_addressee():
    body = GOOD_QINGSHI.split("\n", 1)[1]
    missing = one(lint_text(body, "请示"), "lint.qingshi.addressee")
    assert missing.severity == "error" and "未找到" in missing.message
    two = one(lint_text(body, "请示", addressee="江川市人民政府、江川市财政局"), "lint.qingshi.addressee")
    assert "2个" in two.message
    assert "lint.qingshi.addressee" not in rules(lint_text(body, "请示", addressee="江川市人民政府"))
    # "和" inside a name is not a second addressee
    assert "lint.qingshi.addressee" not in rules(lint_text(body, "请示", addressee="江川市发展和改革委员会"))


@pytest.mark.parametrize(
    "closing", ["特此请示。", "特此请示", "妥否，请批示。", "当否，请批示。", "以上请示如无不妥，请批准。"]
)
def test_qingshi_closing_phrases_accepted(closing: str):
    text = GOOD_QINGSHI.replace("妥否，请批示。", closing)
    assert "lint.qingshi.closing" not in rules(lint_text(text, "请示"))


def test_qingshi_without_closing_phrase_is_flagged():
    text = GOOD_QINGSHI.replace("妥否，请批示。", "我们将管好用好资金。")
    assert one(lint_text(text, "请示"), "lint.qingshi.closing").position == "第9行"


def test_qingshi_one_matter_per_document():
    several = GOOD_QINGSHI.replace(
        "恳请市人民政府拨付专项资金500万元，用于老旧管网改造。",
        "恳请市人民政府：一是拨付专项资金500万元；二是增加事业编制5名；三是批准新建水厂。",
    )
    assert one(lint_text(several, "请示"), "lint.qingshi.one_matter").position == "第8行"
    two_asks = GOOD_QINGSHI.replace("恳请市人民政府拨付专项资金500万元", "申请拨付资金500万元，同时申请增加编制5名")
    assert "lint.qingshi.one_matter" in rules(lint_text(two_asks, "请示"))
    assert "lint.qingshi.one_matter" not in rules(lint_text(GOOD_QINGSHI, "请示"))


def test_request_to_a_peer_is_a_letter_not_a_qingshi():
    peer = GOOD_QINGSHI.replace("恳请市人民政府拨付", "商请贵局拨付")
    assert "函" in one(lint_text(peer, "请示"), "lint.qingshi.should_be_han").message
    body = GOOD_QINGSHI.split("\n", 1)[1]
    same_level = lint_text(body, "请示", addressee="青山县财政局", issuer_rank="县级")
    assert one(same_level, "lint.qingshi.should_be_han").position == "主送机关"
    # the county government asking the city government is a proper 请示
    assert "lint.qingshi.should_be_han" not in rules(
        lint_text(body, "请示", addressee="江川市人民政府", issuer_rank="县")
    )
    # a city department is above a county: no finding
    assert "lint.qingshi.should_be_han" not in rules(
        lint_text(body, "请示", addressee="江川市财政局", issuer_rank="县")
    )
    # "县市场监督管理局" is a county department, not a city one
    assert "lint.qingshi.should_be_han" in rules(
        lint_text(body, "请示", addressee="青山县市场监督管理局", issuer_rank="县")
    )


def test_baogao_length_request_and_closing():
    long = GOOD_BAOGAO.replace("全年未发生较大以上事故。", "安全" * (BAOGAO_MAX_CHARS // 2 + 1))
    assert "lint.baogao.length" in rules(lint_text(long, "报告"))
    asking = GOOD_BAOGAO.replace("全年未发生较大以上事故。", "全年未发生事故。建议增加经费，请予批准。")
    f = one(lint_text(asking, "报告"), "lint.baogao.request")
    assert f.severity == "error" and f.position == "第4行"
    no_close = GOOD_BAOGAO.replace("特此报告。", "我们将继续努力。")
    assert one(lint_text(no_close, "报告"), "lint.baogao.closing").position == "第5行"
    for closing in ("专此报告。", "以上报告，请审阅。"):
        assert "lint.baogao.closing" not in rules(lint_text(GOOD_BAOGAO.replace("特此报告。", closing), "报告"))


def _draft(genre: str, text: str, **brief: str) -> Draft:
    title = brief.pop("title", "关于申请拨付农村饮水安全专项资金的请示")
    b = Brief(genre=genre, title=title, **brief)
    return Draft(
        title=title,
        brief=b,
        outline=Outline(title=title, sections=[]),
        sections=[
            DraftSection(heading="一、申请事项", kind="body", text=text),
            DraftSection(heading="", kind="closing", text="妥否，请批示。"),
        ],
    )


def test_lint_draft_uses_the_brief_addressee_and_issue_date():
    ok = _draft("请示", "恳请拨付资金500万元。", audience="江川市人民政府", date="2026年11月23日")
    assert lint_draft(ok) == []
    no_addressee = _draft("请示", "恳请拨付资金500万元。")
    assert "lint.qingshi.addressee" in rules(lint_draft(no_addressee))
    cn_date = _draft("请示", "恳请拨付资金500万元。", audience="江川市人民政府", date="二〇二六年十一月二十三日")
    assert one(lint_draft(cn_date), "lint.date.issue_chinese").position == "成文日期"
    skipped = _draft("请示", "（二）乙\n（一）甲", audience="江川市人民政府")
    assert one(lint_draft(skipped), "lint.heading.order").position == "第3行"  # lines of draft.paragraphs


BAD = [
    ("一、甲\n二、乙\n四、丁", "讲话稿", "", "lint.heading.skip", "error", "四、丁"),
    ("一、甲\n（二）乙\n（一）甲", "讲话稿", "", "lint.heading.order", "error", "（一）甲"),
    ("一、甲\n1. 直接到三级", "讲话稿", "", "lint.heading.level_skip", "error", "1. 直接到三级"),
    ("正文。", "通知", "青山县关于2026年工作的总结", "lint.genre.not_official", "error", "总结"),
    ("正文。", "报告", "关于申请资金的请示报告", "lint.title.mixed_genre", "error", "请示报告"),
    (
        GOOD_BAOGAO.replace("全年未发生较大以上事故。", "全年未发生事故。建议增加经费，请予批准。"),
        "报告",
        "",
        "lint.baogao.request",
        "error",
        "建议增加经费，请予批准。",
    ),
    (
        GOOD_QINGSHI.replace("恳请市人民政府拨付专项资金500万元", "申请拨付资金500万元，同时申请增加编制5名"),
        "请示",
        "",
        "lint.qingshi.one_matter",
        "error",
        "申请拨付资金500万元，同时申请增加编制5名，用于老旧管网改造",
    ),
    (
        GOOD_QINGSHI.replace("妥否，请批示。", "我们将管好用好资金。"),
        "请示",
        "",
        "lint.qingshi.closing",
        "warning",
        "我们将管好用好资金。",
    ),
    (
        GOOD_BAOGAO.replace("特此报告。", "我们将继续努力。"),
        "报告",
        "",
        "lint.baogao.closing",
        "warning",
        "我们将继续努力。",
    ),
    ("于2026.11.23召开。", "通知", "", "lint.date.format", "warning", "2026.11.23"),
    ("正文。", "通知", "做好冬季防火工作的通知", "lint.title.form", "warning", "做好冬季防火工作的通知"),
    ("正文。", "请示", "关于申请资金的报告", "lint.title.genre", "warning", "关于申请资金的报告"),
    (
        GOOD_QINGSHI.replace("恳请市人民政府拨付", "商请贵局拨付"),
        "请示",
        "",
        "lint.qingshi.should_be_han",
        "warning",
        "商请",
    ),
]


@pytest.mark.parametrize(("text", "genre", "title", "rule", "severity", "quote"), BAD, ids=[b[3] for b in BAD])
def test_every_finding_quotes_the_offending_text_and_wrong_documents_are_errors(
    text, genre, title, rule, severity, quote
):
    f = one(lint_text(text, genre, title=title), rule)
    assert f.severity == severity
    assert f.quote == quote and f.quote[:10] in f.message
    assert f.quote in text or f.quote in title


def test_non_genre_word_is_an_error_only_in_an_official_title():
    assert one(lint_text("正文。", "通知", title="青山县2026年工作总结"), "lint.genre.not_official").severity == "error"
    spoken = one(lint_text("正文。", "讲话稿", title="青山县2026年工作总结"), "lint.genre.not_official")
    assert spoken.severity == "warning" and spoken.quote == "工作总结"
