"""``topics`` (frequent issues) and ``emotion`` over real-world texts, cold and cached.

    python bench/bench_topics.py
    python bench/bench_topics.py --texts 2000

The corpus is ``--texts`` distinct real sentences, half Korean (NSMC test reviews), half English
(UCI product/movie/restaurant sentences), from ``../shared/data/sentiment/``: unlike the
simulator's 168 template texts, nearly every text and many terms are new to the model, which is
what a cold run pays for. Each text becomes a "Feedback Submitted" event of one of
``texts / 3`` persons, at a random moment in 60 days, after a page view (the touchpoint), in a
DuckDB memtable (2 threads).

*Cold* runs each analysis with an empty embedding cache (a fresh folder) and no scores kept in
the process: every text is embedded for its sentiment and, for topics, every term said in two
or more texts (at most 500 per sentiment) for the topic vectors. *Cached* runs the same analysis
again: vectors come from the cache and sentiment scores from the process, so what is left is
tokenising, clustering and the engine. *voice* is what the Voice of customer page runs, emotion
then topics on the same events, cold: the texts are scored once for both.
Prints a table and writes ``bench/results/topics.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "topics.json"
DATA = HERE.parent.parent / "shared" / "data" / "sentiment"
SOURCES = {"ko": "ko_nsmc_test_bin2000.tsv", "en": "en_uci_3000.tsv"}


def corpus(n: int, seed: int) -> list[str]:
    """``n`` distinct texts, half from each language file, in a random order."""
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    for name in SOURCES.values():
        with open(DATA / name, encoding="utf-8") as handle:
            rows = list(dict.fromkeys(r["text"] for r in csv.DictReader(handle, delimiter="\t")))
        texts += [rows[i] for i in rng.choice(len(rows), n // 2, replace=False)]
    return [texts[i] for i in rng.permutation(len(texts))]


def events_table(texts: list[str], seed: int) -> Any:
    import duckdb
    import ibis

    rng = np.random.default_rng(seed)
    n = len(texts)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    moments = [start + timedelta(seconds=float(s)) for s in rng.uniform(0, 60 * 86_400, n)]
    persons = [f"p{i}" for i in rng.integers(0, max(n // 3, 1), n)]
    rows: dict[str, list[Any]] = {
        k: [] for k in ("message_id", "type", "event", "person_id", "timestamp", "properties")
    }
    for i, (text, person, moment) in enumerate(zip(texts, persons, moments, strict=True)):
        for j, (event, props) in enumerate((("Home", {}), ("Feedback Submitted", {"text": text}))):
            rows["message_id"].append(f"m{i}-{j}")
            rows["type"].append("page" if j == 0 else "track")
            rows["event"].append(event)
            rows["person_id"].append(person)
            rows["timestamp"].append(moment - timedelta(minutes=5 * (1 - j)))
            rows["properties"].append(json.dumps(props, ensure_ascii=False))
    con = duckdb.connect()
    con.execute("SET threads = 2")
    backend = ibis.duckdb.from_connection(con)
    table = backend.create_table("events", ibis.memtable(rows))
    return table.mutate(
        properties=table.properties.cast("json"),
        stage=ibis.literal("awareness"),
        channel=ibis.literal("Direct"),
        session_id=ibis.null("string"),
    )


def run(texts: int, seed: int) -> list[dict[str, Any]]:
    from journeylens.feedback import embed as embedding
    from journeylens.feedback.emotion import EmotionSpec, emotion
    from journeylens.feedback.scored import clear_scores
    from journeylens.feedback.topics import TopicsSpec, topics

    events = events_table(corpus(texts, seed), seed)
    analyses = {
        "topics": lambda: topics(events, TopicsSpec()),
        "emotion": lambda: emotion(events, EmotionSpec()),
        "voice": lambda: (emotion(events, EmotionSpec()), topics(events, TopicsSpec()))[1],
    }
    rows = []
    for task, analysis in analyses.items():
        # Each analysis starts from its own empty cache, so "cold" pays for all its vectors.
        with tempfile.TemporaryDirectory() as folder:
            embedding.use_cache_dir(folder)
            clear_scores()
            for state in ("cold", "cached") if task != "voice" else ("cold",):
                started = time.perf_counter()
                result = analysis()
                seconds = time.perf_counter() - started
                n = result.feedback if task == "emotion" else result.texts
                rows.append(
                    {
                        "task": task,
                        "cache": state,
                        "texts": n,
                        "seconds": round(seconds, 2),
                        "texts_per_second": round(n / seconds, 1),
                        "topics": None if task == "emotion" else len(result.topics),
                    }
                )
            embedding.default_cache().close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = run(args.texts, args.seed)
    print(f"{'task':<8} {'cache':<7} {'texts':>6} {'seconds':>8} {'texts/s':>8} {'topics':>6}")
    for r in rows:
        topics = "" if r["topics"] is None else r["topics"]
        print(
            f"{r['task']:<8} {r['cache']:<7} {r['texts']:>6} {r['seconds']:>8} "
            f"{r['texts_per_second']:>8} {topics:>6}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "command": f"python bench/bench_topics.py --texts {args.texts} --seed {args.seed}",
                "machine": {"cpus": 2, "python": platform.python_version()},
                "corpus": "half NSMC test (Korean), half UCI sentences (English)",
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
