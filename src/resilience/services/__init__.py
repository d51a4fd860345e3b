"""Application services: load an aggregate, let it decide, save what it decided."""
