"""Quotations and formulations in planted drafts, checked against the banks."""

from __future__ import annotations

import pytest

from drafting.checks.bankcheck import check_formulations, check_quotes, find_quotations


def _rules(text: str) -> list[str]:
    return [f.rule for f in check_quotes(text)]


@pytest.mark.parametrize(
    "text",
    [
        "古人云：“居安思危，思则有备，有备无患。”我们必须牢记。",
        "《荀子·劝学》中说：“不积跬步，无以至千里。”",
        "正如孔子所说：“人无远虑，必有近忧。”",
        "“千丈之堤，以蝼蚁之穴溃”，出自《韩非子·喻老》。",
        "韩愈说过：「业精于勤，荒于嬉」。",
        "古人云：民惟邦本，本固邦宁。",
        "“近者悦，远者来”，出自《论语》。",  # an accepted variant
        "《管子》中说：“仓廪实而知礼节，衣食足而知荣辱。”",  # 史记's wording of 管子, accepted for both
        "《史记》中说：“仓廪实而知礼节，衣食足而知荣辱。”",
    ],
)
def test_a_correct_quotation_passes(text: str) -> None:
    findings = check_quotes(text)
    assert [f.rule for f in findings] == ["quote.ok"]
    assert findings[0].severity == "info"
    assert "《" in findings[0].message  # names the entry it was checked against


def test_a_misquotation_is_flagged_with_the_correct_line_and_source() -> None:
    findings = check_quotes("《荀子》讲：“不积小流，无以成大海。”")
    assert [f.rule for f in findings] == ["quote.misquote"]
    assert findings[0].severity == "error"
    assert "不积小流，无以成大海" in findings[0].message
    assert "不积小流，无以成江海" in findings[0].message
    assert "《荀子·劝学》" in findings[0].message


def test_an_unattributed_line_close_to_a_bank_line_is_a_misquotation() -> None:
    assert _rules("我们常说“凡事预则立，不预则废”。") == ["quote.ok"]  # the modern form is accepted
    findings = check_quotes("我们常说“凡事预则立，不预则败”。")
    assert [(f.rule, f.severity) for f in findings] == [("quote.misquote", "error")]


def test_a_line_of_the_same_pattern_is_questioned_not_corrected() -> None:
    findings = check_quotes("“法者，天下之公器也。”")
    assert [(f.rule, f.severity) for f in findings] == [("quote.misquote", "warning")]
    assert "相近但不一致" in findings[0].message and "《管子·明法解》" in findings[0].message
    assert _rules("古语说：“公生明，廉生威。”") == ["quote.ok"]


def test_an_invented_source_cannot_be_verified() -> None:
    findings = check_quotes("《管子·安民》中说：“安全之道，贵在未雨绸缪而不懈。”")
    assert [f.rule for f in findings] == ["quote.unverified"]
    assert "出处无法核实" in findings[0].message
    assert _rules("古人云：“安全生产无小事，责任重于泰山。”") == ["quote.unverified"]


def test_a_wrong_attribution_is_flagged() -> None:
    findings = check_quotes("“天下难事，必作于易”，出自《论语》。")
    assert [f.rule for f in findings] == ["quote.source"]
    assert "《道德经·第六十三章》" in findings[0].message and "《论语》" in findings[0].message
    assert _rules("孟子说：“学而不思则罔，思而不学则殆。”") == ["quote.source"]


def test_ordinary_quotations_and_modern_sources_are_left_alone() -> None:
    assert check_quotes("要落实“四下基层”制度，做到“接诉即办”。") == []
    assert check_quotes("正如总书记所说：“江山就是人民，人民就是江山。”") == []


def test_modern_speakers_and_documents_are_not_classical_sources() -> None:
    text = (
        "正如邓小平同志所说：“发展才是硬道理，这是最根本的。”全面施行《民营经济促进法》，坚持“两个毫不动摇”。"
        "“十五五”规划《建议》提出，“五大战略定位”，体现了自治区党委《建议》。"
    )
    assert check_quotes(text) == []
    assert check_quotes("毛泽东同志在《论持久战》中说：“兵民是胜利之本。”") == []
    assert check_quotes("《关于加强安全生产工作的意见》中说：“安全生产是民生大事，一丝一毫不能放松。”") == []
    for source in ("《孔子家语》", "《治安策》", "《管子·安民》"):  # a classic the bank does not hold, or no such one
        findings = check_quotes(f"{source}中说：“天下之事，常成于困约而败于奢靡。”")
        assert [f.rule for f in findings] == ["quote.unverified"], source


def test_find_quotations_reads_the_claim_before_or_after() -> None:
    quotes = find_quotations("正如《礼记·中庸》所说：“凡事豫则立。”另外，“积力之所举”，语出《淮南子·主术训》。")
    assert [(q.text, q.claim) for q in quotes] == [
        ("凡事豫则立。", "《礼记·中庸》"),
        ("积力之所举", "《淮南子·主术训》"),
    ]


def test_an_unknown_formulation_is_flagged() -> None:
    text = "我们要落实“三个一律”要求，推进“安全生产大排查大整治”，坚持“统筹发展和安全”。"
    findings = check_formulations(text, brief_text="", material_text="")
    assert [f.position for f in findings] == ["三个一律", "安全生产大排查大整治"]
    assert all(f.rule == "policy.unknown" and "找不到" in f.message for f in findings)


def test_a_formulation_from_the_brief_or_the_material_is_not_flagged() -> None:
    text = "我们要落实“三个一律”要求，推进“安全生产大排查大整治”。"
    assert (
        check_formulations(text, brief_text="上级精神：推进安全生产大排查大整治", material_text="严格执行“三个一律”")
        == []
    )


def test_non_policy_quotations_are_not_formulations() -> None:
    text = "群众说“办事不用跑腿了”，“千丈之堤，以蝼蚁之穴溃”，“好”。"
    assert check_formulations(text) == []
