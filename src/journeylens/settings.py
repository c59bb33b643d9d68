"""One typed settings object for a workspace: ingest limits, identity rules, enrichment rules.

Settings are frozen pydantic models with ``extra="forbid"``, so a typo in a settings file is an
error that names the field, not a silently ignored key. ``Settings()`` gives the defaults.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from journeylens.durations import Duration, parse_duration
from journeylens.schema import Stage

__all__ = [
    "DEFAULT_BLOCKED_PATTERNS",
    "DEFAULT_BLOCKED_VALUES",
    "DEFAULT_STAGE_RULES",
    "ChannelSettings",
    "EnrichSettings",
    "IdentifierType",
    "IdentitySettings",
    "IngestSettings",
    "Normaliser",
    "Settings",
    "StageRule",
    "StoreSettings",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- store


_SIZE = r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"


class StoreSettings(_Frozen):
    """How the embedded DuckDB of an on-disk workspace may use the machine."""

    #: Most memory DuckDB may hold (it evicts to its file and spills to ``<file>.tmp`` beyond);
    #: ``None`` leaves DuckDB's own default, 80% of the machine's memory.
    memory_limit: str | None = Field(
        "3GB", pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$"
    )
    #: Threads DuckDB may use (``None``: one per core).
    threads: int | None = Field(None, ge=1)


# --------------------------------------------------------------------------- ingest


class IngestSettings(_Frozen):
    """Limits applied to every ingested message."""

    #: Segment asks for events under 32 KB; larger messages are quarantined as ``OVERSIZE``.
    max_message_bytes: int = Field(32 * 1024, gt=0)
    #: A corrected timestamp later than ``received_at`` plus this is quarantined
    #: (``FUTURE_TIMESTAMP``).
    max_future: Duration = "1d"
    #: How many rows a file is read in at a time; bounds memory for large files. Measured on
    #: 10M simulated events (bench/bench_ingest.py): 100k rows peak at 2.9 GB and 136k rows/s,
    #: 250k rows at 4.3 GB and 163k rows/s.
    chunk_rows: int = Field(100_000, gt=0)
    #: Segment's ``messageId`` must be shorter than 100 characters.
    max_message_id_chars: int = Field(100, gt=0)

    @field_validator("max_future")
    @classmethod
    def _check_max_future(cls, value: Duration) -> Duration:
        parse_duration(value, field="ingest.max_future")
        return value

    @property
    def max_future_delta(self) -> timedelta:
        return parse_duration(self.max_future, field="ingest.max_future")


# --------------------------------------------------------------------------- identity

Normaliser = Literal["none", "trim", "lower_trim", "email", "phone_e164"]

#: Values that are never identifiers (Segment's suggested blocks and PostHog's illegal ids),
#: compared after trimming and case-folding.
DEFAULT_BLOCKED_VALUES: tuple[str, ...] = (
    "",
    "null",
    "none",
    "nil",
    "nan",
    "undefined",
    "anonymous",
    "guest",
    "unknown",
    "id",
    "distinct_id",
    "distinctid",
    "not_authenticated",
    "email",
    "true",
    "false",
    "-1",
    "[object object]",
    "test@test.com",
    "test@example.com",
    "noemail@example.com",
    "abc123",
    "void",
)
#: Regular expressions a value may not fully match: zeros and dashes only, whitespace only,
#: and the blocked words wrapped in quotes.
DEFAULT_BLOCKED_PATTERNS: tuple[str, ...] = (
    r"^[0\-]*$",
    r"^\s*$",
    r"^['\"](null|none|undefined|anonymous|guest|nan)?['\"]$",
)


class IdentifierType(_Frozen):
    """One kind of identifier: where it is read from, how it is normalised, how it may merge.

    ``paths`` name canonical columns (``user_id``, ``anonymous_id``) or JSON paths into the
    message (``traits.email``, ``context.traits.email``, ``context.device.id``); the first
    non-blocked value found on a message is used.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    paths: tuple[str, ...] = Field(min_length=1)
    normaliser: Normaliser = "trim"
    #: Lower wins: when a merge would break a rule, the edge of the lower-priority identifier is
    #: refused first. ``user_id`` is 1 as in Segment Unify.
    priority: int = Field(ge=1)
    #: Most values of this type one person may carry (``None`` = no limit besides the global cap).
    limit: int | None = Field(None, ge=1)


