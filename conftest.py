"""Repository-wide pytest configuration.

The doctests of :mod:`mixlens.mta.ibis_paths` need the optional ``mixlens[ibis]`` extra;
without it, that module is not collected (its tests in tests/mta skip on their own).
"""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("ibis") else ["src/mixlens/mta/ibis_paths.py"]
