"""Skip the doctests of this package's torch modules when the optional torch is absent."""

import importlib.util

_TORCH_MODULES = ["model.py", "train.py", "credit.py", "latency.py"]
collect_ignore_glob = [] if importlib.util.find_spec("torch") else _TORCH_MODULES
