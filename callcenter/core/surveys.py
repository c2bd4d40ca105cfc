"""Survey rules as pure logic: which question shows, what an answer may be, scores.

A question may depend on an earlier one: it is shown only when that question was
answered with one of ``depends_values`` (an option's text, or a scale's number as
text). Answers come from three places (a form, a follow-up task, the caller's
keypad); all of them go through :func:`parse_answer` / :func:`dtmf_answer`, so a
bad value is refused the same way everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

SINGLE_CHOICE = "single_choice"
MULTIPLE_CHOICE = "multiple_choice"
SCALE_5 = "scale_5"
SCALE_10 = "scale_10"
FREE_TEXT = "free_text"
KINDS = (SINGLE_CHOICE, MULTIPLE_CHOICE, SCALE_5, SCALE_10, FREE_TEXT)
CHOICE_KINDS = frozenset({SINGLE_CHOICE, MULTIPLE_CHOICE})
SCALES = {SCALE_5: (1, 5), SCALE_10: (0, 10)}

CHANNEL_AGENT = "agent"
CHANNEL_CARE = "care"
CHANNEL_IVR = "ivr"
CHANNELS = (CHANNEL_AGENT, CHANNEL_CARE, CHANNEL_IVR)


def N_(message: str) -> str:
    """Mark a label for translation (it is translated where it is shown)."""
    return message


KIND_LABELS = {
    SINGLE_CHOICE: N_("Single choice"),
    MULTIPLE_CHOICE: N_("Multiple choice"),
    SCALE_5: N_("Scale 1–5"),
    SCALE_10: N_("Scale 0–10"),
    FREE_TEXT: N_("Free text"),
}
CHANNEL_LABELS = {
    CHANNEL_AGENT: N_("Agent, on the call"),
    CHANNEL_CARE: N_("Care team, follow-up"),
    CHANNEL_IVR: N_("Caller, on the phone keypad"),
}

#: On the keypad a choice is its position (1–9): more options cannot be pressed.
MAX_DTMF_OPTIONS = 9
FREE_TEXT_LIMIT = 2000


class AnswerError(ValueError):
    """An answer or question that cannot be saved: a msgid and its parameters."""

    def __init__(self, message: str, **params: object) -> None:
        super().__init__(message.format(**params) if params else message)
        self.message = message
        self.params = params


@dataclass(frozen=True, slots=True)
class Question:
    id: int
    kind: str
    text: str
    options: tuple[str, ...] = ()
    depends_on_id: int | None = None
    depends_values: tuple[str, ...] = ()
    ivr_prompt: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    """One question's answer: a number (scales), choices (choice kinds) or text."""

    question_id: int
    number: float | None = None
    choices: tuple[str, ...] = ()
    text: str = ""

    def tokens(self) -> frozenset[str]:
        """The values a dependent question's ``depends_values`` are compared with."""
        if self.number is not None:
            return frozenset({_number_text(self.number)})
        if self.choices:
            return frozenset(self.choices)
        return frozenset({self.text}) if self.text else frozenset()

    def display(self) -> str:
        if self.number is not None:
            return _number_text(self.number)
        if self.choices:
            return ", ".join(self.choices)
        return self.text


@dataclass(frozen=True, slots=True)
class Scores:
    """CSAT (% of 1–5 answers that are 4 or 5) and NPS (% 9–10 minus % 0–6)."""

    csat_answers: int = 0
    csat_satisfied: int = 0
    nps_answers: int = 0
    promoters: int = 0
    detractors: int = 0
    scale5_total: float = 0.0

    @property
    def csat(self) -> float | None:
        if not self.csat_answers:
            return None
        return round(100.0 * self.csat_satisfied / self.csat_answers, 1)

    @property
    def nps(self) -> float | None:
        if not self.nps_answers:
            return None
        return round(100.0 * (self.promoters - self.detractors) / self.nps_answers, 1)

    @property
    def average_5(self) -> float | None:
        if not self.csat_answers:
            return None
        return round(self.scale5_total / self.csat_answers, 2)


