"""Each channel's own adstock and saturation, applied group by group.

A spec gives every channel the same adstock and saturation, or chooses them per channel
(:attr:`MMMSpec.adstock`, :attr:`MMMSpec.saturation`). Channels that share a kind of
transform form a *group*; a group's parameters are random variables over its channels
only: over the dimension ``channel`` when the group holds every channel, else over
``{kind}_channel`` (``geometric_channel``, ``logistic_channel``, ...). One kind has one
configuration: channels with the same kind share its ``l_max`` and options (per-channel
priors go through :attr:`MMMSpec.priors`).

Two conventions for parameter values:

* numeric (numpy) evaluation takes **full-width** arrays whose last axis runs over every
  channel of the spec, NaN where a channel has no such parameter (:func:`stack_draws`
  reads posterior draws that way), so draws of every kind line up by channel;
* symbolic (PyTensor) evaluation takes each parameter over its group's channels, as the
  model defines it.

Kernels of shorter adstocks are padded with zero lags to the longest ``l_max``, which
leaves the adstocked media unchanged. With one adstock and one saturation for all
channels (the default) every method reduces to the transform's own, so the model's
graph is the same as without groups.

Examples
--------
>>> from mixlens.mmm.components import DelayedAdstock, GeometricAdstock
>>> adstocks = ChannelAdstocks(
...     ("tv", "search", "radio"), (DelayedAdstock(), GeometricAdstock(l_max=4), DelayedAdstock())
... )
>>> adstocks.parameters, adstocks.dim_of("alpha"), adstocks.channels_of("theta")
(('theta', 'peak', 'alpha'), 'geometric_channel', ('tv', 'radio'))
>>> adstocks.l_max
8
"""

# pytensor's functions are only partly annotated.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import pytensor.tensor as pt
from numpy.typing import NDArray

from mixlens.mmm.components import AdstockTransform, SaturationTransform

if TYPE_CHECKING:
    import xarray as xr

    from mixlens.mmm.spec import MMMSpec

