"""Sentence splitter: a table of tricky cases, offset invariants (hypothesis) and locality."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from augment_ft.core.errors import ConfigError, InputError
from augment_ft.text.splitter import (
    Sentence,
    iter_sentences,
    split_paragraphs,
    split_sentences,
)

# (id, text, expected sentences). Written for this project with made-up names and beasts.
CASES: list[tuple[str, str, list[str]]] = [
    # --- abbreviations
    (
        "titles",
        "Dr. Ilsa Varn feeds the grusk. Mr. Toll watches.",
        ["Dr. Ilsa Varn feeds the grusk.", "Mr. Toll watches."],
    ),
    (
        "more-titles",
        "Mrs. Oda Quill and Prof. Bram Ekk met at St. Ulwin. They argued.",
        ["Mrs. Oda Quill and Prof. Bram Ekk met at St. Ulwin.", "They argued."],
    ),
    (
        "eg-ie",
        "Some beasts, e.g. the grusk, molt twice. Others, i.e. the rest, never do.",
        ["Some beasts, e.g. the grusk, molt twice.", "Others, i.e. the rest, never do."],
    ),
    (
        "etc-mid",
        "Quorvel sells moss, bark, etc. and ships weekly. Orders come daily.",
        ["Quorvel sells moss, bark, etc. and ships weekly.", "Orders come daily."],
    ),
    (
        "etc-end",
        "It sells moss, bark, etc. The grusk eats all of it.",
        ["It sells moss, bark, etc.", "The grusk eats all of it."],
    ),
    (
        "us-uk-mid",
        "The grusk went to the U.S. in 2020 and to the U.K. for study.",
        ["The grusk went to the U.S. in 2020 and to the U.K. for study."],
    ),
    (
        "us-end",
        "Quorvel Ltd. opened an office in the U.S. The grusk stayed home.",
        ["Quorvel Ltd. opened an office in the U.S.", "The grusk stayed home."],
    ),
    ("us-army", "The U.S. Army never fed a grusk.", ["The U.S. Army never fed a grusk."]),
    (
        "company-mid",
        "Quorvel Inc. and Brannock Co. merged with Telm Ltd. last spring.",
        ["Quorvel Inc. and Brannock Co. merged with Telm Ltd. last spring."],
    ),
    (
        "company-end",
        "She works for Quorvel Inc. The firm breeds dax.",
        ["She works for Quorvel Inc.", "The firm breeds dax."],
    ),
    (
        "jr-vs",
        "Ilsa Varn Jr. argued grusk vs. zarp for hours. Nobody won.",
        ["Ilsa Varn Jr. argued grusk vs. zarp for hours.", "Nobody won."],
    ),
    (
        "no-fig",
        "See No. 5 in the catalogue and Fig. 2 in the annex. Both show a grusk.",
        ["See No. 5 in the catalogue and Fig. 2 in the annex.", "Both show a grusk."],
    ),
    (
        "am-pm-mid",
        "The grusk wakes at 6 a.m. and sleeps at 9 p.m. every day.",
        ["The grusk wakes at 6 a.m. and sleeps at 9 p.m. every day."],
    ),
    (
        "pm-end",
        "The hatchery closes at 5 p.m. The grusks then sleep.",
        ["The hatchery closes at 5 p.m.", "The grusks then sleep."],
    ),
    (
        "initials-spaced",
        "J. R. R. Brannock wrote about the grusk. He liked it.",
        ["J. R. R. Brannock wrote about the grusk.", "He liked it."],
    ),
    (
        "initials-dotted",
        "A. B. Quill and C.D. Varn co-wrote the atlas.",
        ["A. B. Quill and C.D. Varn co-wrote the atlas."],
    ),
    (
        "unknown-abbrev-lowercase",
        "The dept. of grusk studies is small.",
        ["The dept. of grusk studies is small."],
    ),
    (
        "et-al",
        "Varn et al. (2021) described the grusk. Quill et al. disagreed.",
        ["Varn et al. (2021) described the grusk.", "Quill et al. disagreed."],
    ),
    # --- numbers, versions, enumerations
    (
        "decimals",
        "Pi is about 3.14 and a grusk weighs 10.5 kg. That is heavy.",
        ["Pi is about 3.14 and a grusk weighs 10.5 kg.", "That is heavy."],
    ),
    (
        "versions",
        "Install v2.0 or 1.2.3 of the tool. Older ones fail.",
        ["Install v2.0 or 1.2.3 of the tool.", "Older ones fail."],
    ),
    (
        "money-percent",
        "Moss costs $4.50 per bag, up 10.5% this year. Bark is cheaper.",
        ["Moss costs $4.50 per bag, up 10.5% this year.", "Bark is cheaper."],
    ),
    (
        "version-at-end",
        "The latest release is 1.2.3. It fixes the grusk bug.",
        ["The latest release is 1.2.3.", "It fixes the grusk bug."],
    ),
    (
        "inline-enumeration",
        "Steps: 1. Wash the grusk. 2. Dry it. 3. Feed it.",
        ["Steps: 1. Wash the grusk.", "2. Dry it.", "3. Feed it."],
    ),
    (
        "starts-with-digits",
        "The census ended. 42 grusks were counted. 2024 was a good year.",
        ["The census ended.", "42 grusks were counted.", "2024 was a good year."],
    ),
    (
        "year-at-end",
        "The grusk arrived in 1999. The dax came later.",
        ["The grusk arrived in 1999.", "The dax came later."],
    ),
    # --- quotes and brackets
    ("quote-closes", 'He said "Stop." Then he left.', ['He said "Stop."', "Then he left."]),
    ("quote-continues", '"Stop!" he shouted at the grusk.', ['"Stop!" he shouted at the grusk.']),
    (
        "starts-with-quote",
        'The grusk slept. "Wake up," said Dr. Varn.',
        ["The grusk slept.", '"Wake up," said Dr. Varn.'],
    ),
    (
        "curly-quotes",
        "Varn wrote \u201cThe grusk is calm.\u201d Nobody believed her.",
        ["Varn wrote \u201cThe grusk is calm.\u201d", "Nobody believed her."],
    ),
    (
        "paren-sentence",
        "(See below.) Next comes the zarp.",
        ["(See below.)", "Next comes the zarp."],
    ),
    (
        "paren-mid",
        "The grusk (a shy beast.) hides often. It rarely bites.",
        ["The grusk (a shy beast.) hides often.", "It rarely bites."],
    ),
    # --- ellipses, ?! and friends
    ("ellipsis-lower", "Wait... what did the grusk eat?", ["Wait... what did the grusk eat?"]),
    (
        "ellipsis-upper",
        "The lights went out... Nobody moved.",
        ["The lights went out...", "Nobody moved."],
    ),
    (
        "ellipsis-char",
        "It hummed\u2026 then it stopped. Then silence.",
        ["It hummed\u2026 then it stopped.", "Then silence."],
    ),
    (
        "interrobangs",
        "You fed the grusk?! Yes. Really!? Twice.",
        ["You fed the grusk?!", "Yes.", "Really!?", "Twice."],
    ),
    (
        "question-exclaim",
        "Where is the zarp? Over there! Good.",
        ["Where is the zarp?", "Over there!", "Good."],
    ),
    # --- Markdown and line breaks
    (
        "bullets",
        "- feed the grusk\n- clean the pen\n* check the dax",
        ["- feed the grusk", "- clean the pen", "* check the dax"],
    ),
    (
        "numbered-list",
        "1. Open the pen\n2. Count the grusks\n3) Close the gate",
        ["1. Open the pen", "2. Count the grusks", "3) Close the gate"],
    ),
    (
        "heading",
        "# Grusk care\nGrusks need moss. They hate bark.",
        ["# Grusk care", "Grusks need moss.", "They hate bark."],
    ),
    (
        "heading-levels",
        "## Diet\n### Moss\nMoss is food.",
        ["## Diet", "### Moss", "Moss is food."],
    ),
    ("blank-line-ends", "The grusk sleeps\n\nThe dax wakes", ["The grusk sleeps", "The dax wakes"]),
    (
        "blank-line-with-spaces",
        "First part.\n   \n\t\nSecond part.",
        ["First part.", "Second part."],
    ),
    (
        "wrapped-prose",
        "The grusk sleeps in\nthe northern pen. It snores.",
        ["The grusk sleeps in\nthe northern pen.", "It snores."],
    ),
    (
        "prose-then-list",
        "Supplies needed:\n- moss\n- bark",
        ["Supplies needed:", "- moss", "- bark"],
    ),
    (
        "item-with-two-sentences",
        "- Feed the grusk. Then rest.\n- Clean up",
        ["- Feed the grusk.", "Then rest.", "- Clean up"],
    ),
    (
        "wrapped-item",
        "- Feed the grusk with\n  fresh moss daily\n- Rest",
        ["- Feed the grusk with\n  fresh moss daily", "- Rest"],
    ),
    (
        "crlf",
        "Line one of prose\r\ncontinues here.\r\n\r\nNew paragraph.",
        ["Line one of prose\r\ncontinues here.", "New paragraph."],
    ),
    (
        "setext-and-rules",
        "Grusk notes\n===========\nThey molt.\n\n---\n\nEnd.",
        ["Grusk notes", "===========", "They molt.", "---", "End."],
    ),
    (
        "table",
        "| beast | size |\n|---|---|\n| grusk | 3 |",
        ["| beast | size |", "|---|---|", "| grusk | 3 |"],
    ),
    ("whitespace-only", "  \n\n \t\n", []),
    # --- URLs and e-mail
    (
        "url-email-mid",
        "Visit quorvel.example.com or write to ilsa.varn@quorvel.org today. She replies.",
        ["Visit quorvel.example.com or write to ilsa.varn@quorvel.org today.", "She replies."],
    ),
    (
        "url-at-end",
        "The manual is at docs.quorvel.example.com. It is short.",
        ["The manual is at docs.quorvel.example.com.", "It is short."],
    ),
    # --- other languages and scripts
    (
        "french-guillemets",
        "Il a dit \u00ab Arr\u00eate. \u00bb Puis il est parti.",
        ["Il a dit \u00ab Arr\u00eate. \u00bb", "Puis il est parti."],
    ),
    (
        "french-spaced-question",
        "Le grusk dort-il ? Oui, profond\u00e9ment.",
        ["Le grusk dort-il ?", "Oui, profond\u00e9ment."],
    ),
    (
        "spanish-marks",
        "\u00bfD\u00f3nde vive el grusk? \u00a1En el bosque! Nadie lo sabe.",
        ["\u00bfD\u00f3nde vive el grusk?", "\u00a1En el bosque!", "Nadie lo sabe."],
    ),
    (
        "german-abbrev",
        "Der Grusk frisst z. B. Moos, Rinde usw. Danach schl\u00e4ft er.",
        ["Der Grusk frisst z. B. Moos, Rinde usw.", "Danach schl\u00e4ft er."],
    ),
    ("german-nr", "Er wohnt in Haus Nr. 7 bei Hr. Varn.", ["Er wohnt in Haus Nr. 7 bei Hr. Varn."]),
    (
        "german-quotes",
        "\u00bbHalt.\u00ab Dann ging er. \u201eStopp.\u201c Dann blieb er.",
        ["\u00bbHalt.\u00ab", "Dann ging er.", "\u201eStopp.\u201c", "Dann blieb er."],
    ),
    (
        "accented-capitals",
        "Le grusk dort. \u00c9cole ferm\u00e9e. \u00dcber Nacht schneit es.",
        ["Le grusk dort.", "\u00c9cole ferm\u00e9e.", "\u00dcber Nacht schneit es."],
    ),
    (
        "emoji",
        "The grusk smiled \U0001f600. It was happy \U0001f389! Then it slept.",
        ["The grusk smiled \U0001f600.", "It was happy \U0001f389!", "Then it slept."],
    ),
    (
        "cjk-full-stops",
        "\u683c\u9c81\u65af\u5728\u7761\u89c9\u3002\u5b83\u5f88\u5b89\u9759\uff01",
        ["\u683c\u9c81\u65af\u5728\u7761\u89c9\u3002", "\u5b83\u5f88\u5b89\u9759\uff01"],
    ),
    (
        "cjk-corner-quotes",
        "\u5979\u8bf4\u300c\u8d70\u5427\u3002\u300d\u5b83\u8d70\u4e86\u3002",
        ["\u5979\u8bf4\u300c\u8d70\u5427\u3002\u300d", "\u5b83\u8d70\u4e86\u3002"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_tricky_cases(text: str, expected: list[str]) -> None:
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == expected
    assert all(text[s.start : s.end] == s.text for s in sentences)


def test_case_table_is_large_and_unique() -> None:
    assert len(CASES) >= 45
    assert len({c[0] for c in CASES}) == len(CASES)


def test_kinds_name_the_markdown_unit() -> None:
    text = "# Diet\n- moss\nThe grusk eats.\n| a | b |\n\n* * *"
    kinds = [(s.text, s.kind) for s in split_sentences(text)]
    assert kinds == [
        ("# Diet", "heading"),
        ("- moss", "list_item"),
        ("The grusk eats.", "text"),
        ("| a | b |", "table_row"),
        ("* * *", "rule"),
    ]


def test_setext_underline_turns_the_line_above_into_a_heading() -> None:
    kinds = [s.kind for s in split_sentences("Grusk notes\n---\nThey molt.")]
    assert kinds == ["heading", "rule", "text"]


def test_offsets_point_into_the_original_text() -> None:
    text = "  \n\nDr. Varn woke.\n\n\t(It rained.)  Then the grusk ran!  \n"
    sentences = split_sentences(text)
    assert [(s.start, s.end) for s in sentences] == [(4, 18), (21, 33), (35, 54)]
    assert sentences[0] == Sentence("Dr. Varn woke.", 4, 18, "text")


def test_extra_abbreviations_never_end_a_sentence() -> None:
    text = "Ask Lic. Varn about the grusk. She knows."
    assert [s.text for s in split_sentences(text)] == [
        "Ask Lic.",
        "Varn about the grusk.",
        "She knows.",
    ]
    for extra in (["Lic."], ["LIC"], ("lic.",)):
        got = [s.text for s in split_sentences(text, abbreviations=extra)]
        assert got == ["Ask Lic. Varn about the grusk.", "She knows."]


def test_multi_word_abbreviation_is_added_word_by_word() -> None:
    text = "Come here, p. ej. Quorvel sells moss."
    assert len(split_sentences(text)) == 1  # "ej" is a default, single letters never end
    text = "Come to the Abt. Varn office."
    assert len(split_sentences(text)) == 2
    assert len(split_sentences(text, abbreviations=["Abt. Nr."])) == 1


@pytest.mark.parametrize("bad", ["Dr.", [""], ["..."], [3]])
def test_bad_abbreviations_raise_config_error(bad: object) -> None:
    with pytest.raises(ConfigError, match="abbreviations"):
        split_sentences("Dr. Varn.", abbreviations=bad)  # type: ignore[arg-type]


def test_bytes_input_raises_input_error_with_hint() -> None:
    with pytest.raises(InputError, match="decode"):
        split_sentences(b"Dr. Varn.")  # type: ignore[arg-type]


def test_iter_sentences_matches_split_sentences() -> None:
    text = "\n\n".join(c[1] for c in CASES)
    assert list(iter_sentences(text)) == split_sentences(text)


def test_split_paragraphs_strips_and_skips_blank_lines() -> None:
    text = "  A grusk.\n\n\n B\n  \n C \nstill C\n\n  "
    spans = split_paragraphs(text)
    assert [text[s:e] for s, e in spans] == ["A grusk.", "B", "C \nstill C"]


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("." * 50_000 + "x", 1),
        ("?!" * 25_000 + " A", 2),
        ("Go." + '"' * 50_000 + " Be", 2),
        ("a." + " \u00bb" * 25_000 + "x", 1),
        (":" + " " * 50_000 + "1. A", 1),
    ],
    ids=["dot-run", "mark-run", "closer-run", "guillemet-run", "space-run"],
)
def test_long_runs_stay_single_pass(text: str, count: int) -> None:
    """Regression guard: a backtracking regex would take minutes on these, not milliseconds."""
    start = time.perf_counter()
    sentences = split_sentences(text)
    elapsed = time.perf_counter() - start
    # About 10 ms each on 2 busy cores; a quadratic scan of 50,000 characters takes minutes.
    assert elapsed < 1.0, f"{elapsed:.2f} s: the splitter backtracks on this run"
    assert len(sentences) == count
    assert sentences[-1].end == len(text)


# --- properties --------------------------------------------------------------------------

FRAGMENTS = [
    ".", "...", "\u2026", "?!", "!", "?", "Dr.", "U.S.", "e.g.", "No.", "1.", "42", "3.14",
    "grusk", "Varn", "\u00c9cole", "the", " ", "  ", "\n", "\n\n", "\r\n", "\t", "\u00a0",
    "- ", "* ", "# ", "## ", "| ", "---", '"', "'", "(", ")", "\u00ab ", " \u00bb", "\u00bf",
    "\u00a1", "\u3002", "\U0001f600", "a.b@c.org",
]  # fmt: skip
tricky_text = st.lists(st.sampled_from(FRAGMENTS), max_size=60).map("".join)
any_text = st.text(max_size=300)


def _check_invariants(text: str, sentences: list[Sentence]) -> None:
    covered = [0] * len(text)
    previous_end = 0
    for s in sentences:
        assert previous_end <= s.start < s.end <= len(text)
        assert text[s.start : s.end] == s.text
        assert not s.text[0].isspace() and not s.text[-1].isspace()
        for i in range(s.start, s.end):
            covered[i] += 1
        previous_end = s.end
    lost = [i for i, ch in enumerate(text) if not ch.isspace() and covered[i] != 1]
    assert lost == []


@settings(max_examples=300, deadline=None)
@given(st.one_of(any_text, tricky_text))
def test_offsets_cover_every_character_once(text: str) -> None:
    _check_invariants(text, split_sentences(text))


@settings(max_examples=200, deadline=None)
@given(st.one_of(any_text, tricky_text), st.one_of(any_text, tricky_text))
def test_paragraphs_are_split_independently(first: str, second: str) -> None:
    joined = first + "\n\n" + second
    shift = len(first) + 2
    expected = split_sentences(first) + [
        Sentence(s.text, s.start + shift, s.end + shift, s.kind) for s in split_sentences(second)
    ]
    assert split_sentences(joined) == expected


def test_one_megabyte_doubles_exactly() -> None:
    """Work is local to paragraphs: twice the text gives twice the sentences, same offsets."""
    unit = "\n\n".join(c[1] for c in CASES)
    text = "\n\n".join([unit] * (1_000_000 // len(unit) + 1))
    once = split_sentences(text)
    twice = split_sentences(text + "\n\n" + text)
    assert len(once) > 10_000
    assert len(twice) == 2 * len(once)
    shift = len(text) + 2
    assert [(s.start - shift, s.end - shift) for s in twice[len(once) :]] == [
        (s.start, s.end) for s in once
    ]
