"""Chunking: passages that follow Chinese policy structure, with sizes, overlaps and pages."""

import itertools
import random
import re

import pytest

from agents.knowledge.chunking import Chunk, chunk_blocks
from agents.knowledge.parsing import Block, parse_document


def heading(text: str, level: int = 1, page: int | None = None) -> Block:
    return Block(text=text, kind="heading", level=level, page=page)


def para(text: str, page: int | None = None) -> Block:
    return Block(text=text, kind="paragraph", page=page)


def table(rows: list[list[str]], page: int | None = None) -> Block:
    return Block(text="\n".join(" | ".join(row) for row in rows), kind="table", page=page)


def paths(chunks: list[Chunk]) -> list[str]:
    return [chunk.heading_path for chunk in chunks]


def cn(number: int) -> str:
    """Chinese numerals below 100 (no ASCII digits, so overlaps are exact character counts)."""
    digits = "零一二三四五六七八九"
    tens, ones = divmod(number, 10)
    if not tens:
        return digits[ones]
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def long_article(number: str, sentences: int) -> str:
    body = "".join(f"申请人应当按照规定提交第{cn(i)}项证明材料，并对材料的真实性负责。" for i in range(sentences))
    return f"第{number}条 {body}"


POLICY = "\n".join(
    [
        "示范区人才安居补贴办法",
        "第一章 总则",
        "第一条 为吸引和集聚高层次人才，制定本办法。",
        "第二条 本办法适用于在示范区就业的全日制博士、硕士研究生。",
        "第三条 区人社局负责补贴的受理、审核和发放。",
        "第二章 申报条件",
        "第一节 基本条件",
        "第四条 申请人应当同时符合下列条件：",
        "（一）具有全日制博士或者硕士学位；",
        "（二）与区内用人单位签订3年以上劳动合同。",
        long_article("五", 30),
        "第六条 本节未尽事宜，按照有关规定执行。",
        "第二节 特别规定",
        "第七条 经认定的高层次人才，不受第四条第（二）项限制。",
        "第三章 附则",
        "第八条 本办法自2025年3月1日起施行。",
    ]
)


@pytest.fixture
def policy_chunks() -> list[Chunk]:
    blocks = parse_document(POLICY.encode("gbk"), "办法.txt").blocks
    return chunk_blocks(blocks, size=300, overlap=40)


# --------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    ("size", "overlap"),
    [(99, 0), (4001, 0), (500, -1), (500, 251), (100, 51), (500.0, 80), (500, 8.5), (True, 0), ("500", 80)],
)
def test_invalid_size_or_overlap_is_refused(size, overlap):
    with pytest.raises(ValueError, match=r"size|overlap"):
        chunk_blocks([para("正文。")], size=size, overlap=overlap)


@pytest.mark.parametrize(("size", "overlap"), [(100, 0), (100, 50), (4000, 2000), (500, 80)])
def test_boundary_sizes_are_accepted(size, overlap):
    assert chunk_blocks([para("正文。")], size=size, overlap=overlap)[0].text == "正文。"


def test_defaults_are_500_and_80():
    blocks = [para(long_article("一", 60))]
    chunks = chunk_blocks(blocks)
    assert max(len(chunk.text) for chunk in chunks) <= 500
    assert chunks[1].text.startswith(chunks[0].text[-80:])


def test_nothing_in_nothing_out():
    assert chunk_blocks([]) == []
    assert chunk_blocks([para(""), para("  \n "), heading("   ")]) == []


# --------------------------------------------------------------------------------------------
# Policy structure


def test_chapters_sections_and_articles_make_the_heading_path(policy_chunks):
    assert paths(policy_chunks) == [
        "",
        "第一章 总则 > 第一条",
        "第一章 总则 > 第二条",
        "第一章 总则 > 第三条",
        "第二章 申报条件 > 第一节 基本条件 > 第四条",
        *["第二章 申报条件 > 第一节 基本条件 > 第五条"] * 4,
        "第二章 申报条件 > 第一节 基本条件 > 第六条",
        "第二章 申报条件 > 第二节 特别规定 > 第七条",
        "第三章 附则 > 第八条",
    ]
    assert [chunk.position for chunk in policy_chunks] == list(range(len(policy_chunks)))
    assert policy_chunks[0].text == "示范区人才安居补贴办法"


def test_each_article_is_its_own_passage_by_default(policy_chunks):
    assert [chunk.text for chunk in policy_chunks[1:4]] == [
        "第一条 为吸引和集聚高层次人才，制定本办法。",
        "第二条 本办法适用于在示范区就业的全日制博士、硕士研究生。",
        "第三条 区人社局负责补贴的受理、审核和发放。",
    ]


