"""The survey rules in the core (pure): conditions, answer checks, the keypad, scores."""

from __future__ import annotations

from typing import Any

import pytest

from callcenter.core import surveys as rules
from callcenter.core.surveys import Answer, AnswerError, Question

INTERIOR = Question(1, rules.SINGLE_CHOICE, "Anh/chị có hài lòng về nội thất xe không?",
                    options=("Không hài lòng", "Bình thường", "Hài lòng"), ivr_prompt="noi-that")  # fmt: skip
WHY = Question(2, rules.FREE_TEXT, "Vì sao anh/chị không hài lòng?", depends_on_id=1,
               depends_values=("Không hài lòng",))  # fmt: skip
SCORE = Question(3, rules.SCALE_5, "Chấm điểm", ivr_prompt="callcenter/survey")
LOW = Question(4, rules.SCALE_10, "Giới thiệu?", depends_on_id=3, depends_values=("1", "2"),
               ivr_prompt="survey-4")  # fmt: skip
EXTRAS = Question(5, rules.MULTIPLE_CHOICE, "Dịch vụ đã dùng", options=("Bảo dưỡng", "Sửa chữa"))
SURVEY = [INTERIOR, WHY, SCORE, LOW, EXTRAS]


def test_a_dependent_question_shows_only_when_the_earlier_answer_matches() -> None:
    assert not rules.is_shown(WHY, {})
    assert rules.is_shown(WHY, {1: Answer(1, choices=("Không hài lòng",))})
    assert not rules.is_shown(WHY, {1: Answer(1, choices=("Hài lòng",))})
    assert rules.is_shown(LOW, {3: Answer(3, number=2.0)})
    assert not rules.is_shown(LOW, {3: Answer(3, number=3.0)})
    shown = rules.visible(SURVEY, {1: Answer(1, choices=("Bình thường",))})
    assert [q.id for q in shown] == [1, 3, 5]


def test_collect_drops_the_answer_of_a_hidden_question() -> None:
    answers = rules.collect(
        SURVEY, {"1": "Hài lòng", "2": "Ghế bẩn", "3": "5", "4": "3", "5": ["Sửa chữa"]}
    )
    assert [(a.question_id, a.display()) for a in answers] == [
        (1, "Hài lòng"), (3, "5"), (5, "Sửa chữa")
    ]  # fmt: skip
    answers = rules.collect(SURVEY, {"1": "Không hài lòng", "2": " Ghế bẩn "})
    assert [(a.question_id, a.display()) for a in answers] == [
        (1, "Không hài lòng"), (2, "Ghế bẩn")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("question", "raw"),
    [(SCORE, "6"), (SCORE, "x"), (LOW, "11"), (INTERIOR, "Tạm được"), (EXTRAS, ["Rửa xe"]),
     (WHY, "x" * 2001)],
)  # fmt: skip
def test_an_answer_the_question_cannot_take_is_refused(question: Question, raw: object) -> None:
    with pytest.raises(AnswerError) as refused:
        rules.parse_answer(question, raw)
    assert question.text in str(refused.value)


def test_an_empty_form_is_refused() -> None:
    with pytest.raises(AnswerError):
        rules.collect(SURVEY, {"1": "", "5": []})


def test_the_builder_refuses_bad_questions() -> None:
    with pytest.raises(AnswerError):
        rules.check_question(Question(9, "essay", "x"), [])
    with pytest.raises(AnswerError):
        rules.check_question(Question(9, rules.SINGLE_CHOICE, "x", options=("a",)), [])
    with pytest.raises(AnswerError):  # the condition names a later / unknown question
        rules.check_question(WHY, [])
    with pytest.raises(AnswerError):  # "Tệ" is not an answer of the interior question
        rules.check_question(
            Question(9, rules.FREE_TEXT, "x", depends_on_id=1, depends_values=("Tệ",)), [INTERIOR]
        )
    with pytest.raises(AnswerError):  # free text cannot be a condition
        rules.check_question(
            Question(9, rules.SCALE_5, "x", depends_on_id=2, depends_values=("a",)), [INTERIOR, WHY]
        )
    rules.check_question(WHY, [INTERIOR])
    rules.check_question(LOW, [INTERIOR, WHY, SCORE])