_DEFAULT_TYPES: tuple[IdentifierType, ...] = (
    IdentifierType(name="user_id", paths=("user_id",), normaliser="trim", priority=1, limit=1),
    IdentifierType(
        name="email",
        paths=("traits.email", "context.traits.email"),
        normaliser="email",
        priority=2,
        limit=5,
    ),
    IdentifierType(
        name="phone",
        paths=("traits.phone", "context.traits.phone"),
        normaliser="phone_e164",
        priority=3,
        limit=5,
    ),
    IdentifierType(name="anonymous_id", paths=("anonymous_id",), normaliser="trim", priority=4),
    IdentifierType(
        name="device_id", paths=("context.device.id",), normaliser="lower_trim", priority=5
    ),
)


class IdentitySettings(_Frozen):
    """Rules for building the identity graph (see ADR 0003)."""

    types: tuple[IdentifierType, ...] = _DEFAULT_TYPES
    blocked_values: tuple[str, ...] = DEFAULT_BLOCKED_VALUES
    blocked_patterns: tuple[str, ...] = DEFAULT_BLOCKED_PATTERNS
    #: Region for phone numbers written without a country code (ISO 3166 alpha-2).
    default_phone_region: str = Field("US", pattern=r"^[A-Z]{2}$")
    #: Hard caps per person, as Segment Unify has them: past these, no new merges.
    max_identifiers_per_person: int = Field(1000, ge=2)
    max_merges_per_person: int = Field(100, ge=1)

    @model_validator(mode="after")
    def _check_types(self) -> IdentitySettings:
        names = [t.name for t in self.types]
        if len(set(names)) != len(names):
            raise ValueError(f"identifier type names must be unique, got {names}")
        required = {"user_id", "anonymous_id"}
        if not required <= set(names):
            raise ValueError(
                f"identifier types must include {sorted(required)}; got {sorted(names)}"
            )
        return self

    def type(self, name: str) -> IdentifierType:
        for t in self.types:
            if t.name == name:
                return t
        from journeylens.errors import UnknownNameError

        raise UnknownNameError("identifier type", name, [t.name for t in self.types])


# --------------------------------------------------------------------------- enrichment


class StageRule(_Frozen):
    """Events whose name equals ``event`` or matches ``pattern`` are in ``stage``.

    Both compare case-insensitively. ``pattern`` is a regular expression searched for in the
    name (anchor it with ``^…$`` to match the whole name); it must mean the same on DuckDB (RE2)
    and Spark (Java regex), so ``enrich.assign_stages`` refuses look-arounds and backreferences.
    Rules are tried in order; the first match wins.
    """

    stage: Stage
    event: str | None = Field(None, min_length=1)
    pattern: str | None = Field(None, min_length=1)

    @field_validator("pattern")
    @classmethod
    def _check_pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{value!r} is not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_matcher(self) -> StageRule:
        if (self.event is None) == (self.pattern is None):
            raise ValueError("a stage rule needs exactly one of 'event' or 'pattern'")
        return self