def test_short_articles_under_one_heading_are_merged_whole_when_asked():
    blocks = parse_document(POLICY.encode("gbk"), "办法.txt").blocks
    grouped = chunk_blocks(blocks, size=300, overlap=40, group_articles=True)
    assert grouped[1].heading_path == "第一章 总则 > 第一条至第三条"
    assert grouped[1].text == (
        "第一条 为吸引和集聚高层次人才，制定本办法。\n"
        "第二条 本办法适用于在示范区就业的全日制博士、硕士研究生。\n"
        "第三条 区人社局负责补贴的受理、审核和发放。"
    )


def test_an_article_keeps_its_items(policy_chunks):
    assert policy_chunks[4].text == (
        "第四条 申请人应当同时符合下列条件：\n（一）具有全日制博士或者硕士学位；\n（二）与区内用人单位签订3年以上劳动合同。"
    )


def test_a_long_article_is_split_at_sentence_ends_with_overlap(policy_chunks):
    article = long_article("五", 30)
    pieces = [chunk.text for chunk in policy_chunks if chunk.heading_path.endswith("第五条")]
    assert len(pieces) == 4
    assert pieces[0].startswith("第五条 申请人应当按照规定提交第零项证明材料")
    assert all(len(piece) <= 300 for piece in pieces)
    # Every piece ends at a sentence end, and the next one starts with the last 40 characters.
    assert all(piece.endswith("。") for piece in pieces)
    for previous, current in itertools.pairwise(pieces):
        assert current.startswith(previous[-40:])
    # Without the overlaps the pieces give back the article, nothing lost or doubled.
    rebuilt = pieces[0] + "".join(piece[40:] for piece in pieces[1:])
    assert rebuilt == article
    # The next article starts afresh: no overlap across articles.
    following = next(chunk for chunk in policy_chunks if chunk.heading_path.endswith("第六条"))
    assert following.text == "第六条 本节未尽事宜，按照有关规定执行。"


def test_articles_are_not_merged_across_headings(policy_chunks):
    seventh = next(chunk for chunk in policy_chunks if "第七条" in chunk.heading_path)
    assert seventh.text == "第七条 经认定的高层次人才，不受第四条第（二）项限制。"


def test_an_article_that_fits_is_never_cut():
    # 第二条 almost fills a passage: it starts a new one instead of being split across two.
    blocks = [heading("第一章 总则"), para("第一条 " + "短" * 150 + "。"), para("第二条 " + "长" * 280 + "。")]
    chunks = chunk_blocks(blocks, size=300, overlap=40)
    assert [chunk.heading_path for chunk in chunks] == ["第一章 总则 > 第一条", "第一章 总则 > 第二条"]
    assert chunks[1].text == blocks[2].text


def test_two_merged_articles_are_named_with_a_comma():
    blocks = [heading("第九章 附则"), para("第五十条 解释。"), para("第五十一条 施行。")]
    assert paths(chunk_blocks(blocks, group_articles=True)) == ["第九章 附则 > 第五十条、第五十一条"]


def test_notice_items_make_the_heading_path():
    text = (
        "一、总体要求\n坚持就业优先战略。\n（一）指导思想\n以人民为中心。\n（二）工作目标\n全年新增就业1万人。\n"
        "二、保障措施\n加强组织领导。"
    )
    chunks = chunk_blocks(parse_document(text.encode(), "通知.txt").blocks)
    assert [(chunk.heading_path, chunk.text) for chunk in chunks] == [
        ("一、总体要求", "坚持就业优先战略。"),
        ("一、总体要求 > （一）指导思想", "以人民为中心。"),
        ("一、总体要求 > （二）工作目标", "全年新增就业1万人。"),
        ("二、保障措施", "加强组织领导。"),
    ]


def test_short_paragraphs_under_one_heading_are_merged_up_to_size():
    paragraphs = [para(f"第{i}段：" + "内容" * 20 + "。") for i in range(10)]  # 45 characters each
    chunks = chunk_blocks([heading("一、背景", 2), *paragraphs, heading("二、任务", 2), para("任务。")], size=200)
    assert [len(chunk.text) for chunk in chunks[:-1]] == [45 * 4 + 3, 45 * 4 + 3, 45 * 2 + 1]
    assert paths(chunks) == ["一、背景"] * 3 + ["二、任务"]
    assert chunks[0].text.split("\n") == [block.text for block in paragraphs[:4]]
    assert chunks[-1].text == "任务。"


def test_headings_without_content_are_kept_as_passages():
    chunks = chunk_blocks([heading("附件", 1), heading("附件1 申报表", 2), heading("第二章 其他", 1), para("正文。")])
    assert [(chunk.heading_path, chunk.text) for chunk in chunks] == [
        ("附件", "附件1 申报表"),
        ("第二章 其他", "正文。"),
    ]


