"""Behavioural clusters: persons grouped by what they do, each group described by how it differs.

**Features** (one row per person with an event at or before ``as_of``, computed in the engine
over track, page and screen events):

- ``events``: actions in total; ``event: <name>``: count of each of the ``top_events`` most
  frequent event names;
- ``sessions`` (distinct ``session_id``), ``active_days`` (distinct UTC dates), ``revenue``
  (sum of ``revenue``), ``recency_days`` (``as_of`` minus the latest action, days; persons with
  no action get the span from their first event);
- ``channel: <name>``: the share of the person's actions through each of the ``top_channels``
  most frequent channels (0 with no action).

**Model** (scikit-learn, in Python on that small table): counts, sessions, days and revenue
are heavy-tailed, so they enter as ``log1p``; then ``StandardScaler`` and ``KMeans`` (``n_init``
10, ``random_state`` = ``seed``). Without a fixed ``k``, each k in 2..``k_max`` is fitted and the
one with the best silhouette (on a seeded sample of ``sample_size`` persons) is kept. Persons are
sorted by ``person_id`` first, so the same data and seed give the same clusters on every engine.
Clusters are numbered by size, largest first.

**Descriptions**: for each cluster, the features whose cluster mean lies furthest from the
overall mean in standard deviations (of the transformed feature), with both means in the
feature's own units.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from pydantic import Field

from journeylens.analysis.base import AnalysisWarning, Result, Spec
from journeylens.analysis.registry import Analysis, register
from journeylens.analysis.segments import as_of_or_latest, iso

__all__ = ["ClustersResult", "ClustersSpec", "cluster_features", "clusters"]

_ACTIONS = ("track", "page", "screen")
_N_INIT = 10
_DESCRIBED = 3
_LOGGED = ("events", "sessions", "active_days", "revenue")


class ClustersSpec(Spec):
    """Clustering settings: ``k`` fixes the number of clusters; left out, it is chosen among
    2..``k_max`` by silhouette.

    >>> ClustersSpec(k_max=5, seed=7).top_events
    10
    """

    k: int | None = Field(default=None, ge=2, le=50)
    k_max: int = Field(default=8, ge=2, le=20)
    top_events: int = Field(default=10, ge=0, le=50)
    top_channels: int = Field(default=8, ge=0, le=30)
    sample_size: int = Field(default=5000, ge=100, le=100_000)
    seed: int = 0
    as_of: datetime | None = None


@dataclass(frozen=True)
class ClustersResult(Result):
    """Cluster assignments, sizes and descriptions (see :func:`clusters`)."""

    as_of: datetime | None
    k: int
    silhouette: dict[int, float]
    assignments: pd.DataFrame
    summary: pd.DataFrame
    profile: pd.DataFrame
    warnings: tuple[AnalysisWarning, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per cluster: ``cluster``, ``persons``, ``share``, ``description``."""
        return self.summary.copy()

    def to_dict(self) -> dict[str, Any]:
        """``as_of``, ``k``, ``silhouette`` (``[{k, score}]``), ``clusters`` (summary rows, each
        with its ``differences``: the described profile rows), ``assignments``
        (``[{person_id, cluster}]``), ``warnings``."""
        described = self.profile[self.profile.described]
        clusters = []
        for row in _records(self.summary):
            rows = described[described.cluster == row["cluster"]].drop(columns="described")
            clusters.append(row | {"differences": _records(rows.drop(columns="cluster"))})
        return {
            "as_of": iso(self.as_of),
            "k": self.k,
            "silhouette": [{"k": k, "score": s} for k, s in self.silhouette.items()],
            "clusters": clusters,
            "assignments": _records(self.assignments),
            "warnings": [w.to_dict() for w in self.warnings],
        }

    def figure(self) -> go.Figure:
        """Standardized difference of every feature (columns) per cluster (rows)."""
        grid = self.profile.pivot(index="cluster", columns="feature", values="z")
        sizes = dict(zip(self.summary.cluster, self.summary.persons, strict=True))
        fig = go.Figure(
            go.Heatmap(
                z=grid.values.tolist(),
                x=list(grid.columns),
                y=[f"cluster {c} ({sizes.get(c, 0)})" for c in grid.index],
                colorscale="RdBu",
                reversescale=True,
                zmid=0,
                colorbar={"title": "sd from mean"},
            )
        )
        fig.update_layout(title=f"Behavioural clusters (k = {self.k})")
        return fig


