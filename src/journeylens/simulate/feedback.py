"""Customer feedback in English and Korean with a known sentiment.

After some orders (and now and then during a visit) a person answers an NPS survey ("Survey
Responded") or leaves free feedback ("Feedback Submitted"). The score is drawn first — lower
after a refunded order and from a churner in their warning window, who also speaks up far more
often (:mod:`~journeylens.simulate.precursors`) — and decides the true sentiment: 9–10
positive, 7–8 neutral, 0–6 negative. The text is written from templates of that sentiment, in
the person's language, about one aspect of the shop (the topic), so a sentiment or topic model
can be scored against truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import product

import numpy as np
import pyarrow as pa

from journeylens.simulate import precursors
from journeylens.simulate.columns import const, field_num, field_raw, field_str, json_object, pick
from journeylens.simulate.config import SimConfig
from journeylens.simulate.journeys import VisitIds, row_fields, visit_context
from journeylens.simulate.orders import Orders
from journeylens.simulate.population import Population
from journeylens.simulate.rows import Block
from journeylens.simulate.visits import APP, DAY, Visits

__all__ = ["SENTIMENTS", "TEXTS", "TOPICS", "Feedback", "feedback_events"]

SENTIMENTS = ("negative", "neutral", "positive")
_TOPICS = (
    ("delivery", "배송"),
    ("checkout", "결제"),
    ("app", "앱"),
    ("prices", "가격"),
    ("customer service", "고객센터 응대"),
    ("product quality", "제품 품질"),
    ("packaging", "포장"),
    ("return process", "반품 절차"),
)
_TEMPLATES = {
    ("en", "positive"): (
        "Really happy with the {t}, thank you!",
        "Love the {t} - will buy again.",
        "Five stars for the {t}, super smooth.",
        "The {t} was great, exactly what I hoped for.",
    ),
    ("en", "neutral"): (
        "The {t} was okay, nothing special.",
        "The {t} was fine but could be better.",
        "Average experience with the {t}.",
    ),
    ("en", "negative"): (
        "Very disappointed with the {t}.",
        "The {t} was terrible and nobody helped me.",
        "The {t} took forever, I want a refund.",
        "Worst {t} I have had, never again.",
    ),
    ("ko", "positive"): (
        "{t} 정말 만족스러워요!",
        "{t} 최고예요. 다음에도 또 살게요.",
        "{t} 너무 마음에 들어요, 감사합니다.",
    ),
    ("ko", "neutral"): (
        "{t} 그냥 보통이에요.",
        "{t} 나쁘지 않지만 특별하지도 않아요.",
        "{t} 무난한 편이에요.",
    ),
    ("ko", "negative"): (
        "{t} 너무 실망스러워요.",
        "{t} 최악이에요. 다시는 안 살래요.",
        "{t} 문제로 환불 원합니다.",
        "{t} 때문에 정말 화가 나요.",
    ),
}


def _texts() -> list[tuple[str, str, str, str]]:
    """(language, sentiment, topic, text) for every template and topic."""
    out = []
    for (lang, sentiment), templates in _TEMPLATES.items():
        for template, (topic_en, topic_ko) in product(templates, _TOPICS):
            out.append(
                (
                    lang,
                    sentiment,
                    topic_en,
                    template.format(t=topic_en if lang == "en" else topic_ko),
                )
            )
    return out


#: Every text the simulator can write: (language, sentiment, topic, text).
TEXTS = _texts()
#: The feedback topics (English names), in the order each template cycles through them.
TOPICS = tuple(en for en, _ in _TOPICS)
_LANG = np.array([t[0] for t in TEXTS])
_SENT = np.array([t[1] for t in TEXTS])
#: The texts as JSON string literals, escaped once here (they are free text).
_TEXT_JSON = pa.array([json.dumps(t[3], ensure_ascii=False) for t in TEXTS])


@dataclass(frozen=True)
class Feedback:
    """One row per feedback event drawn (aligned arrays; ``ref`` labels the events)."""

    person: np.ndarray
    text: np.ndarray  # index into TEXTS
    nps: np.ndarray


def _scores(rng, n: int, unhappy: np.ndarray) -> np.ndarray:
    happy_p = np.array([0.02] * 7 + [0.12, 0.14, 0.26, 0.32])
    sad_p = np.array([0.08, 0.08, 0.1, 0.12, 0.12, 0.12, 0.12, 0.1, 0.08, 0.04, 0.04])
    happy = rng.choice(11, n, p=happy_p / happy_p.sum())
    sad = rng.choice(11, n, p=sad_p / sad_p.sum())
    return np.where(unhappy, sad, happy)


def _grow(cfg: SimConfig, text: np.ndarray, ts: np.ndarray, rng) -> None:
    """Re-draw, in place, the topic of each complaint in the second half of the window with the
    weights of ``cfg.growing_topics`` (1 for topics not named), keeping its template."""
    weights = np.array([cfg.growing_topics.get(name, 1.0) for name in TOPICS])
    late = np.flatnonzero((_SENT[text] == "negative") & (ts >= (cfg.start_us + cfg.end_us) // 2))
    topic = rng.choice(len(TOPICS), len(late), p=weights / weights.sum())
    # TEXTS runs template by template, each through every topic in TOPICS order, and each
    # (language, sentiment) block is a whole number of templates: index % len(TOPICS) is the
    # topic, so swapping it keeps the language, the sentiment and the wording.
    text[late] += topic - text[late] % len(TOPICS)


def feedback_events(
    cfg: SimConfig,
    pop: Population,
    v: Visits,
    ids: VisitIds,
    orders: Orders,
    active_to_us: np.ndarray,
    rng,
) -> tuple[list[Block], Feedback]:
    """Survey and feedback events with their true sentiment.

    Returns:
        (blocks, feedback): the events (labelled "feedback", ``ref`` = row of ``feedback``), and
        the drawn feedback rows.
    """
    m = len(orders.visit)
    after = orders.timestamp_us + rng.integers(1, 8, m) * DAY
    by_order = np.flatnonzero((rng.random(m) < 0.15) & (v.kind[orders.visit] <= APP))
    # A fading churner speaks up far more often than a content browser (and always unhappily).
    chance = np.where(
        precursors.in_warning(cfg, pop, v.person, v.start_us), precursors.COMPLAINT_CHANCE, 0.015
    )
    browsing = np.flatnonzero((v.kind <= APP) & ~v.ordered & (rng.random(len(v)) < chance))
    visit = np.concatenate([orders.visit[by_order], browsing])
    ts = np.concatenate([after[by_order], v.start_us[browsing] + 300_000_000])
    unhappy = np.concatenate([orders.refunded[by_order], rng.random(len(browsing)) < 0.3])
    keep = ts < active_to_us[v.person[visit]]
    visit, ts, unhappy = visit[keep], ts[keep], unhappy[keep]
    unhappy = unhappy | precursors.in_warning(cfg, pop, v.person[visit], ts)
    n = len(visit)
    nps = _scores(rng, n, unhappy)
    sentiment = np.where(nps >= 9, "positive", np.where(nps >= 7, "neutral", "negative"))
    lang = np.where(pop.locale[v.person[visit]] == 1, "ko", "en")
    text = np.empty(n, dtype=np.int64)
    for key in _TEMPLATES:
        at = (lang == key[0]) & (sentiment == key[1])
        options = np.flatnonzero((key[0] == _LANG) & (key[1] == _SENT))
        text[at] = options[rng.integers(0, len(options), at.sum())]
    if cfg.growing_topics:
        _grow(cfg, text, ts, rng)
    survey = rng.random(n) < 0.7
    props = json_object(
        [
            field_str("survey_id", const("nps_2026", n), survey),
            field_num("nps", nps),
            field_raw("text", _TEXT_JSON.take(pa.array(text))),
            field_str("language", pick(["en", "ko"], (lang == "ko").astype(int))),
        ],
        n,
    )
    event = pick(["Feedback Submitted", "Survey Responded"], survey.astype(int))
    block = Block(
        type="track",
        event=event,
        timestamp_us=ts,
        context=visit_context(ids, visit, []),
        delay="web",
        properties=props,
        label="feedback",
        ref=np.arange(n),
        **row_fields(v, ids, visit),
    )
    return [block], Feedback(v.person[visit], text, nps)
