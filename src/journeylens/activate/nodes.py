"""The nodes of a journey: waits, splits and actions, and the split conditions.

Every node names its successor(s) by node id; ``next: null`` ends the path. Node kinds
(``kind``): ``wait`` (a fixed duration), ``wait_event`` (until an event, with a ``timeout`` and a
``timeout_next`` branch), ``wait_best_hour`` (until the person's best send hour),
``condition_split`` (traits, scores or events seen since entry), ``random_split`` (weights),
``channel_split`` (the person's preferred reachable channel), ``send`` (email, sms, push,
web_push, whatsapp), ``webhook``, ``update_traits`` and ``add_to_segment``.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from journeylens.analysis.base import DurationField, Spec
from journeylens.analysis.filters import PropertyFilter

__all__ = [
    "MESSAGE_CHANNELS",
    "WAIT_KINDS",
    "AddToSegmentNode",
    "ChannelSplitNode",
    "ConditionSplitNode",
    "EventSeenCondition",
    "MessageChannel",
    "Node",
    "NodeId",
    "RandomBranch",
    "RandomSplitNode",
    "ScoreCondition",
    "SendNode",
    "SplitCondition",
    "TraitCondition",
    "UpdateTraitsNode",
    "WaitBestHourNode",
    "WaitEventNode",
    "WaitNode",
    "WebhookNode",
    "successors",
]

#: Channels a ``send`` node can use; SMS, push, web push and WhatsApp go out through
#: provider webhooks in the runner, email through SMTP.
MessageChannel = Literal["email", "sms", "push", "web_push", "whatsapp"]
MESSAGE_CHANNELS: tuple[str, ...] = ("email", "sms", "push", "web_push", "whatsapp")

NodeId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")]


# ----------------------------------------------------------------------------- splits
class TraitCondition(PropertyFilter):
    """A filter on the person's current trait."""

    kind: Literal["trait"] = "trait"
    source: Literal["person"] = "person"


class ScoreCondition(Spec):
    """The person's latest score of ``model`` compared with ``value`` (no score: false)."""

    kind: Literal["score"] = "score"
    model: str = Field(min_length=1)
    operator: Literal["gt", "gte", "lt", "lte"] = "gte"
    value: float


