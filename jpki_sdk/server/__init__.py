"""The HTTP service exposing :mod:`jpki_sdk.auth` to relying parties on any stack.

Needs the ``server`` extra (Starlette, uvicorn). Run it with ``jpki serve --config FILE`` or::

    from jpki_sdk.server import load_config, run
    run(load_config("service.toml"))

Embed it in another ASGI server with :func:`create_app` and :class:`Service`.
This package imports nothing from ``apdu``, pyscard or :mod:`jpki_sdk.card`.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from jpki_sdk.server.apikeys import ApiKey, ApiKeyring, generate_api_key, hash_api_key
from jpki_sdk.server.app import create_app
from jpki_sdk.server.config import ServiceConfig, load_config
from jpki_sdk.server.logs import configure_logging
from jpki_sdk.server.service import Service

logger = logging.getLogger(__name__)

#: Environment variable naming the configuration file for worker processes.
CONFIG_ENV = "JPKI_SERVER_CONFIG_FILE"


def app_from_environment() -> object:
    """ASGI application factory for uvicorn workers: reads ``$JPKI_SERVER_CONFIG_FILE``."""
    path = os.environ.get(CONFIG_ENV)
    config = load_config(path)
    configure_logging(config.log_format, config.log_level)
    return create_app(Service.from_config(config))


def run(config: ServiceConfig, *, workers: int = 1) -> None:
    """Serve until interrupted. ``workers`` > 1 runs that many processes (SQLite or Redis
    challenge store required: an in-memory store cannot be shared)."""
    import uvicorn

    configure_logging(config.log_format, config.log_level)
    common: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "log_config": None,
        "access_log": False,
        "server_header": False,
        "proxy_headers": False,
    }
    if workers > 1:
        if config.challenges.store == "memory":
            from jpki_sdk.errors import ConfigurationError

            raise ConfigurationError(
                "several workers need a shared challenge store (sqlite or redis), not memory"
            )
        if config.source.startswith("<"):
            from jpki_sdk.errors import ConfigurationError

            raise ConfigurationError("several workers need a configuration file")
        os.environ[CONFIG_ENV] = config.source
        uvicorn.run("jpki_sdk.server:app_from_environment", factory=True, workers=workers, **common)
        return
    service = Service.from_config(config)
    uvicorn.run(create_app(service), **common)


__all__ = [
    "CONFIG_ENV",
    "ApiKey",
    "ApiKeyring",
    "Service",
    "ServiceConfig",
    "app_from_environment",
    "configure_logging",
    "create_app",
    "generate_api_key",
    "hash_api_key",
    "load_config",
    "run",
]