def test_markdown_policy_keeps_the_document_title_in_the_path():
    text = "# 技能提升补贴办法\n\n## 第一章 总则\n\n第一条 为鼓励职工提升技能，制定本办法。\n"
    chunks = chunk_blocks(parse_document(text.encode(), "a.md").blocks)
    assert paths(chunks) == ["技能提升补贴办法 > 第一章 总则 > 第一条"]


def test_long_headings_are_shortened_in_the_path():
    chunks = chunk_blocks([heading("标" * 100), para("正文。")])
    assert chunks[0].heading_path == "标" * 59 + "…"


# --------------------------------------------------------------------------------------------
# Splitting long text


def test_a_long_paragraph_without_articles_is_split_with_overlap():
    text = "".join(f"第{i}句话说明政策的一个方面！" for i in range(60))
    chunks = chunk_blocks([heading("一、解读", 2), para(text)], size=150, overlap=30)
    assert len(chunks) > 3
    assert all(len(chunk.text) <= 150 and chunk.heading_path == "一、解读" for chunk in chunks)
    for previous, current in itertools.pairwise(chunks):
        assert current.text.startswith(previous.text[-30:])
    assert chunks[0].text + "".join(chunk.text[30:] for chunk in chunks[1:]) == text


def test_no_overlap_means_no_repetition():
    text = "".join(f"第{i}句。" for i in range(200))
    chunks = chunk_blocks([para(text)], size=100, overlap=0)
    assert "".join(chunk.text for chunk in chunks) == text
    assert all(len(chunk.text) <= 100 for chunk in chunks)


def test_a_sentence_without_full_stops_is_split_at_commas():
    text = "，".join(f"第{i}项条件" for i in range(80)) + "。"
    chunks = chunk_blocks([para(text)], size=120, overlap=0)
    assert len(chunks) > 1
    assert all(len(chunk.text) <= 120 for chunk in chunks)
    assert all(chunk.text.endswith(("，", "。")) for chunk in chunks)
    assert "".join(chunk.text for chunk in chunks) == text


def test_text_without_any_punctuation_is_cut_by_length():
    text = "无标点" * 200
    chunks = chunk_blocks([para(text)], size=100, overlap=20)
    assert all(len(chunk.text) <= 100 for chunk in chunks)
    assert chunks[0].text + "".join(chunk.text[20:] for chunk in chunks[1:]) == text


def test_ascii_words_are_never_cut():
    rng = random.Random(3)
    words = ["".join(rng.choice("abcdefghij") for _ in range(rng.randint(3, 12))) for _ in range(600)]
    text = " ".join(words)  # no sentence ends at all
    vocabulary = set(words)
    for overlap in (0, 25, 50):
        chunks = chunk_blocks([para(text)], size=100, overlap=overlap)
        for chunk in chunks:
            assert len(chunk.text) <= 100
            assert set(chunk.text.split()) <= vocabulary, chunk.text


def test_one_giant_token_is_cut_anyway():
    token = "x" * 450
    chunks = chunk_blocks([para(token)], size=100, overlap=0)
    assert "".join(chunk.text for chunk in chunks) == token
    assert all(len(chunk.text) <= 100 for chunk in chunks)


def test_english_sentences_split_at_full_stops():
    text = " ".join(f"Sentence number {i} explains one rule." for i in range(40))
    chunks = chunk_blocks([para(text)], size=200, overlap=0)
    assert all(chunk.text.endswith(".") for chunk in chunks)
    assert " ".join(chunk.text for chunk in chunks) == text


