"""Store selection: one URL (or RESILIENCE_DB) picks memory, SQLite or PostgreSQL."""

import pytest

from resilience import ConfigurationError
from resilience.adapters.store import redacted, resolve_url, store_env


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


def test_timeout_bounds_every_wait_and_defaults_to_ten_seconds() -> None:
    """?timeout= (seconds) becomes the lock wait on SQLite, and the connection and lock
    waits on PostgreSQL (whole seconds where eventsourcing wants them)."""
    sqlite = store_env("sqlite:///data/events.db?timeout=2.5")
    assert sqlite["SQLITE_DBNAME"] == "data/events.db"
    assert (sqlite["RESILIENCE_TIMEOUT"], sqlite["SQLITE_LOCK_TIMEOUT"]) == ("2.5", "3")
    pg = store_env("postgresql://u@h/d?schema=s&timeout=0.5")
    assert (pg["RESILIENCE_TIMEOUT"], pg["POSTGRES_CONNECT_TIMEOUT"],
            pg["POSTGRES_LOCK_TIMEOUT"]) == ("0.5", "1", "1")
    assert store_env("sqlite:///x.db")["RESILIENCE_TIMEOUT"] == "10"
    assert store_env("postgresql://u@h/d")["POSTGRES_LOCK_TIMEOUT"] == "10"


def test_bad_timeouts_and_unknown_parameters_are_configuration_errors() -> None:
    """A timeout must be a number of seconds > 0 and at most a day (1e300 once overflowed
    the drivers' waits); a misspelt parameter is not ignored."""
    for bad in ("0", "-2", "inf", "nan", "ten", "1e300", "86400.5"):
        with pytest.raises(ConfigurationError, match="timeout"):
            store_env(f"sqlite:///x.db?timeout={bad}")
        with pytest.raises(ConfigurationError, match="at most 86,400"):
            store_env(f"postgresql://u@h/d?timeout={bad}")
    assert store_env("sqlite:///x.db?timeout=86400")["SQLITE_LOCK_TIMEOUT"] == "86400"
    with pytest.raises(ConfigurationError, match="unknown parameter 'shema'"):
        store_env("postgresql://u@h/d?shema=x")
    with pytest.raises(ConfigurationError, match="NUL"):
        store_env("postgresql://u@h/d?schema=%00")


def test_messages_never_show_the_password() -> None:
    """Errors name the store by its URL with the password masked."""
    assert redacted("postgresql://ops:s%40cret@db:5432/r?schema=x") == \
        "postgresql://ops:***@db:5432/r?schema=x"
    assert redacted("sqlite:///events.db") == "sqlite:///events.db"