class EventSeenCondition(Spec):
    """The person did ``event`` (with filters) since entering this journey."""

    kind: Literal["event"] = "event"
    event: str = Field(min_length=1)
    filters: tuple[PropertyFilter, ...] = ()

    @cached_property
    def key(self) -> str:
        """A short stable id of this condition, recorded in the state when it is seen."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


SplitCondition = Annotated[
    TraitCondition | ScoreCondition | EventSeenCondition, Field(discriminator="kind")
]


# ----------------------------------------------------------------------------- nodes
class WaitNode(Spec):
    """Wait a fixed ``duration``, then go to ``next``."""

    kind: Literal["wait"] = "wait"
    duration: DurationField
    next: NodeId | None = None


class WaitEventNode(Spec):
    """Wait until the person does ``event`` (go to ``next``) or ``timeout`` passes (go to
    ``timeout_next``)."""

    kind: Literal["wait_event"] = "wait_event"
    event: str = Field(min_length=1)
    filters: tuple[PropertyFilter, ...] = ()
    timeout: DurationField
    next: NodeId | None = None
    timeout_next: NodeId | None

    @model_validator(mode="before")
    @classmethod
    def _timeout_branch_given(cls, data: Any) -> Any:
        # Leaving the timeout branch out is a common slip; say what it is, not just "required".
        if isinstance(data, dict) and "timeout_next" not in data:
            raise ValueError(
                "a wait_event node needs 'timeout_next', the node to go to when the timeout "
                "passes (null ends the path there)"
            )
        return data


class WaitBestHourNode(Spec):
    """Wait until the person's best send hour (local time); without one, until
    ``fallback_hour`` local time, or, with no fallback, go on at once."""

    kind: Literal["wait_best_hour"] = "wait_best_hour"
    fallback_hour: int | None = Field(default=None, ge=0, le=23)
    next: NodeId | None = None


class ConditionSplitNode(Spec):
    """Go to ``then`` when every condition holds, else to ``otherwise``. (Not ``yes``/``no``:
    YAML 1.1 reads those keys as booleans.)"""

    kind: Literal["condition_split"] = "condition_split"
    conditions: tuple[SplitCondition, ...] = Field(min_length=1)
    then: NodeId | None
    otherwise: NodeId | None


class RandomBranch(Spec):
    """One branch of a random split: its relative ``weight`` and the node it leads to."""

    weight: float = Field(gt=0)
    next: NodeId | None


class RandomSplitNode(Spec):
    """Send each person down one branch at random (deterministic per instance), by weight."""

    kind: Literal["random_split"] = "random_split"
    branches: tuple[RandomBranch, ...] = Field(min_length=2)


class ChannelSplitNode(Spec):
    """Go to the branch of the person's preferred channel when they are reachable there, else
    to ``otherwise``."""

    kind: Literal["channel_split"] = "channel_split"
    branches: dict[MessageChannel, NodeId | None] = Field(min_length=1)
    otherwise: NodeId | None


class SendNode(Spec):
    """Send a message on ``channel``: a ``template`` name for the provider, or a ``subject``
    (email) and ``body``; ``url`` is the link it opens; ``data`` extra provider fields."""

    kind: Literal["send"] = "send"
    channel: MessageChannel
    template: str | None = None
    subject: str | None = None
    body: str | None = None
    url: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    next: NodeId | None = None

    @model_validator(mode="after")
    def _has_content(self) -> Self:
        if self.template is None and self.body is None:
            raise ValueError("a send node needs a 'template' or a 'body'")
        return self


class WebhookNode(Spec):
    """Call ``url`` with ``body`` (JSON) and the person's id."""

    kind: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://")
    method: Literal["POST", "PUT"] = "POST"
    body: dict[str, Any] = Field(default_factory=dict)
    next: NodeId | None = None


class UpdateTraitsNode(Spec):
    """Set ``traits`` on the person's profile."""

    kind: Literal["update_traits"] = "update_traits"
    traits: dict[str, Any] = Field(min_length=1)
    next: NodeId | None = None


class AddToSegmentNode(Spec):
    """Add the person to the static list ``segment``."""

    kind: Literal["add_to_segment"] = "add_to_segment"
    segment: str = Field(min_length=1)
    next: NodeId | None = None


Node = Annotated[
    WaitNode
    | WaitEventNode
    | WaitBestHourNode
    | ConditionSplitNode
    | RandomSplitNode
    | ChannelSplitNode
    | SendNode
    | WebhookNode
    | UpdateTraitsNode
    | AddToSegmentNode,
    Field(discriminator="kind"),
]

#: Nodes that hold the person until a timer or an event: a cycle must pass one of them.
WAIT_KINDS = frozenset({"wait", "wait_event", "wait_best_hour"})


def successors(node: Node) -> tuple[str | None, ...]:
    """The node ids a node can lead to.

    Returns:
        One entry per outgoing edge, in the node's order (``next`` then ``timeout_next``; yes
        then no; branches then ``otherwise``); ``None`` where that edge ends the path.

    >>> successors(WaitEventNode(event="X", timeout="1h", next="a", timeout_next=None))
    ('a', None)
    """
    if isinstance(node, WaitEventNode):
        return (node.next, node.timeout_next)
    if isinstance(node, ConditionSplitNode):
        return (node.then, node.otherwise)
    if isinstance(node, RandomSplitNode):
        return tuple(b.next for b in node.branches)
    if isinstance(node, ChannelSplitNode):
        return (*node.branches.values(), node.otherwise)
    return (node.next,)
