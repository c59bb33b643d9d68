"""Sentiment scoring speed: texts per second, cold (empty embedding cache) and cached.

    python bench/bench_sentiment.py              # 500 Korean + 500 English texts
    python bench/bench_sentiment.py --texts 200

Scores held-out Korean movie reviews (``ko_nsmc_test_bin2000``) and English UCI sentences with
:func:`journeylens.feedback.sentiment.score_texts`: first with an empty on-disk cache in a
temporary folder (every text goes through e5), then the same texts again (every vector comes
from the cache). The model and heads are loaded before timing. The e5 engine uses every core
(OpenMP); the machine has 2. The 1-minute load average is recorded because other work on the
machine slows the cold figure. Prints a table and writes ``bench/results/sentiment.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "sentiment.json"
DATA = ROOT.parent / "shared" / "data" / "sentiment"
FILES = {"ko": "ko_nsmc_test_bin2000.tsv", "en": "en_uci_3000.tsv"}


def read_texts(path: Path, n: int) -> list[str]:
    """The first ``n`` texts of a sentiment TSV file."""
    with path.open(encoding="utf-8", newline="") as fh:
        rows = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [row["text"] for _, row in zip(range(n), rows, strict=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=500)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()

    from journeylens.feedback.embed import EmbeddingCache
    from journeylens.feedback.sentiment import score_texts

    score_texts(["warm up the model and heads"], cache=EmbeddingCache.memory())
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for lang, name in FILES.items():
            texts = read_texts(args.data / name, args.texts)
            cache = EmbeddingCache(Path(folder) / f"{lang}.sqlite3")
            load = os.getloadavg()[0]
            start = time.perf_counter()
            score_texts(texts, cache=cache)
            cold = time.perf_counter() - start
            start = time.perf_counter()
            score_texts(texts, cache=cache)
            cached = time.perf_counter() - start
            cache.close()
            rows.append(
                {
                    "language": lang,
                    "texts": len(texts),
                    "mean_chars": round(sum(map(len, texts)) / len(texts), 1),
                    "cold_seconds": round(cold, 3),
                    "cold_texts_per_second": round(len(texts) / cold, 1),
                    "cached_seconds": round(cached, 4),
                    "cached_texts_per_second": round(len(texts) / cached, 1),
                    "load_average_1min": round(load, 2),
                }
            )

    print(f"{'lang':<5} {'texts':>6} {'chars':>6} {'cold t/s':>9} {'cached t/s':>11} {'load':>5}")
    for r in rows:
        print(
            f"{r['language']:<5} {r['texts']:>6} {r['mean_chars']:>6} "
            f"{r['cold_texts_per_second']:>9} {r['cached_texts_per_second']:>11} "
            f"{r['load_average_1min']:>5}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "command": " ".join(["python", *sys.argv]),
        "machine": {
            "python": platform.python_version(),
            "processor": platform.machine(),
            "cores": os.cpu_count(),
        },
        "results": rows,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