def test_multi_block_long_article_keeps_line_breaks_and_pages():
    items = [
        para(f"（{i}）第{i}项材料的具体要求是原件和复印件各一份，加盖单位公章；", page=1 + i // 10) for i in range(30)
    ]
    blocks = [heading("第三章 申报", page=1), para("第十条 申请人应当提交下列材料：", page=1), *items]
    chunks = chunk_blocks(blocks, size=300, overlap=50)
    assert all(chunk.heading_path == "第三章 申报 > 第十条" for chunk in chunks)
    assert chunks[0].text.startswith("第十条 申请人应当提交下列材料：\n（0）")
    assert chunks[0].page == 1
    assert chunks[-1].page == 3
    assert [chunk.page for chunk in chunks] == sorted(chunk.page for chunk in chunks)
    for chunk in chunks[1:]:
        assert "\n（" in chunk.text  # items stay on their own lines


# --------------------------------------------------------------------------------------------
# Tables


def test_a_table_that_fits_is_kept_whole_with_its_paragraphs():
    rows = [["类别", "金额"], ["博士", "30万元"], ["硕士", "8万元"]]
    chunks = chunk_blocks([heading("二、补贴标准", 2), para("补贴标准如下："), table(rows)])
    assert [(chunk.heading_path, chunk.text) for chunk in chunks] == [
        ("二、补贴标准", "补贴标准如下：\n类别 | 金额\n博士 | 30万元\n硕士 | 8万元"),
    ]


def test_a_long_table_is_split_by_rows_repeating_the_header():
    header = ["序号", "事项名称", "办理时限"]
    rows = [header] + [[str(i), f"第{i}类审批事项的名称", f"{i}个工作日"] for i in range(60)]
    chunks = chunk_blocks([heading("附件 事项清单"), table(rows, page=4)], size=200, overlap=40)
    assert len(chunks) > 2
    data_rows = []
    for chunk in chunks:
        lines = chunk.text.split("\n")
        assert len(chunk.text) <= 200
        assert lines[0] == "序号 | 事项名称 | 办理时限"
        assert chunk.page == 4
        assert chunk.heading_path == "附件 事项清单"
        data_rows += lines[1:]
    # Every row exactly once, whole, in order: no overlap inside tables.
    assert data_rows == [" | ".join(row) for row in rows[1:]]


def test_a_table_row_longer_than_size_is_split_on_its_own():
    rows = [["说明"], ["很长的单元格内容，" * 40], ["短行"]]
    chunks = chunk_blocks([table(rows)], size=120, overlap=0)
    assert all(len(chunk.text) <= 120 for chunk in chunks)
    assert all(chunk.text.startswith("说明\n") for chunk in chunks)
    assert chunks[-1].text == "说明\n短行"


# --------------------------------------------------------------------------------------------
# Pages and invariants


def test_chunk_page_is_the_page_of_its_first_block():
    blocks = [
        heading("第一章 总则", page=1),
        para("第一条 第一页的条文。", page=1),
        para("第二条 第二页的条文。", page=2),
        heading("第二章 附则", page=2),
        para("第三条 第三页的条文。", page=3),
    ]
    chunks = chunk_blocks(blocks, group_articles=True)
    assert [(chunk.heading_path, chunk.page) for chunk in chunks] == [
        ("第一章 总则 > 第一条、第二条", 1),
        ("第二章 附则 > 第三条", 3),
    ]


def test_chunks_from_a_parsed_pdf_keep_pages():
    from tests.agents.knowledge.test_parsing import cjk_pdf

    pages = [["第一章 总则", "第一条 为了规范管理，制定本办法。"], ["第二章 附则", "第二条 本办法自发布之日起施行。"]]
    chunks = chunk_blocks(parse_document(cjk_pdf(pages), "a.pdf").blocks)
    assert [(chunk.heading_path, chunk.page) for chunk in chunks] == [
        ("第一章 总则 > 第一条", 1),
        ("第二章 附则 > 第二条", 2),
    ]


@pytest.mark.parametrize("seed", range(8))
def test_invariants_on_random_documents(seed):
    rng = random.Random(seed)
    size = rng.choice([100, 150, 300, 500, 1000])
    overlap = rng.randint(0, size // 2)
    blocks: list[Block] = []
    for chapter in range(rng.randint(1, 4)):
        blocks.append(heading(f"第{chapter + 1}章 标题", 1, page=chapter + 1))
        for _ in range(rng.randint(0, 6)):
            sentences = "".join(
                rng.choice(
                    ["申请人应当提交材料。", "逾期不予受理！", "详见附件，", "English words here. ", "编号ABC123；"]
                )
                for _ in range(rng.randint(1, 80))
            )
            kind = rng.choice(["article", "paragraph", "table"])
            if kind == "article":
                blocks.append(para(f"第{rng.randint(1, 99)}条 {sentences}", page=chapter + 1))
            elif kind == "table":
                blocks.append(table([["甲", "乙"]] + [[sentences[:30], "值"] for _ in range(rng.randint(1, 30))]))
            else:
                blocks.append(para(sentences, page=chapter + 1))
    chunks = chunk_blocks(blocks, size=size, overlap=overlap)
    assert [chunk.position for chunk in chunks] == list(range(len(chunks)))
    chapters = {block.text for block in blocks if block.kind == "heading"}
    for chunk in chunks:
        assert chunk.text and chunk.text == chunk.text.strip()
        assert len(chunk.text) <= size
        # Under a chapter, or a chapter without content kept as a passage of its own.
        assert re.match(r"^第\d章 标题", chunk.heading_path) or (chunk.heading_path == "" and chunk.text in chapters)
    # No text is lost: every clause of every paragraph and every table row is in some chunk.
    joined = "\n".join(chunk.text for chunk in chunks)
    flat = joined.replace("\n", "")
    for block in blocks:
        if block.kind == "table":
            for row in block.text.split("\n"):
                assert row in joined.split("\n")
        elif block.kind != "heading":
            for clause in re.split(r"(?<=[。！；，])|(?<=\.) ", block.text):
                assert clause.strip() in flat