def clusters(events: ibis.Table, spec: ClustersSpec) -> ClustersResult:
    """Group persons by behaviour with k-means and say what sets each group apart.

    Returns:
        ClustersResult with ``k`` (clusters used); ``silhouette`` (k → mean silhouette on the
        sample, for each k tried; empty when k was fixed or there was nothing to choose);
        ``assignments``: ``person_id``, ``cluster`` (0 = largest); ``summary``: ``cluster``,
        ``persons``, ``share`` (of all clustered persons), ``description`` (its most distinctive
        features in words); ``profile`` (one row per cluster and feature): ``cluster``,
        ``feature``, ``cluster_mean``, ``overall_mean`` (feature units), ``z`` (difference of
        the transformed means in overall standard deviations), ``described`` (among the
        cluster's most distinctive). Warnings ``NO_PERSONS``, ``TOO_FEW_PERSONS`` (fewer than
        three distinct behaviours: everyone is in cluster 0).

    >>> import ibis
    >>> ev = ibis.memtable({"person_id": ["a", "b", "c", "d"], "type": ["track"] * 4,
    ...     "event": ["Buy", "Buy", "Look", "Look"], "session_id": ["1", "2", "3", "4"],
    ...     "revenue": [50.0, 60.0, None, None], "channel": ["Email"] * 4,
    ...     "timestamp": ["2024-01-01"] * 4})
    >>> ev = ev.mutate(timestamp=ev.timestamp.cast("timestamp('UTC')"))
    >>> r = clusters(ev, ClustersSpec(k=2))
    >>> r.assignments.cluster.tolist()
    [0, 0, 1, 1]
    """
    as_of = as_of_or_latest(events, spec.as_of)
    if as_of is None:
        return _single(None, pd.DataFrame({"person_id": []}), _warn("NO_PERSONS"))
    table = cluster_features(events, spec, as_of).execute()
    table = table.sort_values("person_id").reset_index(drop=True)
    if table.empty:
        return _single(as_of, table, _warn("NO_PERSONS"))
    names = [c for c in table.columns if c != "person_id"]
    raw = table[names].astype("float64").fillna(0.0)
    # scikit-learn is imported here, not at the top: it takes ~1 s, which every
    # `import journeylens` and every CLI command would otherwise pay.
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    matrix = StandardScaler().fit_transform(_transformed(raw))
    distinct = len(np.unique(matrix, axis=0))
    # The silhouette needs at least one more distinct point than clusters.
    if distinct < (spec.k if spec.k is not None else 3):
        return _single(as_of, table, _warn("TOO_FEW_PERSONS"), raw, matrix)
    scores: dict[int, float] = {}
    if spec.k is not None:
        labels = _fit(matrix, spec.k, spec.seed)
    else:
        sample = _sample(len(matrix), spec.sample_size, spec.seed)
        fits = {}
        for k in range(2, min(spec.k_max, distinct - 1) + 1):
            fits[k] = _fit(matrix, k, spec.seed)
            scores[k] = float(silhouette_score(matrix[sample], fits[k][sample]))
        # The best silhouette wins; a tie goes to the smaller k.
        labels = fits[max(scores, key=lambda k: (scores[k], -k))]
    return _result(as_of, table, raw, matrix, _by_size(labels), scores, ())


def cluster_features(events: ibis.Table, spec: ClustersSpec, as_of: datetime) -> ibis.Table:
    """The engine-side feature table: ``person_id`` and one column per feature (module
    docstring), for every person with an event at or before ``as_of``."""
    moment = ibis.literal(as_of, type="timestamp('UTC')")
    events = events.filter(events.person_id.notnull() & (events.timestamp <= moment))
    actions = events.filter(events.type.isin(_ACTIONS))
    top_events = _top(actions, actions.event, spec.top_events)
    top_channels = _top(actions, actions.channel, spec.top_channels)
    counts: dict[str, Any] = {
        "events": actions.count(),
        "sessions": actions.session_id.nunique(),
        "active_days": actions.timestamp.date().nunique(),
        "revenue": actions.revenue.sum(),
        "_jl_last": actions.timestamp.max(),
    }
    for name in top_events:
        counts[f"event: {name}"] = (actions.event == name).cast("int64").sum()
    for name in top_channels:
        counts[f"_jl_channel: {name}"] = (actions.channel == name).cast("int64").sum()
    per = actions.group_by("person_id").aggregate(**counts)
    everyone = events.group_by("person_id").aggregate(_jl_first=events.timestamp.min())
    table = everyone.left_join(per, "person_id")
    last = table._jl_last.coalesce(table._jl_first)
    filled = {name: table[name].fill_null(0) for name in counts if not name.startswith("_jl_")}
    filled["recency_days"] = (moment.epoch_seconds() - last.epoch_seconds()) / 86_400
    for name in top_channels:
        share = table[f"_jl_channel: {name}"] / table.events.nullif(0)
        filled[f"channel: {name}"] = share.fill_null(0.0)
    return table.select("person_id", **filled)


