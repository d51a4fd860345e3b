"""Where events live: one URL (or the ``RESILIENCE_DB`` variable) picks the store.

``memory:``                         in-process, for tests and throwaway runs
``sqlite:///relative/file.db``      the embedded default (``sqlite:////abs/path.db`` too)
``postgresql://user:pw@host:port/db?schema=name``   the scale-out store
A bare path such as ``resilience.db`` means a SQLite file.
"""

import os
from urllib.parse import parse_qs, unquote, urlsplit

from resilience.errors import ConfigurationError

ENV_VAR = "RESILIENCE_DB"
DEFAULT_URL = "sqlite:///resilience.db"
MAPPER_TOPIC = "resilience.adapters.mapper:ConverterMapper"


def resolve_url(url: str | None) -> str:
    """The URL to use: the one given, else ``$RESILIENCE_DB``, else the SQLite default."""
    return url or os.environ.get(ENV_VAR) or DEFAULT_URL


def store_env(url: str) -> dict[str, str]:
    """eventsourcing settings for the store a URL names."""
    env = {"MAPPER_TOPIC": MAPPER_TOPIC}
    if url in ("memory:", "memory://", "popo:"):
        env["PERSISTENCE_MODULE"] = "eventsourcing.popo"
        return env
    parts = urlsplit(url)
    if parts.scheme in ("", "sqlite"):
        path = url if parts.scheme == "" else url[len("sqlite://"):]
        if parts.scheme == "sqlite" and path.startswith("/"):
            path = path[1:]  # sqlite:///rel.db -> rel.db, sqlite:////abs -> /abs
        if not path:
            raise ConfigurationError(f"no SQLite file in {url!r}; e.g. sqlite:///resilience.db")
        env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        env["SQLITE_DBNAME"] = unquote(path)
        env["SQLITE_LOCK_TIMEOUT"] = "10"
        return env
    if parts.scheme in ("postgresql", "postgres"):
        dbname = parts.path.lstrip("/")
        if not dbname:
            raise ConfigurationError(f"no database name in {url!r}")
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=unquote(dbname),
            POSTGRES_HOST=parts.hostname or "127.0.0.1",
            POSTGRES_PORT=str(parts.port or 5432),
            POSTGRES_USER=unquote(parts.username or "postgres"),
            POSTGRES_PASSWORD=unquote(parts.password or ""),
        )
        query = parse_qs(parts.query)
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise ConfigurationError(
        f"unknown store {url!r}: use memory:, sqlite:///FILE or postgresql://USER@HOST/DB"
    )
