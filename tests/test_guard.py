"""The stream guard: an answer that starts saying the draft again, or runs on past its own thanks,
is cut while it streams (issue 14), and what is kept is whole sentences."""

from __future__ import annotations

from drafting.domain import Brief, RevisionMode
from drafting.llm.calls import complete
from drafting.writing.draft import until_thanks, write_draft
from drafting.writing.guard import StreamGuard
from drafting.writing.outline import quick_outline
from drafting.writing.text import follow_up_focuses
from tests.fakes import BODY_MARKER, MORE_MARKER, RoutedFakeChat, prose

WRITTEN = (
    "安全生产是发展的底线，任何时候都不能放松。各乡镇要把隐患排查做在前头，不留死角。"
    "企业要落实主体责任，老板要亲自抓。监管部门要敢于较真碰硬，发现问题就要盯到整改到位。"
)
NEW = [
    "今年汛期来得早，山区道路塌方风险比往年更大。",
    "交通运输部门要对临水临崖路段逐段排查，设好警示标志。",
    "学校周边的校车线路要重新核一遍，司机资质要逐个看过。",
]


def feed(guard: StreamGuard, text: str, size: int = 5) -> str:
    """Stream ``text`` into the guard in pieces; the text read until it said stop."""
    read = ""
    for i in range(0, len(text), size):
        read += text[i : i + size]
        if guard(text[i : i + size]):
            break
    return read


def test_four_sentences_said_again_stop_the_stream_an_echo_does_not() -> None:
    again = WRITTEN
    guard = StreamGuard(WRITTEN)
    read = feed(guard, NEW[0] + again + NEW[1] + NEW[2])
    assert guard.reason == "repeat"
    assert NEW[1] not in read  # stopped in the piece that finished the fourth repeat
    assert guard.trim(read) == NEW[0] + again  # and kept up to its end

    # Sentences said again (a follow-up restating its part before it goes on), then new ones.
    echo = "安全生产是发展的底线，任何时候都不能放松。各乡镇要把隐患排查做在前头，不留死角。企业要落实主体责任，老板要亲自抓。"
    guard = StreamGuard(WRITTEN)
    assert feed(guard, NEW[0] + echo + NEW[1] + NEW[2]) == NEW[0] + echo + NEW[1] + NEW[2]
    assert guard.reason == ""


def test_an_answer_looping_on_itself_is_stopped() -> None:
    loop = (NEW[0] + NEW[1]) * 4 + NEW[2]
    guard = StreamGuard()
    read = feed(guard, loop)
    assert guard.reason == "repeat" and read.count(NEW[0]) == 3 and NEW[2] not in read


def test_a_separator_after_the_thanks_ends_the_piece_however_short() -> None:
    answer = f"同志们：\n{NEW[0]}\n谢谢大家！\n\n---\n\n**结尾：**\n同志们：\n会议已经结束，希望大家继续坚守岗位。\n谢谢大家！"
    guard = StreamGuard()
    read = feed(guard, answer)
    assert guard.reason == "after-end" and "会议已经结束" not in read
    # The draft keeps the piece up to that thanks even though it is far below the target.
    assert until_thanks(answer, 1500).endswith(f"{NEW[0]}\n谢谢大家！")
    # Without a separator, an early thanks is not taken as the end (a speech may thank in its opening).
    plain = f"同志们：\n{NEW[0]}谢谢大家！\n{NEW[1]}"
    assert until_thanks(plain, 1500) == plain


def test_complete_stops_reading_when_told() -> None:
    again = WRITTEN
    llm = RoutedFakeChat(default=NEW[0] + again + NEW[1] * 20)
    pieces: list[str] = []
    guard = StreamGuard(WRITTEN)
    text = complete(llm, [("user", "写")], stage="draft", on_token=pieces.append, stop=guard)
    assert "".join(pieces) == text and len(text) < len(NEW[0] + again) + 8  # nothing after that piece was read
    assert guard.trim(text) == NEW[0] + again
    assert complete(llm, [("user", "写")], stage="draft") == NEW[0] + again + NEW[1] * 20  # no guard: all of it


def test_follow_ups_ask_for_different_things_and_a_repeated_answer_is_cut() -> None:
    brief = Brief(
        title="在全县安全生产工作会议上的讲话",
        genre="讲话稿",
        occasion="全县安全生产工作会议",
        speaker="县长",
        length=1500,
        mode=RevisionMode.URGENT,
    )
    outline = quick_outline(brief)
    body = "同志们：\n" + prose(300, "安全生产责任重于泰山") + "\n谢谢大家！"
    same = prose(300, "排查隐患要到边到角") + "还要再讲一遍新的话。"
    llm = RoutedFakeChat(routes={BODY_MARKER: [body], MORE_MARKER: [same]})
    write_draft(brief, outline, [], llm)
    asks = [c for c in llm.calls if c["stage"] == MORE_MARKER]
    focuses = follow_up_focuses()["speech"]
    asked = [next(f for f in focuses if f in c["prompt"]) for c in asks]
    # Every turn asks for a thing not asked before (the same ask about another part got the same answer).
    assert len(set(asked)) == len(asked) <= len(focuses)
    # The second follow-up's conversation holds the first answer whole; its own answer (the same text
    # again) was cut after four repeated sentences, so the third request carries only that much of it.
    assert len(asks) >= 3
    second_answer = asks[2]["all"][len(asks[1]["all"]) :]
    assert "还要再讲一遍新的话" not in second_answer
    assert len(second_answer) < len(same)