def _top(actions: ibis.Table, column: Any, n: int) -> list[str]:
    """The ``n`` most frequent non-null values (ties by name), one small query."""
    if n == 0:
        return []
    named = actions.filter(column.notnull()).select(value=column)
    counts = named.group_by("value").aggregate(n=named.count())
    top = counts.order_by([ibis.desc(counts.n), counts.value]).limit(n)
    return [str(v) for v in top.value.to_pyarrow().to_pylist()]


def _transformed(raw: pd.DataFrame) -> np.ndarray:
    logged = [c for c in raw.columns if c in _LOGGED or c.startswith("event: ")]
    values = raw.copy()
    values[logged] = np.log1p(values[logged].clip(lower=0))
    return values.to_numpy()


def _fit(matrix: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=_N_INIT, random_state=seed).fit_predict(matrix)


def _sample(n: int, size: int, seed: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size, replace=False))


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters by size, largest first (ties by first appearance in person order)."""
    values, first, sizes = np.unique(labels, return_index=True, return_counts=True)
    order = sorted(range(len(values)), key=lambda i: (-sizes[i], first[i]))
    rename = {values[i]: new for new, i in enumerate(order)}
    return np.array([rename[v] for v in labels], dtype=int)


def _result(
    as_of: datetime | None,
    table: pd.DataFrame,
    raw: pd.DataFrame,
    matrix: np.ndarray,
    labels: np.ndarray,
    scores: dict[int, float],
    warnings: tuple[AnalysisWarning, ...],
) -> ClustersResult:
    assignments = pd.DataFrame({"person_id": table.person_id.astype(object), "cluster": labels})
    profile_rows, summary_rows = [], []
    for cluster in range(int(labels.max()) + 1 if len(labels) else 0):
        inside = labels == cluster
        z = matrix[inside].mean(axis=0)
        top = set(np.argsort(-np.abs(z), kind="stable")[:_DESCRIBED])
        words = []
        for i, feature in enumerate(raw.columns):
            mean_in, mean_all = float(raw[feature][inside].mean()), float(raw[feature].mean())
            described = i in top and abs(z[i]) > 0
            profile_rows.append((cluster, feature, mean_in, mean_all, float(z[i]), described))
            if described:
                side = "higher" if z[i] > 0 else "lower"
                words.append(f"{feature} {side}: {mean_in:.3g} vs {mean_all:.3g} ({z[i]:+.1f} sd)")
        summary_rows.append((cluster, int(inside.sum()), inside.mean(), "; ".join(words)))
    summary = pd.DataFrame(summary_rows, columns=["cluster", "persons", "share", "description"])
    columns = ["cluster", "feature", "cluster_mean", "overall_mean", "z", "described"]
    profile = pd.DataFrame(profile_rows, columns=columns)
    return ClustersResult(
        as_of, int(summary.shape[0]), scores, assignments, summary, profile, warnings
    )


def _single(
    as_of: datetime | None,
    table: pd.DataFrame,
    warning: AnalysisWarning,
    raw: pd.DataFrame | None = None,
    matrix: np.ndarray | None = None,
) -> ClustersResult:
    """Everyone in one cluster (or none): too little to choose between."""
    n = len(table)
    raw = raw if raw is not None else pd.DataFrame(index=range(n))
    matrix = matrix if matrix is not None else np.zeros((n, raw.shape[1]))
    return _result(as_of, table, raw, matrix, np.zeros(n, dtype=int), {}, (warning,))


def _warn(code: str) -> AnalysisWarning:
    text = {
        "NO_PERSONS": "No person has an event at or before as_of.",
        "TOO_FEW_PERSONS": "Fewer distinct behaviours than clusters: everyone is in cluster 0.",
    }[code]
    return AnalysisWarning(code, text)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()} for row in rows]


register(
    Analysis(
        name="clusters",
        spec=ClustersSpec,
        run=clusters,
        title="Behavioural clusters",
        summary="Groups of persons who behave alike, and what sets each group apart.",
        example={"k_max": 6, "top_events": 8, "seed": 0},
    )
)
