"""Data at the boundary: schemas, loaders, validation and the simulator."""

from mixlens.data.loaders import (
    MediaPanel,
    load_campaigns,
    load_conversions,
    load_paths,
    load_touchpoints,
    load_weekly,
    read_table,
    validate_file,
)
from mixlens.data.profile import Profile

__all__ = [
    "MediaPanel",
    "Profile",
    "load_campaigns",
    "load_conversions",
    "load_paths",
    "load_touchpoints",
    "load_weekly",
    "read_table",
    "validate_file",
]
