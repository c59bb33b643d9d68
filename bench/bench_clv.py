"""CLV models at scale: BG/NBD and Gamma-Gamma fitted on synthetic customers with known parameters.

    python bench/bench_clv.py                     # 10k, 100k and 1M customers
    python bench/bench_clv.py --customers 100000  # one size

Customers are drawn from the models' own story with numpy (BG/NBD: Gamma purchase rates, Beta
dropout, each observed 20 to 60 weeks; Gamma-Gamma: mean spends of the repeat purchases), so the
planted parameters are the answer. Each size runs in its own child process (its peak RSS is its
own): fit both models, then score every customer (P(alive), expected purchases in 13 weeks, CLV
over 12 months). Prints a table and writes ``bench/results/clv.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RESULTS = HERE / "results" / "clv.json"
BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # CDNOW's, in weeks
SPEND = {"p": 6.25, "q": 3.74, "v": 15.44}


def customers(n: int, seed: int) -> dict[str, Any]:
    """``n`` customers drawn from BG/NBD × Gamma-Gamma with the planted parameters."""
    import numpy as np

    rng = np.random.default_rng(seed)
    r, alpha, a, b = BGNBD.values()
    rate = rng.gamma(r, 1 / alpha, n)
    dropout = rng.beta(a, b, n)
    age = rng.uniform(20, 60, n)
    made = rng.poisson(rate * age)  # purchases had the customer never left
    x = np.minimum(made, rng.geometric(dropout))
    # The x-th of `made` uniform arrival times is the x-th order statistic: Beta(x, made - x + 1).
    t_x = np.where(x > 0, age * rng.beta(np.maximum(x, 1), made - x + 1), 0.0)
    p, q, v = SPEND.values()
    nu = rng.gamma(q, 1 / v, n)
    spend = np.where(x > 0, rng.gamma(p * np.maximum(x, 1), 1 / (nu * np.maximum(x, 1))), 0.0)
    return {"x": x, "t_x": t_x, "T": age, "m": spend}


def child(n: int) -> dict[str, Any]:
    from journeylens.predict.bgnbd import BetaGeo
    from journeylens.predict.clv import customer_lifetime_value
    from journeylens.predict.gamma_gamma import GammaGamma

    data = customers(n, seed=1)
    x, t_x, big_t, m = data["x"], data["t_x"], data["T"], data["m"]
    start = time.perf_counter()
    beta_geo = BetaGeo().fit(x, t_x, big_t)
    fit_bg = time.perf_counter() - start
    repeat = x > 0
    start = time.perf_counter()
    gamma_gamma = GammaGamma().fit(x[repeat], m[repeat])
    fit_gg = time.perf_counter() - start
    start = time.perf_counter()
    beta_geo.conditional_probability_alive(x, t_x, big_t)
    beta_geo.conditional_expected_purchases(13, x, t_x, big_t)
    # Weeks: a 12-month horizon is 360 days, discounted 1% a month.
    customer_lifetime_value(beta_geo, gamma_gamma, x, t_x, big_t, m, horizon="360d", unit="W")
    score = time.perf_counter() - start
    return {
        "customers": n,
        "repeat_customers": int(repeat.sum()),
        "fit_bgnbd_s": round(fit_bg, 3),
        "fit_gamma_gamma_s": round(fit_gg, 3),
        "score_s": round(score, 3),
        "bgnbd": {k: round(v, 4) for k, v in beta_geo.params_.items()},
        "gamma_gamma": {k: round(v, 4) for k, v in gamma_gamma.params_.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, action="append")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child)))
        return
    rows = []
    for n in args.customers or [10_000, 100_000, 1_000_000]:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n)], capture_output=True, text=True
        )
        if out.returncode:
            raise SystemExit(out.stderr)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    header = f"{'customers':>10} {'fit BG/NBD s':>12} {'fit GG s':>9} {'score s':>8} {'RSS MB':>7}"
    print(header)
    for row in rows:
        print(
            f"{row['customers']:>10,} {row['fit_bgnbd_s']:>12} {row['fit_gamma_gamma_s']:>9} "
            f"{row['score_s']:>8} {row['peak_rss_mb']:>7}"
        )
    print("planted", BGNBD, SPEND)
    for row in rows:
        print(f"{row['customers']:>10,} fitted", row["bgnbd"], row["gamma_gamma"])
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {"machine": platform.platform(), "planted": {**BGNBD, **SPEND}, "runs": rows}, indent=2
        )
    )


if __name__ == "__main__":
    main()
