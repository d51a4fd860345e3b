"""Domain model: aggregates, their events, and the values they carry."""