def test_parallel_sentences_that_differ_in_a_word_do_not_stop_it() -> None:
    places = ["县城", "乡镇", "村社", "园区", "企业", "学校"]
    parallel = "".join(f"讲提高政治站位就要压实企业主体责任，{p}要抓实抓细。" for p in places)
    guard = StreamGuard()
    assert feed(guard, parallel + NEW[0]) == parallel + NEW[0] and guard.reason == ""


def test_a_follow_up_stops_at_a_sentence_end_once_it_has_enough() -> None:
    guard = StreamGuard(WRITTEN, enough=40)
    read = feed(guard, "".join(NEW) * 2)
    assert guard.reason == "enough" and guard.trim(read) == NEW[0] + NEW[1]  # 22 + 27 字: the first end past 40


def test_every_genre_has_follow_ups_that_fit_it() -> None:
    from drafting.writing.genres import genre_names, genre_profile

    lists = follow_up_focuses()
    for name in genre_names():
        assert genre_profile(name).follow_ups in lists, name
    # A host links the agenda and a 致辞 welcomes: neither analyses shortcomings or gives orders to the room.
    for kind in (genre_profile("主持词").follow_ups, genre_profile("致辞").follow_ups):
        assert not [f for f in lists[kind] if "不足" in f or "问题" in f]
    assert not [f for f in lists[genre_profile("心得体会").follow_ups] if "在座" in f]


def test_a_follow_up_asks_what_fits_its_part_and_nothing_twice() -> None:
    from drafting.domain import OutlineSection
    from drafting.writing.draft import pick_focus

    brief = Brief(title="关于松溪县校园食品安全状况的调研报告", genre="调研报告", length=1100)
    focuses = follow_up_focuses()["document"]
    used: set[int] = set()
    problems = pick_focus(brief, OutlineSection(heading="存在的主要问题和原因"), used)
    assert "问题" in focuses[problems]
    used.add(problems)
    assert pick_focus(brief, OutlineSection(heading="存在的主要问题和原因"), used) != problems  # never twice
    assert pick_focus(brief, OutlineSection(heading="对策建议"), set(range(len(focuses)))) == -1  # all asked


def test_headings_between_repeated_paragraphs_do_not_hide_the_loop() -> None:
    para = NEW[0] + NEW[1] + "\n"
    loop = para + "【二、为群众办实事】\n" + para + "【三、带出年轻人】\n" + para + NEW[2]
    guard = StreamGuard()
    read = feed(guard, loop)
    assert guard.reason == "repeat" and NEW[2] not in read


def test_a_host_announces_every_agenda_item_even_those_the_model_skipped() -> None:
    from drafting.writing.brief import brief_from_request

    brief = brief_from_request(
        "给南湖区委副书记写一份在全区表彰大会上的主持词，500字左右。大会议程：一是全体起立奏唱国歌；"
        "二是宣读表彰决定；三是为10名先进个人颁奖；四是受表彰代表发言；五是区委书记讲话。"
    )
    outline = quick_outline(brief)
    items = [s.heading for s in outline.sections if s.kind == "body"]
    assert len(items) == 5
    # The model writes an opening and one item's words, and skips the rest.
    answer = (
        "尊敬的各位领导、同志们：\n今天我们在这里隆重召开全区表彰大会。\n现在请区委书记讲话，大家欢迎。\n谢谢大家！"
    )
    llm = RoutedFakeChat(routes={BODY_MARKER: [answer], MORE_MARKER: ["好的。"]})
    draft = write_draft(brief, outline, [], llm)
    text = draft.body_text
    for n, item in zip("一二三四五", items, strict=True):
        assert f"下面进行第{n}项议程：{item.rstrip('。')}。" in text
    assert "〔待补" not in text and text.index("第一项") < text.index("第二项") < text.index("第五项")


def test_a_citation_mark_goes_before_a_lead_ins_colon() -> None:
    from drafting.domain import Passage
    from drafting.writing.text import link_citations

    source = Passage(
        doc_id="m1", chunk_id="m1:0", title="材料1", text="加强食堂管理人员的专业培训，每年不少于两次。", source="材料1"
    )
    text = "各校要落实陪餐制度。\n加强食堂管理人员的专业培训："  # a lead-in the part ends with (its list was cut)
    linked = link_citations(text, [source], [1])
    assert "专业培训[1]：" in linked and "：[1]" not in linked