__all__ = [
    "ChannelAdstocks",
    "ChannelSaturations",
    "TransformGroup",
    "stack_draws",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
_T = TypeVar("_T", AdstockTransform, SaturationTransform)


@dataclass(frozen=True)
class TransformGroup(Generic[_T]):
    """Channels that share one transform.

    Attributes
    ----------
    transform
        The shared transform.
    channels
        The group's channels, in the spec's order.
    index
        Their positions among the spec's channels, ``(n,)``.
    dim
        The dimension of the group's parameters: ``"channel"`` if the group holds every
        channel, else ``"{kind}_channel"``.
    """

    transform: _T
    channels: tuple[str, ...]
    index: IntArray
    dim: str


@dataclass(frozen=True, eq=False)
class _ChannelTransforms(Generic[_T]):
    """Per-channel transforms of one family, grouped by kind (see the module docstring)."""

    channels: tuple[str, ...]
    transforms: tuple[_T, ...]

    label = "transform"

    def __post_init__(self) -> None:
        if len(self.channels) != len(self.transforms):
            raise ValueError(
                f"{len(self.channels)} channels but {len(self.transforms)} {self.label}s"
            )
        by_kind: dict[str, _T] = {}
        for channel, transform in zip(self.channels, self.transforms, strict=True):
            first = by_kind.setdefault(transform.kind_name, transform)
            if first != transform:
                raise ValueError(
                    f"channels with {transform.kind_name} {self.label} must share one "
                    f"configuration, but {channel!r} has {transform} and another channel "
                    f"{first}; give per-channel priors through MMMSpec.priors"
                )

    @cached_property
    def groups(self) -> tuple[TransformGroup[_T], ...]:
        """The groups, in order of their first channel."""
        kinds = list(dict.fromkeys(t.kind_name for t in self.transforms))
        out = []
        for kind in kinds:
            index = np.array(
                [i for i, t in enumerate(self.transforms) if t.kind_name == kind], dtype=np.int64
            )
            dim = "channel" if len(kinds) == 1 else f"{kind}_channel"
            transform = self.transforms[int(index[0])]
            out.append(
                TransformGroup(transform, tuple(self.channels[i] for i in index), index, dim)
            )
        return tuple(out)

    @property
    def single(self) -> _T | None:
        """The transform of every channel, or None if channels differ."""
        return self.groups[0].transform if len(self.groups) == 1 else None

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the random parameters of every group, in group order."""
        return tuple(p for group in self.groups for p in group.transform.parameters)

    def group_of(self, name: str) -> TransformGroup[_T]:
        """Return the group whose transform has parameter ``name``."""
        for group in self.groups:
            if name in group.transform.parameters:
                return group
        raise KeyError(f"no {self.label} parameter {name!r}; known: {', '.join(self.parameters)}")

    def channels_of(self, name: str) -> tuple[str, ...]:
        """Return the channels that have parameter ``name``."""
        return self.group_of(name).channels

    def dim_of(self, name: str) -> str:
        """Return the dimension parameter ``name`` is defined over."""
        return self.group_of(name).dim

    def transform_of(self, channel: str) -> _T:
        """Return ``channel``'s transform."""
        return self.transforms[self.channels.index(channel)]

    @property
    def coords(self) -> dict[str, list[str]]:
        """Coordinates of the group dimensions other than ``channel``."""
        return {g.dim: list(g.channels) for g in self.groups if g.dim != "channel"}

    def expand(self, name: str, values: FloatArray) -> FloatArray:
        """Widen draws of ``name`` over its group (last axis) to every channel, NaN elsewhere."""
        group = self.group_of(name)
        if group.dim == "channel":
            return values
        out = np.full((*values.shape[:-1], len(self.channels)), np.nan)
        out[..., group.index] = values
        return out

    def _split(
        self, channel_index: IntArray | None
    ) -> Iterator[tuple[TransformGroup[_T], IntArray, IntArray]]:
        """Per group: positions in ``channel_index`` it covers, and their channels' index.

        ``channel_index`` lists spec channel positions (default: every channel once).
        Yields ``(group, positions, channels)`` for the groups that cover any of them, and
        ``local``: the channels' positions within the group (for its parameter vectors).
        """
        index = np.arange(len(self.channels)) if channel_index is None else channel_index
        for group in self.groups:
            positions = np.flatnonzero(np.isin(index, group.index))
            if positions.size:
                yield group, positions, index[positions]

    @staticmethod
    def _local(group: TransformGroup[_T], channels: IntArray) -> IntArray:
        """Positions of spec channels ``channels`` within ``group``'s parameter vectors."""
        return np.searchsorted(group.index, channels).astype(np.int64)

    @staticmethod
    def _select(params: Mapping[str, Any], names: Iterable[str], cols: Any) -> dict[str, Any]:
        return {p: params[p][..., cols] for p in names}


class ChannelAdstocks(_ChannelTransforms[AdstockTransform]):
    """Each channel's adstock (see the module docstring for the parameter conventions)."""

    label = "adstock"

    @property
    def l_max(self) -> int:
        """The longest kernel, in weeks; shorter kernels are padded with zero lags."""
        return max(g.transform.l_max for g in self.groups)

    def np_weights(
        self, params: Mapping[str, FloatArray], channel_index: IntArray | None = None
    ) -> FloatArray:
        """Numeric kernels ``(l_max, *batch, n)`` for full-width parameters ``(*batch, C)``.

        ``channel_index`` picks the channels (default all, ``n = C``).
        """
        single = self.single
        if single is not None:
            cols = slice(None) if channel_index is None else channel_index
            return single.np_weights(self._select(params, single.parameters, cols))
        n = len(self.channels) if channel_index is None else len(channel_index)
        out: FloatArray | None = None
        for group, positions, cols in self._split(channel_index):
            kernel = group.transform.np_weights(
                self._select(params, group.transform.parameters, cols)
            )
            if out is None:
                out = np.zeros((self.l_max, *kernel.shape[1:-1], n))
            out[: kernel.shape[0], ..., positions] = kernel
        assert out is not None  # every channel belongs to a group
        return out

    def pt_weights(self, params: Mapping[str, Any]) -> Any:
        """Symbolic kernels ``(l_max, C)`` for parameter tensors over their groups' channels."""
        single = self.single
        if single is not None:
            return single.pt_weights({p: params[p] for p in single.parameters})
        parts = []
        for group in self.groups:
            kernel = group.transform.pt_weights({p: params[p] for p in group.transform.parameters})
            pad = self.l_max - group.transform.l_max
            if pad:
                kernel = pt.concatenate([kernel, pt.zeros((pad, group.index.size))], axis=0)
            parts.append(kernel)
        order = np.concatenate([g.index for g in self.groups])
        return pt.concatenate(parts, axis=1)[:, np.argsort(order)]


class ChannelSaturations(_ChannelTransforms[SaturationTransform]):
    """Each channel's saturation (see the module docstring for the parameter conventions)."""

    label = "saturation"

    @property
    def media_power(self) -> dict[str, int]:
        """Power of the media scale each parameter carries (to report it in spend units)."""
        return {k: v for g in self.groups for k, v in g.transform.media_power.items()}

    def np_apply(
        self,
        x: FloatArray,
        params: Mapping[str, FloatArray],
        channel_index: IntArray | None = None,
    ) -> FloatArray:
        """Response to scaled adstocked media ``x (..., n)``; parameters full width ``(..., C)``.

        ``channel_index`` names the spec channels of ``x``'s last axis (default all).
        """
        return self._np_each(x, params, channel_index, elasticity=False)

    def np_elasticity(
        self,
        x: FloatArray,
        params: Mapping[str, FloatArray],
        channel_index: IntArray | None = None,
    ) -> FloatArray:
        """``x * f'(x)`` per channel, shapes as :meth:`np_apply`."""
        return self._np_each(x, params, channel_index, elasticity=True)

    def _np_each(
        self,
        x: FloatArray,
        params: Mapping[str, FloatArray],
        channel_index: IntArray | None,
        *,
        elasticity: bool,
    ) -> FloatArray:
        def curve(transform: SaturationTransform, xs: FloatArray, chosen: Any) -> FloatArray:
            if elasticity:
                return transform.np_elasticity(xs, chosen)
            return transform.np_apply(xs, chosen)

        single = self.single
        if single is not None and channel_index is None:
            return curve(single, x, {p: params[p] for p in single.parameters})
        out: FloatArray | None = None
        for group, positions, cols in self._split(channel_index):
            chosen = self._select(params, group.transform.parameters, cols)
            values = curve(group.transform, x[..., positions], chosen)
            if out is None:
                out = np.empty((*values.shape[:-1], x.shape[-1]))
            out[..., positions] = values
        assert out is not None  # every channel belongs to a group
        return out

    def pt_apply(
        self,
        x: Any,
        params: Mapping[str, Any],
        *,
        axis: int = 0,
        channel_index: IntArray | None = None,
    ) -> Any:
        """Symbolic response to scaled adstocked media ``x``, channels on ``axis`` (0 or -1).

        ``params`` are over their groups' channels; ``channel_index`` names the spec
        channels along ``axis`` (default all, in order).
        """
        if axis not in (0, -1):
            raise ValueError(f"axis must be 0 or -1, got {axis}")

        def along(values: Any) -> Any:
            return values[(slice(None),) + (None,) * (x.ndim - 1)] if axis == 0 else values

        single = self.single
        if single is not None:
            pick = slice(None) if channel_index is None else channel_index
            return single.pt_apply(x, {p: along(params[p][pick]) for p in single.parameters})
        parts, order = [], []
        for group, positions, cols in self._split(channel_index):
            local = self._local(group, cols)
            xs = x[positions] if axis == 0 else x[..., positions]
            chosen = {p: along(params[p][local]) for p in group.transform.parameters}
            parts.append(group.transform.pt_apply(xs, chosen))
            order.append(positions)
        out = pt.concatenate(parts, axis=axis) if len(parts) > 1 else parts[0]
        inverse = np.argsort(np.concatenate(order))
        if np.array_equal(inverse, np.arange(inverse.size)):
            return out
        return out[inverse] if axis == 0 else out[..., inverse]


def stack_draws(dataset: xr.Dataset, names: Iterable[str], spec: MMMSpec) -> dict[str, FloatArray]:
    """Flatten draws of the variables ``names`` found in ``dataset`` to ``(S, ...)``.

    Chains and draws become one leading ``sample`` axis (chain-major); other dimensions
    keep their order. Adstock and saturation parameters defined over a group of channels
    (``{kind}_channel``) come back full width over every channel, NaN elsewhere.
    """
    out: dict[str, FloatArray] = {}
    for name in dict.fromkeys(names):
        if name not in dataset:
            continue
        da = dataset[name]
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        stacked = da.stack(sample=("chain", "draw")).transpose("sample", *extra)
        values = np.asarray(stacked.values, dtype=np.float64)
        for family in (spec.adstocks, spec.saturations):
            if name in family.parameters:
                values = family.expand(name, values)
        out[name] = values
    return out