def _number_text(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def check_question(question: Question, earlier: Sequence[Question]) -> None:
    """Refuse a question an admin cannot save: unknown kind, missing options, a bad condition."""
    if question.kind not in KINDS:
        raise AnswerError(N_("Choose the kind of question."))
    if not question.text.strip():
        raise AnswerError(N_("Write the question."))
    if question.kind in CHOICE_KINDS:
        options = [o.strip() for o in question.options]
        if len(options) < 2 or any(not o for o in options):
            raise AnswerError(N_("A choice question needs at least two options, one per line."))
        if len(set(options)) != len(options):
            raise AnswerError(N_("Two options are the same."))
    if question.depends_on_id is not None:
        parent = next((q for q in earlier if q.id == question.depends_on_id), None)
        if parent is None:
            raise AnswerError(N_("A question can only depend on an earlier question."))
        if parent.kind == FREE_TEXT:
            raise AnswerError(N_("A question cannot depend on a free-text answer."))
        if not question.depends_values:
            raise AnswerError(N_("Choose the answers that show this question."))
        allowed = allowed_values(parent)
        wrong = [v for v in question.depends_values if v not in allowed]
        if wrong:
            raise AnswerError(
                N_("{values} is not an answer of the earlier question."), values=", ".join(wrong)
            )


def allowed_values(question: Question) -> tuple[str, ...]:
    """Every value a dependent question can be conditioned on."""
    if question.kind in CHOICE_KINDS:
        return question.options
    if question.kind in SCALES:
        low, high = SCALES[question.kind]
        return tuple(str(n) for n in range(low, high + 1))
    return ()


def is_shown(question: Question, answers: Mapping[int, Answer]) -> bool:
    """A question without a condition always shows; a dependent one when its condition holds."""
    if question.depends_on_id is None:
        return True
    earlier = answers.get(question.depends_on_id)
    if earlier is None:
        return False
    return bool(earlier.tokens() & set(question.depends_values))


def visible(questions: Sequence[Question], answers: Mapping[int, Answer]) -> list[Question]:
    return [q for q in questions if is_shown(q, answers)]


def parse_answer(question: Question, raw: object) -> Answer | None:
    """A submitted value as an answer (None: left empty); AnswerError if it cannot be one."""
    if raw is None or raw == "" or raw == []:
        return None
    if question.kind in SCALES:
        low, high = SCALES[question.kind]
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise AnswerError(N_("{question}: enter a number."), question=question.text) from None
        if not low <= number <= high:
            raise AnswerError(
                N_("{question}: choose from {low} to {high}."),
                question=question.text,
                low=low,
                high=high,
            )
        return Answer(question.id, number=float(number))
    if question.kind == SINGLE_CHOICE:
        value = str(raw).strip()
        if value not in question.options:
            raise AnswerError(N_("{question}: choose one of the options."), question=question.text)
        return Answer(question.id, choices=(value,))
    if question.kind == MULTIPLE_CHOICE:
        values = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, Iterable) else []
        picked = tuple(o for o in question.options if o in {str(v).strip() for v in values})
        if len(picked) != len({str(v).strip() for v in values}):
            raise AnswerError(N_("{question}: choose one of the options."), question=question.text)
        return Answer(question.id, choices=picked)
    text = str(raw).strip()
    if len(text) > FREE_TEXT_LIMIT:
        raise AnswerError(
            N_("{question}: at most {limit} characters."),
            question=question.text,
            limit=FREE_TEXT_LIMIT,
        )
    return Answer(question.id, text=text) if text else None


def collect(questions: Sequence[Question], submitted: Mapping[str, object]) -> list[Answer]:
    """A whole form's answers (keys: question ids as text), in question order.

    A hidden question's value is dropped (its condition no longer holds), so changing an
    earlier answer never leaves a stale dependent answer behind."""
    answers: dict[int, Answer] = {}
    for question in questions:
        if not is_shown(question, answers):
            continue
        answer = parse_answer(question, submitted.get(str(question.id)))
        if answer is not None:
            answers[question.id] = answer
    if not answers:
        raise AnswerError(N_("Answer at least one question."))
    return list(answers.values())


