"""Run small linear algebra on one BLAS thread (shared by the stages that need it)."""

from __future__ import annotations

import contextlib
import functools
import importlib
import warnings
from collections.abc import Iterator
from typing import Any

__all__ = ["single_thread_blas"]


@functools.cache
def _blas_controller() -> Any:
    """Return threadpoolctl's controller of the loaded BLAS (found once), or ``None``."""
    try:
        module: Any = importlib.import_module("threadpoolctl")
    except ImportError:
        return None
    with warnings.catch_warnings():
        # e.g. two OpenMP runtimes loaded (torch beside numpy): not this module's concern.
        warnings.simplefilter("ignore")
        return module.ThreadpoolController()


@contextlib.contextmanager
def single_thread_blas() -> Iterator[None]:
    """Run BLAS single-threaded when threadpoolctl is installed (also as a decorator).

    Solves and products of a few hundred parameters are far slower on threaded BLAS,
    which spends more time waking threads than computing (a 146-parameter solve took
    0.2 s instead of 0.4 ms on a busy 2-core machine; a small logistic fit 30x longer).
    The controller is found once, so the limit costs microseconds.
    """
    controller = _blas_controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield
