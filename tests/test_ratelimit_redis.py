"""Sign-in limits counted once for all web workers when their counters live in Redis (the
real one on 127.0.0.1:6379), and apart with memory:// (each web worker its own)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterator

import pytest
from flask import Flask

from tests.conftest import csrf_from, same_instance

LIMITED = "Too many failed sign-in attempts"
# A database number of the tests' own on the machine's Redis; only this test's keys are
# removed afterwards (they name its own address and account).
REDIS_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture
def redis_url() -> Iterator[str]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as e:
        pytest.skip(f"no Redis answers on {REDIS_URL} ({e})")
    yield REDIS_URL
    client.close()


def attempt(app: Flask, email: str, address: str) -> int:
    """One failed sign-in through ``app`` (one web worker) from ``address``."""
    client = app.test_client()
    page = client.get("/login", environ_base={"REMOTE_ADDR": address})
    res = client.post("/login", data={"email": email, "password": "wrong guess",
                                      "csrf_token": csrf_from(page.get_data(as_text=True))},
                      environ_base={"REMOTE_ADDR": address})
    if res.status_code == 429:
        assert LIMITED in res.get_data(as_text=True)
    return res.status_code


@pytest.fixture
def web_worker(app: Flask) -> Iterator[Callable[[str], Flask]]:
    """Make apps on the test's instance, as gunicorn workers counting in a given storage
    (their database connections are closed after the test)."""
    from kb.extensions import db

    made: list[Flask] = []

    def make(storage: str) -> Flask:
        made.append(same_instance(app, RATELIMIT_STORAGE_URI=storage))
        return made[-1]

    yield make
    for other in made:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


def failures_until_limited(first: Flask, second: Flask, email: str, address: str) -> int:
    """Failed sign-ins made alternately through the two apps until one answers 429."""
    for n in range(1, 21):
        if attempt((first, second)[n % 2], email, address) == 429:
            return n - 1
    return 20


class Names:
    """Addresses and emails of one test's own, whose keys are removed from Redis after it."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex[:12]
        self.addresses: list[str] = []

    def email(self, who: str = "target") -> str:
        return f"{who}-{self.token}@example.org"

    def address(self) -> str:
        address = "10.{}.{}.{}".format(*(random.randint(1, 254) for _ in range(3)))
        self.addresses.append(address)
        return address


@pytest.fixture
def names() -> Iterator[Names]:
    made = Names()
    yield made
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        for part in (made.token, *made.addresses):
            for key in client.scan_iter(match=f"*{part}*"):
                client.delete(key)
    except redis.exceptions.ConnectionError:
        pass
    finally:
        client.close()


def test_failures_through_two_web_workers_count_once_in_redis(web_worker, redis_url, names):
    first, second = web_worker(redis_url), web_worker(redis_url)
    email, address = names.email(), names.address()
    # LOGIN_LIMIT_PAIR allows 5 failures a minute per address and account, in all.
    assert failures_until_limited(first, second, email, address) == 5
    # Both workers now refuse that pair; another address is still let try.
    assert attempt(first, email, address) == 429
    assert attempt(second, email, address) == 429
    assert attempt(second, email, names.address()) == 401


def test_the_address_limit_is_shared_across_accounts_and_web_workers(web_worker, redis_url,
                                                                     names):
    first, second = web_worker(redis_url), web_worker(redis_url)
    address = names.address()
    # LOGIN_LIMIT_ADDRESS: 20 a minute from one address, whatever the accounts (four
    # failures each at five accounts, so that no pair reaches its own limit of five).
    for n in range(20):
        assert attempt((first, second)[n % 2], names.email(f"someone{n // 4}"), address) == 401
    assert attempt(first, names.email("another"), address) == 429
    assert attempt(second, names.email("yet-another"), address) == 429


def test_with_memory_storage_each_web_worker_counts_apart(web_worker, names):
    first, second = web_worker("memory://"), web_worker("memory://")
    # Five failures through each worker: ten in all, and neither has reached its limit.
    assert failures_until_limited(first, second, names.email(), names.address()) == 10


def test_an_unreachable_redis_never_fails_sign_in(web_worker, names):
    # Nothing listens on port 1: the counters are kept in memory meanwhile.
    down = web_worker("redis://127.0.0.1:1/13")
    email, address = names.email(), names.address()
    assert [attempt(down, email, address) for _ in range(6)] == [401] * 5 + [429]
