"""Shared test helpers for the MMM's compiled nutpie model."""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np


def call_logp(compiled: Any, x: np.ndarray[Any, Any]) -> tuple[int, float, np.ndarray[Any, Any]]:
    """Call a compiled nutpie model's log-density callback: (return code, logp, gradient)."""
    dbl = ctypes.POINTER(ctypes.c_double)
    grad, logp = np.zeros(compiled.n_dim), np.zeros(1)
    code = compiled.compiled_logp_func.ctypes(
        ctypes.c_uint64(compiled.n_dim),
        x.ctypes.data_as(dbl),
        grad.ctypes.data_as(dbl),
        logp.ctypes.data_as(dbl),
        ctypes.c_void_p(compiled.user_data.ctypes.data),
    )
    return int(code), float(logp[0]), grad
