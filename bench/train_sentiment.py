"""Train the shipped sentiment heads and measure them on every held-out set.

    python bench/train_sentiment.py                      # all Korean training rows
    python bench/train_sentiment.py --ko-limit 8000      # fewer Korean rows (faster to embed)
    python bench/train_sentiment.py --no-write           # measure only, keep the shipped files

Reads ``shared/data/sentiment`` (``--data``) and ``tests/feedback/data/customer_texts.tsv``,
embeds every text with the bundled e5 (through the embedding cache, so a second run embeds
nothing; point ``JOURNEYLENS_CACHE_DIR`` at a folder to keep it), trains the heads
(:func:`journeylens.feedback.training.train_heads`), writes
``src/journeylens/feedback/models/sentiment_heads.npz`` + ``sentiment_card.json``, prints the
accuracy per test set and writes ``bench/results/sentiment_training.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
RESULTS = HERE / "results" / "sentiment_training.json"
MODELS = ROOT / "src" / "journeylens" / "feedback" / "models"
CUSTOMER = ROOT / "tests" / "feedback" / "data" / "customer_texts.tsv"
DATA = ROOT.parent / "shared" / "data" / "sentiment"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--ko-limit", type=int, default=None)
    parser.add_argument("--customer-weight", type=float, default=10.0)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()

    from journeylens.feedback.embed import default_cache, embed
    from journeylens.feedback.training import read_sentiment_data, train_heads

    data = read_sentiment_data(args.data, CUSTOMER)
    embedded = {"texts": 0, "seconds": 0.0}

    def embed_texts(texts):
        start = time.perf_counter()

        def show(done: int, total: int) -> None:
            print(f"\r  embedding {done:>6}/{total}", end="", file=sys.stderr, flush=True)

        out = embed(texts, cache=default_cache(), progress=show)
        print(file=sys.stderr)
        embedded["texts"] += len(texts)
        embedded["seconds"] += time.perf_counter() - start
        return out

    start = time.perf_counter()
    trained = train_heads(
        data, embed_texts, customer_weight=args.customer_weight, ko_limit=args.ko_limit
    )
    seconds = time.perf_counter() - start
    if not args.no_write:
        trained.save(MODELS)

    def table(title: str, measured: dict) -> None:
        print(f"\n{title:<26} {'rows':>6} {'binary acc':>11} {'3-class acc':>12}")
        for name, m in measured.items():
            three = m.get("accuracy_3class")
            three_text = f"{three:>12.4f}" if three is not None else f"{'-':>12}"
            print(f"{name:<26} {m['rows']:>6} {m['binary_accuracy']:>11.4f} {three_text}")

    heads = trained.card["heads"]
    validation = {f"{k}_validation": h["validation"]["accuracy"] for k, h in heads.items()}
    table("validation set", validation)
    table("test set", trained.card["accuracy"])
    for lang, head in trained.card["heads"].items():
        views = ", ".join(f"{n} {v['weight']} (C={v['C']})" for n, v in head["views"].items())
        print(f"{lang}: {views}; neutral rule: {head['neutral_rule']}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "command": " ".join(["python", *sys.argv]),
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "seconds": round(seconds, 1),
        "embedding_seconds": round(embedded["seconds"], 1),
        "written": not args.no_write,
        "card": trained.card,
    }
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
