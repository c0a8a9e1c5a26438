"""Pure numpy media transforms: adstock, saturation and time-scale conversion."""