# --- on the phone -------------------------------------------------------------------


def on_phone(question: Question) -> bool:
    """Asked on the phone: a question with a prompt the keypad can answer (a scale, or a
    single choice of up to nine options)."""
    if not question.ivr_prompt.strip():
        return False
    if question.kind in SCALES:
        return True
    return question.kind == SINGLE_CHOICE and len(question.options) <= MAX_DTMF_OPTIONS


def dtmf_digits(question: Question) -> int:
    """How many keys the dialplan reads: two for 0–10 ("10"), else one."""
    return 2 if question.kind == SCALE_10 else 1


def dtmf_answer(question: Question, digits: str) -> Answer | None:
    """The keys a caller pressed as an answer (None: nothing valid was pressed)."""
    digits = digits.strip().rstrip("#")
    if not digits.isdigit():
        return None
    if question.kind == SINGLE_CHOICE:
        index = int(digits)
        if not 1 <= index <= len(question.options):
            return None
        return Answer(question.id, choices=(question.options[index - 1],))
    try:
        return parse_answer(question, digits)
    except AnswerError:
        return None


def next_on_phone(
    questions: Sequence[Question], answers: Mapping[int, Answer], after_id: int | None
) -> Question | None:
    """The next question the caller hears after ``after_id`` (None: the first)."""
    started = after_id is None
    for question in questions:
        if not started:
            started = question.id == after_id
            continue
        if on_phone(question) and is_shown(question, answers):
            return question
    return None


# --- scores -------------------------------------------------------------------------


def score(kinds_and_numbers: Iterable[tuple[str, float]]) -> Scores:
    """CSAT over 1–5 answers and NPS over 0–10 answers."""
    csat_n = csat_ok = nps_n = promoters = detractors = 0
    total5 = 0.0
    for kind, number in kinds_and_numbers:
        if kind == SCALE_5:
            csat_n += 1
            total5 += number
            csat_ok += number >= 4
        elif kind == SCALE_10:
            nps_n += 1
            promoters += number >= 9
            detractors += number <= 6
    return Scores(csat_n, csat_ok, nps_n, promoters, detractors, total5)


# --- the care team's follow-up -------------------------------------------------------


def verdict(questions: Sequence[Question], answers: Mapping[int, Answer]) -> bool | None:
    """Is the customer satisfied? The first answered scale or single choice decides.

    A 1–5 scale counts 4–5 as satisfied (as CSAT does), 0–10 counts 7–10; a single
    choice's options run from worst to best, and the better half counts (for "Không hài
    lòng / Bình thường / Hài lòng" only "Hài lòng"). None: nothing decided it."""
    for question in questions:
        answer = answers.get(question.id)
        if answer is None:
            continue
        if question.kind == SCALE_5 and answer.number is not None:
            return answer.number >= 4
        if question.kind == SCALE_10 and answer.number is not None:
            return answer.number >= 7
        if question.kind == SINGLE_CHOICE and answer.choices:
            index = question.options.index(answer.choices[0])
            return index >= (len(question.options) + 1) // 2
    return None


def free_text_of(questions: Sequence[Question], answers: Mapping[int, Answer]) -> str:
    """The free-text answers joined, e.g. as the comment of a "not satisfied" follow-up."""
    return " / ".join(
        answers[q.id].text for q in questions if q.kind == FREE_TEXT and q.id in answers
    )


# --- generated speech -------------------------------------------------------------------

_DIGIT_WORDS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín", "mười")


def phone_script(question: Question) -> str:
    """What the generated prompt says (Vietnamese, the callers' language): the question,
    then which keys answer it."""
    text = question.text.strip()
    if question.kind == SINGLE_CHOICE:
        keys = " ".join(
            f"{option}, bấm phím {_DIGIT_WORDS[index]}."
            for index, option in enumerate(question.options, start=1)
        )
        return f"{text} {keys}"
    if question.kind == SCALE_5:
        return f"{text} Xin bấm một phím từ một đến năm."
    if question.kind == SCALE_10:
        return f"{text} Xin bấm điểm từ không đến mười, rồi bấm phím thăng."
    return text
