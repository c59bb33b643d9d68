"""Journey stage of every event (awareness → consideration → purchase → retention → advocacy).

The stage comes from the first ``StageRule`` matching the event name; rules compare
case-insensitively. Track, page and screen messages are what a person does, so they get a
stage (an unnamed page is matched as the empty name); identify, alias and group messages only
describe who someone is and get none.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis

from journeylens.enrich._tables import STRING, require_columns
from journeylens.errors import ValidationError
from journeylens.settings import StageRule

__all__ = ["STAGED_TYPES", "assign_stages", "check_portable_regex"]

#: Message types that get a stage.
STAGED_TYPES: tuple[str, ...] = ("track", "page", "screen")

# What RE2 (DuckDB) or Java regex (Spark) lack or read differently, after "(?".
_GROUP_CONSTRUCTS = {
    "=": "a look-ahead",
    "!": "a negative look-ahead",
    "<=": "a look-behind",
    "<!": "a negative look-behind",
    ">": "an atomic group",
    "P=": "a named backreference",
    "P>": "a recursive call",
    "(": "a conditional",
}


def _unportable(pattern: str) -> str | None:
    """The first construct in ``pattern`` that DuckDB and Spark do not both support, or None."""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escaped = pattern[i + 1 : i + 2]
            if escaped.isdigit() and escaped != "0":
                return f"a backreference (\\{escaped})"
            if escaped in ("k", "g"):
                return f"a backreference (\\{escaped})"
            i += 2
            continue
        if char == "[":
            i = _class_end(pattern, i)
            continue
        if pattern.startswith("(?", i):
            for opener, name in _GROUP_CONSTRUCTS.items():
                if pattern.startswith(opener, i + 2):
                    return f"{name} ((?{opener}…)"
        if char in "*+?}" and pattern[i + 1 : i + 2] == "+":
            return f"a possessive quantifier ({char}+)"
        i += 1
    return None


def _class_end(pattern: str, start: int) -> int:
    # A character class ends at the first unescaped "]" that is not its first member.
    i = start + 1
    if pattern[i : i + 1] == "^":
        i += 1
    if pattern[i : i + 1] == "]":
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def check_portable_regex(pattern: str, *, where: str) -> None:
    """Raise a ``ValidationError`` if ``pattern`` would not mean the same on DuckDB and Spark.

    Refused: look-arounds, backreferences, atomic groups, possessive quantifiers, conditionals
    and recursion, which RE2 (DuckDB) does not have. ``where`` names the pattern in the message.
    """
    problem = _unportable(pattern)
    if problem is not None:
        raise ValidationError(
            f"{where} uses {problem}, which DuckDB's regular expressions do not support",
            received=pattern,
            allowed="RE2 syntax: groups, classes, alternation, quantifiers, anchors, (?i)",
            fix="Rewrite the pattern without it, e.g. as two rules",
        )


def assign_stages(events: ibis.Table, rules: Sequence[StageRule]) -> ibis.Table:
    """Add the journey stage of every event: the stage of the first rule its name matches.

    Args:
        events: Events with ``type`` and ``event``.
        rules: Stage rules in order, e.g. ``settings.DEFAULT_STAGE_RULES``.

    Returns:
        ``events`` plus ``stage`` (string or null): one of ``schema.STAGES``, from the first rule
        whose ``event`` equals the name or whose ``pattern`` is found in it (case-insensitive);
        null for identify/alias/group messages and for names no rule matches.

    >>> import ibis
    >>> from journeylens.settings import DEFAULT_STAGE_RULES
    >>> ev = ibis.memtable({"type": ["track", "track", "identify"],
    ...                     "event": ["Order Completed", "view_item", None]})
    >>> assign_stages(ev, DEFAULT_STAGE_RULES).stage.to_list()
    ['purchase', 'consideration', None]
    """
    require_columns(events, {"type": STRING, "event": STRING}, step="assign_stages")
    for position, rule in enumerate(rules):
        if rule.pattern is not None:
            check_portable_regex(rule.pattern, where=f"stage rule {position} ({rule.stage})")
    name_col = "_jl_st_name"
    t = events.mutate(**{name_col: events.event.fill_null("").lower()})
    name = t[name_col]
    branches = [
        (
            name == rule.event.lower()
            if rule.event is not None
            else name.re_search(f"(?i){rule.pattern}"),
            rule.stage,
        )
        for rule in rules
    ]
    stage = ibis.cases(*branches, else_=ibis.null("string")) if branches else ibis.null("string")
    staged = t.type.lower().isin(STAGED_TYPES)
    return t.mutate(stage=ibis.ifelse(staged, stage, ibis.null("string"))).drop(name_col)
