"""What a simulation is asked to plant: its size, seed, shares of tricky cases and true effects.

:class:`SimConfig` is validated once, when :func:`journeylens.simulate.simulate` or
:func:`journeylens.simulate.write_parquet` is called; the generators trust it afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Final

from journeylens.errors import UnknownNameError, ValidationError
from journeylens.simulate.channels import DEFAULT_EFFECTS

__all__ = ["COHORT_SIZE", "EXPERIMENTS", "SimConfig", "make_config"]

#: Customers are generated in cohorts of this size, each from its own seed, so the data does not
#: depend on how :func:`write_parquet` chunks the work. Everything paired (shared devices,
#: borrowed e-mail addresses, companies) stays inside one cohort.
COHORT_SIZE: Final = 5_000

#: A/B tests: (experiment_id, start as a fraction of the window, ((variant, true lift), …)).
#: The lift is added to the conversion probability of every visit from exposure onwards.
EXPERIMENTS: Final[tuple[tuple[str, float, tuple[tuple[str, float], ...]], ...]] = (
    ("checkout_redesign", 0.0, (("control", 0.0), ("one_page_checkout", 0.03))),
    ("free_shipping_banner", 1 / 3, (("control", 0.0), ("banner_a", 0.015), ("banner_b", -0.01))),
)

_MICROS_PER_DAY: Final = 86_400_000_000


@dataclass(frozen=True)
class SimConfig:
    """A validated simulation request (see :func:`make_config` for the meaning of each field)."""

    customers: int
    days: int
    seed: int
    start: date
    registered_share: float
    shared_device_share: float
    typo_email_share: float
    junk_share: float
    churn_share: float
    channel_effects: Mapping[str, float] = field(default_factory=dict)
    assist_channels: Mapping[str, float] = field(default_factory=dict)
    assist_days: int = 7
    product_affinity: float = 0.0
    churn_warning_days: int = 0
    growing_topics: Mapping[str, float] = field(default_factory=dict)
    driver_effects: Mapping[str, float] = field(default_factory=dict)
    driver_window_days: int = 30

    @property
    def start_us(self) -> int:
        """Window start as epoch microseconds (UTC midnight of ``start``)."""
        moment = datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)
        return int(moment.timestamp()) * 1_000_000

    @property
    def end_us(self) -> int:
        """Window end (exclusive) as epoch microseconds."""
        return self.start_us + self.days * _MICROS_PER_DAY

    @property
    def cohorts(self) -> int:
        """How many cohorts of at most ``COHORT_SIZE`` customers make up the population."""
        return -(-self.customers // COHORT_SIZE)

    @property
    def driver_cutoff_us(self) -> int:
        """The planted drivers' cutoff (``days - driver_window_days``) as epoch microseconds."""
        return self.start_us + (self.days - self.driver_window_days) * _MICROS_PER_DAY


def _share(name: str, value: float, high: float = 1.0) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= high:
        raise ValidationError(
            f"simulate: {name} must be a share", received=value, allowed=f"a number in [0, {high}]"
        )
    return float(value)


