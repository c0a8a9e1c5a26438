"""Compile a PyMC model for nutpie with a numba cache that holds across processes.

``nutpie.compile_pymc_model`` wraps PyTensor's numba functions (log density with its
gradient, and the ``expand`` function that maps a draw to the stored variables) in two
``numba.cfunc`` callbacks that it compiles afresh in every process (several seconds of
CPU: they read the model's data through ``numba`` intrinsics that cannot be cached). Here
the callbacks are generated as source whose only process-specific input, the addresses
of the data arrays, comes at run time through nutpie's ``user_data`` pointer; they are
registered in PyTensor's numba cache under the key of the function they wrap, so a
second process that builds the same graph (same structure, same static shapes; data
values may differ, since the data are inputs rather than constants) loads the callbacks
from disk instead of compiling them.

The callbacks call the graph's function without PyTensor's outer one-line wrapper
(:func:`unwrapped`): numba would optimise the whole graph's code once more, generate its
machine code and write it to the cache for that wrapper alone, which only the callbacks
call and which they get from their own cache entry. The callbacks compute the same
numbers to the last bit, compiled afresh or loaded from the cache
(``tests/mmm/test_nutpie_graph.py``; benchmarks/RESULTS.md, ``mmm_speed``).

The sampler sees exactly what ``nutpie.compile_pymc_model`` would give it (the same
log density, gradient, initial points and variables), so the posterior is the same.
When a model's graph cannot be cached by PyTensor, the callbacks are compiled without
the cache (as nutpie does).
"""

# numba, nutpie and pytensor are not annotated.
# mypy: disable-error-code="no-untyped-call,no-any-return,import-untyped"

from __future__ import annotations

import hashlib
import logging
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["compile_nutpie", "shared_inputs", "unwrapped"]

logger = logging.getLogger(__name__)

#: Bump when the generated callback source changes (it is part of the cache key).
_CALLBACK_VERSION = "mixlens-nutpie-callback-2"


def shared_inputs(functions: Iterable[Any]) -> dict[str, np.ndarray[Any, Any]]:
    """Return the shared variables' values of compiled PyTensor ``functions``, by name.

    Each value is a C-contiguous read-only copy (the arrays whose addresses the callbacks
    read; keep them alive as long as the compiled model).
    """
    values: dict[str, np.ndarray[Any, Any]] = {}
    seen: dict[str, Any] = {}
    for function in functions:
        for var in function.get_shared():
            if var.name in seen and seen[var.name] is not var:
                raise ValueError(f"shared variables must have unique names: {var.name}")
            if var.name in seen:
                continue
            seen[var.name] = var
            value = np.array(var.get_value(), order="C", copy=True)
            value.flags.writeable = False
            values[var.name] = value
    return values


def _cache_key(jit_fn: Any) -> str | None:
    """PyTensor's numba cache key of a compiled function graph, or None if it has none."""
    try:
        from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS
    except ImportError:  # pragma: no cover - older PyTensor
        return None
    py_func = getattr(jit_fn, "py_func", None)
    key = None if py_func is None else CACHED_SRC_FUNCTIONS.get(py_func)
    return None if key is None else str(key)


def unwrapped(jit_fn: Any) -> Any:
    """Return the graph function inside PyTensor's compiled numba function ``jit_fn``.

    PyTensor's numba linker compiles a graph as ``def numba_funcified_fgraph(*args):
    return jitable_func(*args)`` around the graph's own numba function (the wrapper that
    lets numba cache it, see ``pytensor.link.numba.dispatch.basic``); this returns that
    inner function (uncompiled: numba compiles it when a caller is compiled), or
    ``jit_fn`` itself when it is not such a wrapper.
    """
    py_func = getattr(jit_fn, "py_func", None)
    source = getattr(py_func, "__source__", "")
    inner = getattr(py_func, "__globals__", {}).get("jitable_func")
    if "return jitable_func(*args)" in source and hasattr(inner, "py_func"):
        return inner
    return jit_fn


def _data_lines(names: list[str], data: dict[str, np.ndarray[Any, Any]], order: list[str]) -> str:
    """Source lines (indented for a ``try`` block) viewing each array from ``user_data``.

    ``user_data`` holds the arrays' addresses in ``order``; shapes and dtypes are static
    (they are part of the compiled graph's cache key too).
    """
    pad = " " * 8
    lines = [f"{pad}ptrs = carray(user_data_, ({max(1, len(order))},), np.uint64)"]
    for k, name in enumerate(names):
        value = data[name]
        shape = tuple(int(s) for s in value.shape)
        lines.append(
            f"{pad}d{k} = carray(void_ptr(ptrs[{order.index(name)}]), {shape!r}, "
            f"np.{value.dtype.type.__name__})"
        )
    return "\n".join(lines)


