"""Redis clients and stores from the settings."""

from __future__ import annotations

import redis
from redis.cluster import RedisCluster

from processor.config import Settings
from processor.registration.buckets import RedisClient
from processor.registration.parties import PartyStore
from processor.registration.store import RegistrationStore


def redis_client(settings: Settings) -> RedisClient:
    url = settings.redis_url.get_secret_value()
    timeouts = {
        "socket_timeout": settings.redis_socket_timeout_s,
        "socket_connect_timeout": settings.redis_socket_timeout_s,
    }
    if settings.redis_cluster:
        return RedisCluster.from_url(url, **timeouts)
    return redis.Redis.from_url(url, **timeouts)


def stores(settings: Settings) -> tuple[RegistrationStore, PartyStore]:
    client = redis_client(settings)
    return (
        RegistrationStore(client, settings.redis_key_prefix, settings.registration_buckets),
        PartyStore(client, settings.redis_key_prefix),
    )