def _positive_int(name: str, value: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ValidationError(
            f"simulate: {name} must be a whole number", received=value, allowed=f"1 to {high:_}"
        )
    return value


def _named_numbers(
    option: str,
    given: Mapping[str, float] | None,
    names: tuple[str, Iterable[str]],
    bounds: tuple[float, float],
    meaning: str,
) -> dict[str, float]:
    """``given`` checked: every key one of the known ``names`` (kind, names), every value a
    number within ``bounds``; returned with float values."""
    kind, known = names
    known = tuple(known)
    low, high = bounds
    out: dict[str, float] = {}
    for name, value in (given or {}).items():
        if name not in known:
            raise UnknownNameError(kind, name, known)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ValidationError(
                f"simulate: {option}[{name!r}] is out of range",
                received=value,
                allowed=f"a number in [{low:g}, {high:g}] ({meaning})",
            )
        out[name] = float(value)
    return out


def make_config(
    customers: int,
    days: int,
    *,
    seed: int = 0,
    start: str | date = "2026-01-01",
    registered_share: float = 0.7,
    shared_device_share: float = 0.02,
    typo_email_share: float = 0.01,
    junk_share: float = 0.01,
    churn_share: float = 0.2,
    channel_effects: Mapping[str, float] | None = None,
    assist_channels: Mapping[str, float] | None = None,
    assist_days: int = 7,
    product_affinity: float = 0.0,
    churn_warning_days: int = 0,
    growing_topics: Mapping[str, float] | None = None,
    driver_effects: Mapping[str, float] | None = None,
    driver_window_days: int = 30,
) -> SimConfig:
    """Validate a simulation request.

    Args:
        customers: persons to simulate (1 to 50 million).
        days: length of the window in days (1 to 3,650).
        seed: non-negative integer; the same arguments always give the same data.
        start: first day of the window, ``date`` or ISO ``"YYYY-MM-DD"`` (UTC midnight).
        registered_share: share of persons who have or create an account (a user id).
        shared_device_share: share of persons who also log in on another person's device
            (family tablet; a few devices are kiosks used by several persons).
        typo_email_share: share of registered persons who first register with another
            person's e-mail address, then correct it.
        junk_share: share of devices running a buggy client that sends junk identifiers
            ("undefined", "null", "0", "anonymous"; "test@test.com" as e-mail).
        churn_share: share of persons who stop being active on a planted day.
        channel_effects: overrides of the true channel lifts (names from ``DEFAULT_EFFECTS``,
            values in [-0.5, 0.9]); unnamed channels keep their default.
        assist_channels: channels that also *assist* (default none): channel name → additive
            change in the order chance of each of the person's later visits (of any channel)
            starting within ``assist_days`` after a visit through that channel, values in
            [0, 0.9]. The lift lands on later visits, never on the assisting visit itself, so a
            channel with a same-visit effect of 0 and an assist lift earns its orders as an
            earlier touch in the journey. Lifts of several assisting channels add up.
        assist_days: how long an assist lasts, in whole days (1 to 365).
        product_affinity: share of a person's visits that are about a product of their planted
            favourite category (default 0: every visit's product is drawn from the catalogue's
            popularity alone, so no recommender can beat popularity). The favourite category
            is in ``truth.persons.favourite_category``.
        churn_warning_days: length of the warning window in whole days (0 to 365; default 0:
            churners stop dead, with no sign beforehand). In the last ``churn_warning_days``
            before their churn day a churner's visits and message opens fade linearly to a
            tenth of their usual level and any feedback they leave is unhappy (see
            :mod:`journeylens.simulate.precursors`).
        growing_topics: complaint topics whose volume grows (default none): feedback topic
            name (``journeylens.simulate.feedback.TOPICS``, e.g. ``"delivery"``) → weight in
            [1, 20]. In the second half of the window the topic of each negative feedback text
            is drawn with this weight (1 for the other topics) instead of uniformly, so with
            ``{"delivery": 3.0}`` delivery's share of complaints goes from 1/8 to 3/10 while
            the number of complaints is unchanged. Recorded in ``truth.growing_topics``.
        driver_effects: planted drivers of churn (default none): name → true log-odds of
            churn per unit, in [-3, 3]; ``"support_contacts"`` (per support call before the
            cutoff). Churn is then decided at the cutoff ``days - driver_window_days`` from
            the planted behaviour by a logistic rule, ``churn_share`` being the mean churn
            probability (see
            :mod:`journeylens.simulate.churn_drivers`); cannot be combined with
            ``churn_warning_days``. Recorded in ``truth.driver_effects``.
        driver_window_days: with ``driver_effects``, the length of the outcome period after
            the cutoff, in whole days (1 to ``days - 1``; default 30).

    Returns:
        SimConfig with the same fields, ``start`` as a ``date``, ``channel_effects`` complete
        and ``assist_channels`` holding only the named channels.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValidationError(
            "simulate: seed must be a non-negative integer", received=seed, allowed=">= 0"
        )
    if isinstance(start, str):
        try:
            start = date.fromisoformat(start)
        except ValueError:
            raise ValidationError(
                "simulate: start is not a date", received=start, allowed="YYYY-MM-DD"
            ) from None
    elif not isinstance(start, date):
        raise ValidationError(
            "simulate: start is not a date", received=start, allowed="date or YYYY-MM-DD"
        )
    effects = dict(DEFAULT_EFFECTS)
    effects |= _named_numbers(
        "channel_effects",
        channel_effects,
        ("simulated channel", DEFAULT_EFFECTS),
        (-0.5, 0.9),
        "additive change in visit conversion",
    )
    assists = _named_numbers(
        "assist_channels",
        assist_channels,
        ("simulated channel", DEFAULT_EFFECTS),
        (0.0, 0.9),
        "additive change in later visits' conversion",
    )
    if (
        isinstance(churn_warning_days, bool)
        or not isinstance(churn_warning_days, int)
        or not 0 <= churn_warning_days <= 365
    ):
        raise ValidationError(
            "simulate: churn_warning_days must be a whole number of days",
            received=churn_warning_days,
            allowed="0 (churners stop without warning) to 365",
        )
    # Imported here: the feedback and churn_drivers modules import this one for SimConfig.
    from journeylens.simulate.feedback import TOPICS

    growing = _named_numbers(
        "growing_topics",
        growing_topics,
        ("simulated feedback topic", TOPICS),
        (1.0, 20.0),
        "the topic's weight among late complaints",
    )
    from journeylens.simulate.churn_drivers import DRIVERS

    planted = _named_numbers(
        "driver_effects",
        driver_effects,
        ("simulated churn driver", DRIVERS),
        (-3.0, 3.0),
        "log-odds of churn per unit",
    )
    days = _positive_int("days", days, 3_650)
    if planted:
        if churn_warning_days:
            raise ValidationError(
                "simulate: driver_effects cannot be combined with churn_warning_days",
                received={"churn_warning_days": churn_warning_days},
                allowed="churn_warning_days=0 with driver_effects (fading would be a driver too)",
            )
        if (
            isinstance(driver_window_days, bool)
            or not isinstance(driver_window_days, int)
            or not 1 <= driver_window_days < days
        ):
            raise ValidationError(
                "simulate: driver_window_days must be a whole number of days inside the window",
                received=driver_window_days,
                allowed=f"1 to {days - 1} (days - 1)",
            )
    return SimConfig(
        customers=_positive_int("customers", customers, 50_000_000),
        days=days,
        seed=seed,
        start=start,
        registered_share=_share("registered_share", registered_share),
        shared_device_share=_share("shared_device_share", shared_device_share, 0.3),
        typo_email_share=_share("typo_email_share", typo_email_share, 0.3),
        junk_share=_share("junk_share", junk_share, 0.3),
        churn_share=_share("churn_share", churn_share),
        channel_effects=MappingProxyType(effects),
        assist_channels=MappingProxyType(assists),
        assist_days=_positive_int("assist_days", assist_days, 365),
        product_affinity=_share("product_affinity", product_affinity),
        churn_warning_days=churn_warning_days,
        growing_topics=MappingProxyType(growing),
        driver_effects=MappingProxyType(planted),
        driver_window_days=driver_window_days,
    )
