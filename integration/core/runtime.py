"""Process-wide resources built from settings: database engine, sessions, Redis, queues.

Web, worker, scheduler and CLI each build one :class:`Runtime`. Jobs get theirs from
:func:`get_runtime`, which reads the environment once per process.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from rq import Queue
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from integration.core.config import Settings
from integration.core.crypto import TokenCipher
from integration.core.db import create_db_engine, make_session_factory


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    _redis: redis.Redis | None = field(default=None, repr=False)
    _cipher: TokenCipher | None = field(default=None, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        engine = create_db_engine(settings.database_url)
        # A forked RQ work horse must not reuse the parent's pooled connections (SQLAlchemy's advice
        # for multiprocessing): drop them in the child without closing the parent's sockets.
        os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
        return cls(settings=settings, engine=engine, session_factory=make_session_factory(engine))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error.

        The session knows its runtime (``session.info["runtime"]``), so work that must follow a commit
        (a job to enqueue once the rows it reads exist) can reach Redis from an ``after_commit`` hook.
        """
        with self.session_factory() as session, session.begin():
            session.info["runtime"] = self
            yield session

    @property
    def redis(self) -> redis.Redis:
        if self._redis is None:
            self._redis = redis.Redis.from_url(
                self.settings.effective_redis_url,
                socket_connect_timeout=2,
                socket_timeout=10,
                health_check_interval=30,
            )
        return self._redis

    @property
    def cipher(self) -> TokenCipher:
        """Encrypts and decrypts the platform tokens and webhook secrets stored on shops."""
        if self._cipher is None:
            self._cipher = TokenCipher(self.settings.token_encryption_key)
        return self._cipher

    def queue(self, name: str) -> Queue:
        # RQ's default serializer: RQ's own cron and the dashboard assume it. Jobs carry ids only.
        return Queue(name, connection=self.redis)

    def close(self) -> None:
        """Close the Redis client (when one was made) and the engine's pooled connections."""
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        self.engine.dispose()


@functools.cache
def get_runtime() -> Runtime:
    """The runtime of this process, from the environment (used by RQ jobs)."""
    return Runtime.from_settings(Settings.from_env())
