"""Where agents run: in this process (default) or in Ray actors, behind one protocol code.

A protocol asks agents to compute through :func:`call_each` (a method name and one
argument tuple per agent) and talks to them through the audited
:class:`~mixlens.agents.messages.Bus`. With in-process :class:`~mixlens.agents.Agent`
objects :func:`call_each` calls the methods one after the other; with the
:class:`RemoteAgent` handles of a :class:`RayBackend` it sends one ``actor.run.remote``
per actor, with every call for the agents that actor hosts, and gathers the answers with
one ``ray.get``. The protocol functions are the same in both cases, so the numbers are
the same too.

The channel owners of the vertical split (:mod:`mixlens.agents.vertical`) are hosted
the same way (the sales owner stays with the coordinator). Each :class:`AgentHost` actor
holds one party by default; ``max_actors`` lets several
agents share an actor process (about 200 MiB each here), which 100 agents on a small
machine need. The shards are handed to the actors when they start (standing in for each
party loading its own rows); afterwards only what an agent method returns leaves the
actor: masked vectors (:meth:`~mixlens.agents.Agent.secure_share`), ADMM iterates, its
own credit, and, for the centralized check only, its design matrix.

Ray is an optional extra (``pip install 'mixlens[ray]'``), imported only when a
:class:`RayBackend` is created.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

import numpy.typing as npt

from mixlens.agents.agent import (
    AgentLike,
    FloatArray,
    LiftTest,
    LocalObjective,
    SharedModel,
    SufficientStats,
)
from mixlens.errors import DataError

__all__ = ["BACKENDS", "AgentHost", "RayBackend", "RemoteAgent", "call_each", "ray_available"]

BACKENDS = ("inprocess", "ray")

Call = tuple[str, str, tuple[Any, ...], dict[str, Any]]


class Named(Protocol):
    """Any party a backend can host: it has a name."""

    @property
    def name(self) -> str:
        """Party name."""
        ...


def ray_available() -> bool:
    """Whether ``ray`` can be imported.

    Examples
    --------
    >>> isinstance(ray_available(), bool)
    True
    """
    return importlib.util.find_spec("ray") is not None


def _ray() -> Any:
    """Import ``ray`` (untyped here: mypy checks mixlens with or without the extra)."""
    try:
        return importlib.import_module("ray")
    except ImportError as err:
        raise DataError(
            f"the ray backend needs the optional extra: pip install 'mixlens[ray]' ({err})"
        ) from err


class AgentHost:
    """Holds agents in one process and runs their methods by name (a Ray actor's body).

    Parameters
    ----------
    agents
        The parties this host keeps (agents, or the channel owners of the vertical
        split); their names must be distinct.

    Examples
    --------
    >>> import pandas as pd
    >>> from mixlens.agents import Agent, SharedModel
    >>> frame = pd.DataFrame({"date": pd.date_range("2023-01-02", periods=3, freq="7D"),
    ...     "sales": [1.0, 2.0, 3.0], "tv_spend": 1.0, "price": 1.0, "promotion": 0.0})
    >>> host = AgentHost([Agent("r1", frame, SharedModel(("tv",), (0.5,), (1.0,), (1.0,)))])
    >>> host.run([("r1", "n_rows", (), {})])
    [3]
    """

    def __init__(self, agents: Sequence[Named]) -> None:
        self._agents: dict[str, Any] = {a.name: a for a in agents}
        if len(self._agents) != len(agents):
            raise DataError("agent names must be distinct")

    def describe(self) -> list[dict[str, Any]]:
        """Name, rows, model, objective, lift test and channels of every hosted party."""
        keys = ("n_rows", "model", "objective", "lift", "channels")
        return [
            {"name": a.name, **{k: getattr(a, k, None) for k in keys}}
            for a in self._agents.values()
        ]

    def run(self, calls: Sequence[Call]) -> list[Any]:
        """Run ``(agent, method, args, kwargs)`` calls in order; an attribute is read."""
        out: list[Any] = []
        for name, method, args, kwargs in calls:
            if method.startswith("_"):
                raise DataError(f"agent {name!r}: private member {method!r} is not reachable")
            target = getattr(self._agents[name], method)
            out.append(target(*args, **kwargs) if callable(target) else target)
        return out


class RemoteAgent:
    """Handle on an agent that lives in a Ray actor; satisfies :class:`AgentLike`.

    Built by :meth:`RayBackend.place`. Name, rows, objective and lift test are read once;
    the model is cached and refreshed when a protocol changes it.
    """

    def __init__(self, actor: Any, info: Mapping[str, Any], ray: Any) -> None:
        self.actor = actor
        self._ray = ray
        self._name = str(info["name"])
        self._n_rows = int(info["n_rows"] or 0)
        self._model: SharedModel = info["model"]
        self._objective: LocalObjective = info["objective"]
        self._lift: LiftTest | None = info["lift"]
        self._channels: tuple[str, ...] = tuple(info["channels"] or ())

    @property
    def name(self) -> str:
        """Agent name."""
        return self._name

    @property
    def n_rows(self) -> int:
        """Rows the agent holds (a count; the rows stay in the actor)."""
        return self._n_rows

    @property
    def model(self) -> SharedModel:
        """Shared model as the agent holds it (cached)."""
        return self._model

    @property
    def objective(self) -> LocalObjective:
        """Local objective."""
        return self._objective

    @property
    def lift(self) -> LiftTest | None:
        """Lift test the agent brings, if any."""
        return self._lift

    @property
    def channels(self) -> tuple[str, ...]:
        """Channels a channel owner holds (empty for a horizontal agent)."""
        return self._channels

    @property
    def local_coef(self) -> FloatArray | None:
        """Own coefficients of the hierarchical variant (read from the actor)."""
        value: FloatArray | None = self.call("local_coef")
        return value

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run one method of the remote agent and wait for its answer."""
        out = self._ray.get(self.actor.run.remote([(self._name, method, args, kwargs)]))[0]
        if method in _MODEL_CHANGING:
            self._model = out if isinstance(out, SharedModel) else args[0]
        return out

    def set_model(self, model: SharedModel) -> None:
        """Adopt ``model`` in the actor and in the cache."""
        self.call("set_model", model)

    def lift_prior(self) -> tuple[float, float] | None:
        """Prior ``(mean, sd)`` of the tested channel's coefficient, or None."""
        value: tuple[float, float] | None = self.call("lift_prior")
        return value

    def prior_statistics(self) -> SufficientStats:
        """Lift-test prior as quadratic terms."""
        value: SufficientStats = self.call("prior_statistics")
        return value

    def channel_sums(self, beta: npt.ArrayLike) -> tuple[float, FloatArray]:
        """Predicted baseline and per-channel totals over the agent's weeks."""
        value: tuple[float, FloatArray] = self.call("channel_sums", beta)
        return value

    def pooled_design_for_check(self) -> tuple[FloatArray, FloatArray]:
        """Weighted design and target; crosses the process boundary for the check only."""
        value: tuple[FloatArray, FloatArray] = self.call("pooled_design_for_check")
        return value


_MODEL_CHANGING = frozenset({"set_model", "adopt_scales"})


def call_each(
    agents: Sequence[AgentLike] | Sequence[Named],
    method: str,
    args: Sequence[Sequence[Any]] | None = None,
    kwargs: Sequence[Mapping[str, Any]] | None = None,
) -> list[Any]:
    """Run ``method`` on every agent (``args[i]``, ``kwargs[i]`` for agent ``i``).

    In process the calls run in order; for :class:`RemoteAgent` handles one remote call
    per actor carries its agents' calls and all actors work at once. A ``method`` that
    is an attribute is read instead of called.

    Returns
    -------
    list
        One result per agent, in the order of ``agents``.

    Examples
    --------
    >>> import pandas as pd
    >>> from mixlens.agents import Agent, SharedModel
    >>> frame = pd.DataFrame({"date": pd.date_range("2023-01-02", periods=3, freq="7D"),
    ...     "sales": [1.0, 2.0, 3.0], "tv_spend": 1.0, "price": 1.0, "promotion": 0.0})
    >>> model = SharedModel(("tv",), (0.5,), (1.0,), (1.0,))
    >>> [s.n for s in call_each([Agent("a", frame, model)], "statistics")]
    [3.0]
    """
    n = len(agents)
    arg_list = [tuple(a) for a in args] if args is not None else [()] * n
    kw_list = [dict(k) for k in kwargs] if kwargs is not None else [{}] * n
    if len(arg_list) != n or len(kw_list) != n:
        raise DataError(f"call_each needs one argument set per agent ({n})")
    remote = [a for a in agents if isinstance(a, RemoteAgent)]
    if not remote:
        out_local: list[Any] = []
        for a, x, k in zip(agents, arg_list, kw_list, strict=True):
            target = getattr(a, method)
            out_local.append(target(*x, **k) if callable(target) else target)
        return out_local
    if len(remote) != n:
        raise DataError("call_each: agents must all be in process or all on one backend")
    ray = remote[0]._ray
    groups: dict[int, tuple[Any, list[int], list[Call]]] = {}
    for i, a in enumerate(remote):
        key = id(a.actor)
        entry = groups.setdefault(key, (a.actor, [], []))
        entry[1].append(i)
        entry[2].append((a.name, method, arg_list[i], kw_list[i]))
    refs = [actor.run.remote(calls) for actor, _, calls in groups.values()]
    answers = ray.get(refs)
    out: list[Any] = [None] * n
    for (_, idx, _), got in zip(groups.values(), answers, strict=True):
        for i, value in zip(idx, got, strict=True):
            out[i] = value
    if method in _MODEL_CHANGING:
        for i, a in enumerate(remote):
            a._model = out[i] if isinstance(out[i], SharedModel) else arg_list[i][0]
    return out


class RayBackend:
    """Runs agents in Ray actors; use as a context manager or call :meth:`shutdown`.

    Parameters
    ----------
    max_actors
        At most this many actor processes (agents are dealt to them in turn); default
        one actor per agent.
    num_cpus
        CPUs of the local Ray instance started if none is running (default 2).

    Starts a local Ray instance (no dashboard) unless one is already running, and shuts
    it down again at the end only if it started it.
    """

    def __init__(self, *, max_actors: int | None = None, num_cpus: int = 2) -> None:
        if max_actors is not None and max_actors < 1:
            raise DataError(f"max_actors must be >= 1, got {max_actors}")
        self.max_actors = max_actors
        self.num_cpus = num_cpus
        self._ray = _ray()
        self._started = False
        self._actors: list[Any] = []

    def place(self, agents: Sequence[Named]) -> list[RemoteAgent]:
        """Move ``agents`` (or channel owners) into actors; their handles, in order."""
        ray = self._ray
        if not ray.is_initialized():
            ray.init(num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False)
            self._started = True
        n_actors = len(agents) if self.max_actors is None else min(self.max_actors, len(agents))
        n_actors = max(n_actors, 1)
        groups: list[list[Named]] = [[] for _ in range(n_actors)]
        for i, a in enumerate(agents):
            groups[i % n_actors].append(a)
        host_cls = ray.remote(num_cpus=0)(AgentHost)
        actors = [host_cls.remote(g) for g in groups]
        self._actors += actors
        infos = ray.get([h.describe.remote() for h in actors])
        by_name: dict[str, RemoteAgent] = {}
        for actor, info in zip(actors, infos, strict=True):
            for row in info:
                by_name[str(row["name"])] = RemoteAgent(actor, row, ray)
        return [by_name[a.name] for a in agents]

    def shutdown(self) -> None:
        """Stop the actors (and the local Ray instance if this backend started it)."""
        for actor in self._actors:
            self._ray.kill(actor)
        self._actors = []
        if self._started:
            self._ray.shutdown()
            self._started = False

    def __enter__(self) -> RayBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()
