"""Data at the boundary: schemas, loaders, validation and the simulator."""
