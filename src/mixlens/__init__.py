"""mixlens: marketing measurement at every grain, consistent across grains."""

from mixlens.errors import DataError, MixlensError, NotFittedError

__all__ = ["DataError", "MixlensError", "NotFittedError", "__version__"]
__version__ = "0.1.0"
