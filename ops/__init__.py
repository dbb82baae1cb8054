"""Op packages: one folder per op with its program factory, kernel mirrors, numerics and search space."""
