"""Where a bench keeps its data: SQLite + the embedded broker by default, or a scratch
PostgreSQL database and a Redis database the bench may flush (the production setup)."""

from __future__ import annotations

import argparse
import os


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--postgres",
        help="PostgreSQL server URL, e.g. postgres://postgres@127.0.0.1:5432; a scratch database is created there and dropped",
    )
    parser.add_argument("--redis", help="Redis URL of a database the bench may flush, e.g. redis://127.0.0.1:6379/13")


class Backends:
    """Points `env` (and this process) at the chosen database and broker; `stop()` drops the scratch database."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str]) -> None:
        self.postgres, self.redis, self.env = args.postgres, args.redis, env
        self.scratch = ""

    @property
    def label(self) -> str:
        return ("PostgreSQL" if self.postgres else "SQLite") + (" + Redis" if self.redis else " + embedded broker")

    def start(self) -> Backends:
        if self.postgres:
            self.scratch = f"firstbreak_bench_{os.getpid()}"
            self._admin(f'CREATE DATABASE "{self.scratch}"')
            self.env["DATABASE_URL"] = f"{self.postgres.rstrip('/')}/{self.scratch}"
        if self.redis:
            import redis

            redis.Redis.from_url(self.redis).flushdb()
            self.env["REDIS_URL"] = self.redis
        os.environ.update(self.env)
        if not self.redis:
            os.environ.pop("REDIS_URL", None)
        return self

    def stop(self) -> None:
        if self.scratch:
            from django.db import connections

            connections.close_all()
            self._admin(f'DROP DATABASE IF EXISTS "{self.scratch}" WITH (FORCE)')

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{self.postgres.rstrip('/')}/postgres", autocommit=True) as conn:
            conn.execute(sql)
