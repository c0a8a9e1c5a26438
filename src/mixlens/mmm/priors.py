"""Priors as data: a distribution family name and its numeric parameters.

Examples
--------
>>> Prior("HalfNormal", {"sigma": 2}).to_dict()
{'dist': 'HalfNormal', 'params': {'sigma': 2.0}}
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

__all__ = ["DISTRIBUTIONS", "FrozenMap", "Prior"]

#: Distribution families a :class:`Prior` may name, with the parameters each accepts.
DISTRIBUTIONS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "Normal": frozenset({"mu", "sigma"}),
        "HalfNormal": frozenset({"sigma"}),
        "LogNormal": frozenset({"mu", "sigma"}),
        "Beta": frozenset({"alpha", "beta"}),
        "Gamma": frozenset({"alpha", "beta", "mu", "sigma"}),
        "Exponential": frozenset({"lam"}),
        "StudentT": frozenset({"nu", "mu", "sigma"}),
        "HalfStudentT": frozenset({"nu", "sigma"}),
        "TruncatedNormal": frozenset({"mu", "sigma", "lower", "upper"}),
        "Uniform": frozenset({"lower", "upper"}),
    }
)


_V = TypeVar("_V")


class FrozenMap(Mapping[str, _V], Generic[_V]):
    """An immutable, hashable mapping (so that specs holding priors stay hashable)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, _V] | None = None) -> None:
        self._data: dict[str, _V] = dict(data or {})

    def __getitem__(self, key: str) -> _V:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._data.items(), key=lambda kv: kv[0])))

    def __repr__(self) -> str:
        return repr(self._data)


@dataclass(frozen=True)
class Prior:
    """A prior distribution: a PyMC family name and its numeric parameters.

    Parameters
    ----------
    dist
        Family name as in PyMC (``"Beta"``, ``"HalfNormal"``, ...; see ``DISTRIBUTIONS``).
    params
        Parameters of the family by PyMC's keyword names, e.g. ``{"sigma": 0.5}``.

    Raises
    ------
    ValueError
        If the family is unknown, a parameter is not one of the family's, or a value is
        not a finite number.

    Examples
    --------
    >>> Prior("HalfNormal", {"sigma": 2}).to_dict()
    {'dist': 'HalfNormal', 'params': {'sigma': 2.0}}
    """

    dist: str
    params: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        allowed = DISTRIBUTIONS.get(self.dist)
        if allowed is None:
            raise ValueError(
                f"unknown prior distribution {self.dist!r}; use one of {', '.join(DISTRIBUTIONS)}"
            )
        unknown = sorted(set(self.params) - allowed)
        if unknown:
            raise ValueError(
                f"{self.dist} prior has no parameter {', '.join(map(repr, unknown))}; "
                f"it takes {', '.join(sorted(allowed))}"
            )
        values: dict[str, float] = {}
        for key, value in self.params.items():
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(f"{self.dist} prior parameter {key!r} must be finite")
            values[key] = number
        object.__setattr__(self, "params", FrozenMap(values))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe ``{"dist": ..., "params": {...}}``."""
        return {"dist": self.dist, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Prior:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["dist"]), {str(k): float(v) for k, v in data["params"].items()})
