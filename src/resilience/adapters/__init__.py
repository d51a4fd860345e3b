"""Adapters: serialisation and persistence wiring around eventsourcing."""
