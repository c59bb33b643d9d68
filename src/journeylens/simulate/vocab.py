"""Controlled vocabularies the simulator draws every string from.

Keeping all emitted words here does two jobs: the data looks like a real shop (products, pages,
names, campaigns, companies), and the JSON builders in :mod:`~journeylens.simulate.columns` can
join these strings without escaping, which :func:`_check_json_safe` guarantees at import time.
"""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = [
    "AREA_CODES",
    "CATEGORIES",
    "COMPANIES",
    "EMAIL_DOMAINS_EN",
    "EMAIL_DOMAINS_KO",
    "FIRST_NAMES_EN",
    "INDUSTRIES",
    "LAST_NAMES_EN",
    "NAMES_KO",
    "PAGES",
    "PLANS",
    "PRODUCTS",
    "SCREENS",
    "SITE",
    "TIMEZONES",
    "product_catalogue",
]

SITE: Final = "https://shop.example.com"

#: (category, price low, price high, product names) — prices in USD.
CATEGORIES: Final[tuple[tuple[str, float, float, tuple[str, ...]], ...]] = (
    ("apparel", 15, 120, ("Linen Shirt", "Wool Sweater", "Rain Jacket", "Denim Jeans", "Tee")),
    ("footwear", 40, 220, ("Trail Runner", "Leather Boot", "Canvas Sneaker", "Sandal")),
    ("electronics", 25, 900, ("Wireless Earbuds", "Smart Watch", "Tablet", "Speaker", "Charger")),
    ("home", 10, 400, ("Ceramic Mug", "Throw Blanket", "Desk Lamp", "Cookware Set", "Pillow")),
    ("beauty", 8, 90, ("Face Serum", "Sunscreen", "Lip Balm", "Hair Oil")),
    ("sports", 12, 350, ("Yoga Mat", "Dumbbell Pair", "Water Bottle", "Bike Helmet")),
)

#: Web pages: (name, path, title). Product and category pages get their own paths.
PAGES: Final[tuple[tuple[str, str, str], ...]] = (
    ("Home", "/", "Example Shop"),
    ("Search", "/search", "Search results"),
    ("Category", "/category", "Shop by category"),
    ("Product", "/product", "Product details"),
    ("Cart", "/cart", "Your cart"),
    ("Checkout", "/checkout", "Checkout"),
    ("Account", "/account", "Your account"),
    ("Help", "/help", "Help centre"),
)

SCREENS: Final[tuple[str, ...]] = ("Home", "Search", "Category", "Product", "Cart", "Account")

FIRST_NAMES_EN: Final[tuple[str, ...]] = (
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "william",
    "elizabeth",
    "david",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "chris",
    "karen",
    "daniel",
    "nancy",
    "matthew",
    "lisa",
    "anthony",
    "betty",
    "mark",
    "sandra",
    "emily",
    "kevin",
    "olivia",
    "noah",
    "emma",
    "liam",
    "ava",
    "mia",
    "lucas",
    "sofia",
)
LAST_NAMES_EN: Final[tuple[str, ...]] = (
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "clark",
    "lewis",
)
#: Korean (given name, family name, romanised given, romanised family).
NAMES_KO: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("민준", "김", "minjun", "kim"),
    ("서연", "이", "seoyeon", "lee"),
    ("도윤", "박", "doyun", "park"),
    ("지우", "최", "jiwoo", "choi"),
    ("하준", "정", "hajun", "jung"),
    ("서윤", "강", "seoyun", "kang"),
    ("예준", "조", "yejun", "cho"),
    ("지민", "윤", "jimin", "yoon"),
    ("수아", "장", "sua", "jang"),
    ("지호", "임", "jiho", "lim"),
    ("하은", "한", "haeun", "han"),
    ("민서", "오", "minseo", "oh"),
)
EMAIL_DOMAINS_EN: Final = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com")
EMAIL_DOMAINS_KO: Final = ("naver.com", "daum.net", "gmail.com", "kakao.com")
AREA_CODES: Final[tuple[str, ...]] = (
    "415",
    "212",
    "312",
    "646",
    "213",
    "617",
    "206",
    "512",
    "303",
    "404",
    "305",
    "702",
    "503",
    "615",
    "919",
    "480",
    "612",
    "718",
    "510",
    "858",
)

#: (IANA name, UTC offset in hours during the simulated window, share of the locale's persons).
TIMEZONES: Final[dict[str, tuple[tuple[str, int, float], ...]]] = {
    "en-US": (
        ("America/New_York", -5, 0.45),
        ("America/Chicago", -6, 0.25),
        ("America/Los_Angeles", -8, 0.30),
    ),
    "ko-KR": (("Asia/Seoul", 9, 1.0),),
}

COMPANIES: Final[tuple[str, ...]] = (
    "Acme Corp",
    "Globex",
    "Initech",
    "Umbrella Retail",
    "Stark Supplies",
    "Wayne Logistics",
    "Hooli",
    "Vandelay Imports",
    "Soylent Foods",
    "Tyrell Systems",
    "Cyberdyne Labs",
    "Wonka Industries",
    "Gringotts Finance",
    "Pied Piper",
    "Aperture Science",
    "Oceanic Air",
)
INDUSTRIES: Final = ("retail", "software", "logistics", "finance", "manufacturing", "food")
PLANS: Final = ("starter", "business", "enterprise")


def product_catalogue(rng: np.random.Generator, per_name: int = 3) -> dict[str, np.ndarray]:
    """A fixed product catalogue: ``per_name`` variants of every product name.

    Returns:
        dict of equal-length arrays: ``product_id`` ("P-1000"…), ``name``, ``category``,
        ``price`` (USD, two decimals) and ``weight`` (popularity, Zipf-like, sums to 1).
    """
    ids, names, cats, prices = [], [], [], []
    for category, low, high, product_names in CATEGORIES:
        for name in product_names:
            for variant in range(per_name):
                ids.append(f"P-{1000 + len(ids)}")
                names.append(f"{name} {('Classic', 'Pro', 'Lite', 'Max')[variant % 4]}")
                cats.append(category)
                prices.append(round(float(rng.uniform(low, high)), 2))
    n = len(ids)
    weight = 1.0 / np.arange(1, n + 1) ** 0.8
    weight = weight[rng.permutation(n)]
    return {
        "product_id": np.array(ids, dtype=object),
        "name": np.array(names, dtype=object),
        "category": np.array(cats, dtype=object),
        "price": np.array(prices),
        "weight": weight / weight.sum(),
    }


#: Fixed so the catalogue is the same for every seed and every cohort.
PRODUCTS: Final = product_catalogue(np.random.default_rng(20260101))


def _check_json_safe() -> None:
    """Every vocabulary word must be joinable into JSON without escaping."""
    words: list[str] = [SITE, *FIRST_NAMES_EN, *LAST_NAMES_EN, *COMPANIES, *INDUSTRIES, *PLANS]
    words += [w for row in NAMES_KO for w in row] + [w for row in PAGES for w in row]
    words += [*SCREENS, *EMAIL_DOMAINS_EN, *EMAIL_DOMAINS_KO, *PRODUCTS["name"]]
    bad = [w for w in words if any(c in w for c in '"\\') or any(ord(c) < 32 for c in w)]
    if bad:
        raise AssertionError(f"vocabulary words need JSON escaping: {bad}")


_check_json_safe()
