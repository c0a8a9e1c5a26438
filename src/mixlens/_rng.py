"""One way to turn a user's ``rng`` argument into a numpy Generator."""

from __future__ import annotations

import numpy as np

RandomLike = np.random.Generator | int | None


def as_generator(rng: RandomLike) -> np.random.Generator:
    """Return ``rng`` as a :class:`numpy.random.Generator`.

    An integer is a seed; ``None`` gives fresh entropy; a Generator is passed through.

    Examples
    --------
    >>> as_generator(1).integers(10) == as_generator(1).integers(10)
    np.True_
    """
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)