def _logp_source(n_dim: int, names: list[str], data: Any, order: list[str]) -> str:
    args = "".join(f", d{k}" for k in range(len(names)))
    return f"""
def mixlens_logp(dim, x_, out_, logp_, user_data_):
    if dim != {n_dim}:
        return -1
    try:
{_data_lines(names, data, order)}
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_dim},))
        logp_val, grad = inner(x{args})
        logp_[0] = logp_val
        finite = True
        for i in range({n_dim}):
            g = grad[i]
            out[i] = g
            if not np.isfinite(g):
                finite = False
        if not finite:
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""


def _expand_source(
    n_dim: int, n_expanded: int, names: list[str], data: Any, order: list[str]
) -> str:
    args = "".join(f", d{k}" for k in range(len(names)))
    return f"""
def mixlens_expand(dim, expanded, x_, out_, user_data_):
    if dim != {n_dim}:
        return -1
    if expanded != {n_expanded}:
        return -1
    try:
{_data_lines(names, data, order)}
        x = carray(x_, ({n_dim},))
        out = carray(out_, ({n_expanded},))
        (values,) = inner(x{args})
        for i in range({n_expanded}):
            out[i] = values[i]
    except Exception:
        return -2
    return 0
"""


def _callback(source: str, name: str, inner: Any, signature: Any, cache_key: str | None) -> Any:
    """Compile ``source`` (defining ``name``) to a ``numba.cfunc``; cached under ``cache_key``."""
    import numba
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor.link.numba.cache import compile_numba_function_src

    # numba pickles the module name of a cached function's globals (it must be importable)
    env = {
        "__name__": __name__,
        "np": np,
        "carray": numba.carray,
        "void_ptr": address_as_void_pointer,
        "inner": inner,
    }
    key = None
    if cache_key is not None:
        digest = hashlib.sha256(f"{_CALLBACK_VERSION}\n{cache_key}\n{source}".encode())
        key = digest.hexdigest()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=numba.NumbaWarning)
        if key is not None:
            try:
                function = compile_numba_function_src(source, name, global_env=env, cache_key=key)
                return numba.cfunc(signature, cache=True)(function)
            except Exception as error:  # a stale or unreadable cache entry: compile afresh
                logger.debug("numba cache of %s unusable (%s); compiling", name, error)
        function = compile_numba_function_src(source, name, global_env=env)
        return numba.cfunc(signature)(function)


def compile_nutpie(model: Any, *, var_names: Iterable[str] | None = None) -> Any:
    """Compile ``model`` for ``nutpie.sample`` (numba backend), reusing the on-disk cache.

    Parameters
    ----------
    model
        The PyMC model.
    var_names
        Variables to store in the trace (default: all free and deterministic ones), as in
        ``nutpie.compile_pymc_model``.

    Returns
    -------
    nutpie.compile_pymc.CompiledPyMCModel
        What ``nutpie.compile_pymc_model(model, var_names=var_names)`` returns, with
        callbacks that are cached across processes.
    """
    import numba
    from nutpie.compile_pymc import (
        CompiledPyMCModel,
        _make_functions,
        _prepare_dims_and_coords,
        _wrap_with_lock,
    )
    from pymc.initial_point import make_initial_point_fn

    initial_point = make_initial_point_fn(
        model=model,
        default_strategy="support_point",
        jitter_rvs=set(model.free_RVs),
        return_transformed=True,
    )
    n_dim, n_expanded, logp_pt, expand_pt, initial_point_fn, shape_info = _make_functions(
        model,
        mode="NUMBA",
        compute_grad=True,
        join_expanded=True,
        pymc_initial_point_fn=_wrap_with_lock(initial_point),
        var_names=var_names,
    )
    data = shared_inputs([logp_pt, expand_pt])
    order = list(data)
    user_data = np.zeros(max(1, len(order)), dtype=np.uint64)
    user_data[: len(order)] = [data[name].ctypes.data for name in order]
    logp_names = [var.name for var in logp_pt.get_shared()]
    expand_names = [var.name for var in expand_pt.get_shared()]
    logp_fn = logp_pt.vm.jit_fn
    expand_fn = expand_pt.vm.jit_fn
    double_ptr = numba.types.CPointer(numba.types.double)
    logp_sig = numba.types.int64(
        numba.types.uint64, double_ptr, double_ptr, double_ptr, numba.types.voidptr
    )
    expand_sig = numba.types.int64(
        numba.types.uint64, numba.types.uint64, double_ptr, double_ptr, numba.types.voidptr
    )
    logp_cb = _callback(
        _logp_source(n_dim, logp_names, data, order),
        "mixlens_logp",
        unwrapped(logp_fn),
        logp_sig,
        _cache_key(logp_fn),
    )
    expand_cb = _callback(
        _expand_source(n_dim, n_expanded, expand_names, data, order),
        "mixlens_expand",
        unwrapped(expand_fn),
        expand_sig,
        _cache_key(expand_fn),
    )
    dims, coords = _prepare_dims_and_coords(model, shape_info)
    return CompiledPyMCModel(
        _n_dim=n_dim,
        dims=dims,
        _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info, strict=True)},
        compiled_logp_func=logp_cb,
        compiled_expand_func=expand_cb,
        initial_point_func=initial_point_fn,
        shared_data=data,
        user_data=user_data,
        n_expanded=n_expanded,
        shape_info=shape_info,
        logp_func=logp_pt,
        expand_func=expand_pt,
    )