#: E-commerce defaults: Segment e-commerce v2 names ("Product Viewed", "Order Completed") and
#: GA4's snake_case ones ("view_item", "purchase"); ``[ _]`` accepts both spellings. Anything
#: else a person does (page views, app opens, email opens) is awareness.
DEFAULT_STAGE_RULES: tuple[StageRule, ...] = (
    StageRule(
        stage="advocacy",
        pattern=r"^(share|.*[ _](shared|reviewed|referred)|(review|referral|nps|survey)([ _].*)?)$",
    ),
    StageRule(
        stage="retention",
        pattern=r"^(refund|order[ _](refunded|returned|cancell?ed|updated)|.*[ _]returned"
        r"|return[ _].*|subscription[ _](renewed|reactivated)|loyalty[ _].*|repeat[ _]purchase"
        r"|reorder(ed)?)$",
    ),
    StageRule(
        stage="purchase",
        pattern=r"^(purchase|order[ _](completed|placed)|checkout([ _].*)?|begin[ _]checkout"
        r"|payment[ _]info[ _]entered|add[ _](payment|shipping)[ _]info|coupon[ _].*"
        r"|subscription[ _](started|created))$",
    ),
    StageRule(
        stage="consideration",
        pattern=r"^(products?[ _].*|view[ _](item|item[ _]list|cart|search[ _]results)"
        r"|select[ _](item|promotion)|promotion[ _]clicked|(add[ _]to|remove[ _]from)[ _]"
        r"(cart|wishlist)|cart[ _].*|wishlist[ _].*|search|sign[ _]?up|signed[ _]up"
        r"|generate[ _]lead|lead[ _].*|trial[ _]started)$",
    ),
    StageRule(stage="awareness", pattern=r".*"),
)

#: A domain name as ``own_domains`` takes it: lower case, no scheme, no path.
_DOMAIN = r"^([a-z0-9-]+\.)+[a-z]{2,}$"


class EnrichSettings(_Frozen):
    """How ``Workspace.events()`` derives channel, session and stage."""

    #: A session ends after this much inactivity (GA4 and Segment use 30 minutes).
    session_timeout: Duration = "30m"
    stage_rules: tuple[StageRule, ...] = DEFAULT_STAGE_RULES
    #: The site's own domains, subdomains included (``example.com`` covers ``shop.example.com``),
    #: and any other whose referrals are not new touches (a payment page the site sends people
    #: to). Referrals from a page's own host are never touches, listed or not.
    own_domains: tuple[Annotated[str, Field(pattern=_DOMAIN)], ...] = ()

    @field_validator("session_timeout")
    @classmethod
    def _check_timeout(cls, value: Duration) -> Duration:
        parse_duration(value, field="enrich.session_timeout")
        return value

    @property
    def session_timeout_delta(self) -> timedelta:
        return parse_duration(self.session_timeout, field="enrich.session_timeout")


# --------------------------------------------------------------------------- channels

#: Channels that go out through a provider's HTTP webhook.
WebhookChannelName = Literal["sms", "push", "web_push", "whatsapp"]


class ChannelSettings(_Frozen):
    """Where journey messages go: an SMTP server for email, a provider URL per webhook channel,
    and how transient failures are retried."""

    smtp_host: str = "localhost"
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = "journeys@localhost"
    #: Upgrade the SMTP connection with STARTTLS before sending.
    smtp_starttls: bool = False
    #: Provider endpoint per webhook channel (SMS, push, web push, WhatsApp); a channel with no
    #: URL cannot send and its messages fail permanently with a reason.
    webhook_urls: dict[WebhookChannelName, Annotated[str, Field(pattern=r"^https?://")]] = {}
    #: Seconds to wait for a provider before the attempt counts as a transient failure.
    timeout_seconds: float = Field(10.0, gt=0)
    #: Attempts per message before a transient failure becomes final.
    max_attempts: int = Field(5, ge=1)
    #: Wait before the first retry; each later retry waits twice as long.
    retry_backoff: Duration = "30s"

    @field_validator("retry_backoff")
    @classmethod
    def _check_backoff(cls, value: Duration) -> Duration:
        parse_duration(value, field="channels.retry_backoff")
        return value

    @property
    def retry_backoff_delta(self) -> timedelta:
        return parse_duration(self.retry_backoff, field="channels.retry_backoff")


# --------------------------------------------------------------------------- all of it


class Settings(_Frozen):
    """Everything a workspace can be told. Stored in the workspace, so reopening keeps it."""

    store: StoreSettings = StoreSettings()
    ingest: IngestSettings = IngestSettings()
    identity: IdentitySettings = IdentitySettings()
    enrich: EnrichSettings = EnrichSettings()
    channels: ChannelSettings = ChannelSettings()
