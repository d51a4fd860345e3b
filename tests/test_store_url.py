"""Store selection: one URL (or RESILIENCE_DB) picks memory, SQLite or PostgreSQL."""

import pytest

from resilience import ConfigurationError
from resilience.adapters.store import resolve_url, store_env


def test_sqlite_urls_relative_absolute_and_bare_paths() -> None:
    """sqlite:///rel, sqlite:////abs and a bare path all name SQLite files."""
    assert store_env("sqlite:///data/events.db")["SQLITE_DBNAME"] == "data/events.db"
    assert store_env("sqlite:////var/lib/events.db")["SQLITE_DBNAME"] == "/var/lib/events.db"
    assert store_env("events.db")["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"


def test_postgres_url_maps_every_part() -> None:
    """User, password, host, port, database and schema become eventsourcing settings."""
    env = store_env("postgresql://ops:s%40cret@db.local:6543/resilience?schema=donghu")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing.postgres"
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("ops", "s@cret")
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db.local", "6543")
    assert (env["POSTGRES_DBNAME"], env["POSTGRES_SCHEMA"]) == ("resilience", "donghu")


def test_every_store_uses_the_converter_mapper() -> None:
    """Serialisation goes through one mapper whatever the store."""
    for url in ("memory:", "sqlite:///x.db", "postgresql://u@h/d"):
        assert store_env(url)["MAPPER_TOPIC"] == "resilience.adapters.mapper:ConverterMapper"


def test_environment_variable_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """An explicit URL wins over RESILIENCE_DB, which wins over the SQLite default."""
    monkeypatch.delenv("RESILIENCE_DB", raising=False)
    assert resolve_url(None) == "sqlite:///resilience.db"
    monkeypatch.setenv("RESILIENCE_DB", "memory:")
    assert resolve_url(None) == "memory:"
    assert resolve_url("sqlite:///a.db") == "sqlite:///a.db"


def test_unknown_scheme_or_missing_parts_are_configuration_errors() -> None:
    """Bad URLs fail early with a message naming the accepted forms."""
    with pytest.raises(ConfigurationError, match="unknown store"):
        store_env("mysql://x/y")
    with pytest.raises(ConfigurationError, match="no database name"):
        store_env("postgresql://u@h")
    with pytest.raises(ConfigurationError, match="no SQLite file"):
        store_env("sqlite://")