def test_the_keypad_answers_scales_and_single_choices_in_order() -> None:
    assert rules.dtmf_answer(INTERIOR, "1") == Answer(1, choices=("Không hài lòng",))
    assert rules.dtmf_answer(INTERIOR, "4") is None
    assert rules.dtmf_answer(SCORE, "5#") == Answer(3, number=5.0)
    assert rules.dtmf_answer(SCORE, "") is None
    assert rules.dtmf_answer(LOW, "10") == Answer(4, number=10.0)
    assert rules.dtmf_digits(LOW) == 2 and rules.dtmf_digits(SCORE) == 1
    # Free text and multiple choice are skipped on the phone; conditions still hold.
    assert rules.next_on_phone(SURVEY, {}, None) == INTERIOR
    after_interior = {1: Answer(1, choices=("Không hài lòng",))}
    assert rules.next_on_phone(SURVEY, after_interior, 1) == SCORE
    assert rules.next_on_phone(SURVEY, {3: Answer(3, number=4.0)}, 3) is None
    assert rules.next_on_phone(SURVEY, {3: Answer(3, number=1.0)}, 3) == LOW
    # Without a prompt nothing can be heard: the question is not asked on the phone.
    silent = Question(3, rules.SCALE_5, "Chấm điểm")
    assert rules.next_on_phone([silent, EXTRAS], {}, None) is None


def test_the_generated_prompt_says_the_question_and_its_keys() -> None:
    assert rules.phone_script(INTERIOR) == (
        "Anh/chị có hài lòng về nội thất xe không? Không hài lòng, bấm phím một. "
        "Bình thường, bấm phím hai. Hài lòng, bấm phím ba."
    )
    assert rules.phone_script(SCORE).endswith("từ một đến năm.")


def test_csat_nps_and_the_follow_up_verdict() -> None:
    scores = rules.score([("scale_5", 5), ("scale_5", 4), ("scale_5", 2), ("scale_5", 3),
                          ("scale_10", 10), ("scale_10", 9), ("scale_10", 7), ("scale_10", 0)])  # fmt: skip
    assert (scores.csat, scores.nps, scores.average_5) == (50.0, 25.0, 3.5)
    assert rules.score([]).csat is None and rules.score([]).nps is None
    assert rules.verdict(SURVEY, {1: Answer(1, choices=("Hài lòng",))}) is True
    assert rules.verdict(SURVEY, {1: Answer(1, choices=("Bình thường",))}) is False
    assert rules.verdict(SURVEY, {3: Answer(3, number=4.0)}) is True
    assert rules.verdict(SURVEY, {3: Answer(3, number=3.0)}) is False
    assert rules.verdict(SURVEY, {5: Answer(5, choices=("Bảo dưỡng",))}) is None
    assert rules.free_text_of(SURVEY, {2: Answer(2, text="Ghế bẩn")}) == "Ghế bẩn"


async def test_the_demo_survey_has_the_conditional_interior_question(
    session_factory: Any,
) -> None:
    """The demo seeds the interior example once; its "why" shows only when not satisfied."""
    from callcenter.db.repos import surveys as surveys_repo
    from callcenter.demo import seed_demo_surveys

    for _ in range(2):
        async with session_factory() as session, session.begin():
            await seed_demo_surveys(session)
    async with session_factory() as session:
        surveys = [s for s in await surveys_repo.list_surveys(session) if s.follow_up]
        assert len(surveys) == 1
        questions = await surveys_repo.load_questions(session, surveys[0].id)
    interior, why = questions[1], questions[2]
    assert why.text == "Vì sao anh/chị không hài lòng?"
    assert rules.visible(questions, {interior.id: Answer(interior.id, choices=("Hài lòng",))}) == [
        q for q in questions if q is not why
    ]
    assert why in rules.visible(
        questions, {interior.id: Answer(interior.id, choices=("Không hài lòng",))}
    )


def test_every_kind_and_channel_label_reads_in_vietnamese_and_english() -> None:
    from callcenter.i18n import translate

    labels = [*rules.KIND_LABELS.values(), *rules.CHANNEL_LABELS.values()]
    assert set(rules.KIND_LABELS) == set(rules.KINDS)
    assert set(rules.CHANNEL_LABELS) == set(rules.CHANNELS)
    vietnamese = [translate("vi", label) for label in labels]
    assert all(v and v != label for v, label in zip(vietnamese, labels, strict=True))
    assert len(set(vietnamese)) == len(labels)
    assert [translate("en", label) for label in labels] == labels
