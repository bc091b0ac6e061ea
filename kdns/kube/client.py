"""Connection settings from the ``kubernetes`` package's own loaders; HTTP through aiohttp.

The ``kubernetes`` package knows every way to authenticate (kubeconfig tokens and token files,
client certificates, exec plugins, in-cluster service accounts with rotating tokens), but its
HTTP client is synchronous. So it is used only to build a ``kubernetes.client.Configuration``;
from that we derive the base URL, an ``ssl.SSLContext`` and, for every request, a fresh
Authorization header through ``Configuration.get_api_key_with_prefix``. That call runs the
configuration's ``refresh_api_key_hook``, which re-reads a rotated in-cluster token or re-runs
an expired exec plugin. A 401 makes the watch layer call :meth:`Client.reload`, which rebuilds
the configuration from scratch (a rewritten kubeconfig or token file is read again).

Loader calls read files and may run subprocesses, so they go through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import kubernetes.client
import kubernetes.config

import kdns
from kdns.kube import errors

logger = logging.getLogger("kdns.plugin.kubernetes")

#: Largest error body read to build an error message (the rest is not read at all).
MAX_ERROR_BODY = 64 * 1024


class ConfigLoadError(errors.KubeError):
    """The connection settings cannot be loaded (missing kubeconfig, not in a cluster, ...)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Source:
    """Where the connection settings come from, in CoreDNS's order of precedence.

    ``kubeconfig`` wins; else ``endpoint`` (with optional client TLS); else the in-cluster
    service account.
    """

    kubeconfig: str | None = None
    context: str | None = None
    endpoint: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca: str | None = None

    def describe(self) -> str:
        if self.kubeconfig:
            return f"kubeconfig {self.kubeconfig}" + (
                f" context {self.context}" if self.context else ""
            )
        if self.endpoint:
            return f"endpoint {self.endpoint}"
        return "in-cluster service account"


def load_configuration(source: Source) -> kubernetes.client.Configuration:
    """Build a fresh Configuration with the ``kubernetes`` loaders (blocking: files, exec)."""
    config = kubernetes.client.Configuration()
    try:
        if source.kubeconfig:
            kubernetes.config.load_kube_config(
                config_file=source.kubeconfig,
                context=source.context,
                client_configuration=config,
                persist_config=False,
            )
        elif source.endpoint:
            config.host = source.endpoint.rstrip("/")
            config.cert_file = source.tls_cert
            config.key_file = source.tls_key
            config.ssl_ca_cert = source.tls_ca
        else:
            kubernetes.config.load_incluster_config(client_configuration=config)
    except (kubernetes.config.ConfigException, OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigLoadError(f"cannot load {source.describe()}: {err}") from err
    return config


def check_files(source: Source) -> None:
    """What can be checked of ``source`` without running anything or connecting: the kubeconfig
    reads and has the context, the TLS files load. Set-up calls it, so a broken file stops
    start-up at its Corefile line, as in CoreDNS (credential plugins run at start, not here).

    :raises ConfigLoadError: naming the file and what is wrong with it.
    """
    if source.kubeconfig:
        try:
            kubernetes.config.kube_config._get_kube_config_loader(
                filename=source.kubeconfig, active_context=source.context
            )
        except (kubernetes.config.ConfigException, OSError, ValueError, KeyError, TypeError) as err:
            raise ConfigLoadError(f"cannot load {source.describe()}: {err}") from err
    elif source.endpoint and source.endpoint.startswith("https"):
        try:
            context = ssl.create_default_context(cafile=source.tls_ca or None)
            if source.tls_cert:
                context.load_cert_chain(source.tls_cert, source.tls_key or None)
        except (OSError, ssl.SSLError) as err:
            raise ConfigLoadError(f"cannot load TLS files of {source.describe()}: {err}") from err


def make_ssl_context(config: kubernetes.client.Configuration) -> ssl.SSLContext | None:
    """The TLS settings of a Configuration as an SSLContext (``None`` for plain http)."""
    if not str(config.host).startswith("https"):
        return None
    context = ssl.create_default_context(cafile=config.ssl_ca_cert or None)
    if config.cert_file:
        context.load_cert_chain(config.cert_file, config.key_file or None)
    if not config.verify_ssl:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def authorization(config: kubernetes.client.Configuration) -> str | None:
    """The Authorization header value, refreshed by the configuration's hook (blocking)."""
    token = config.get_api_key_with_prefix("BearerToken", alias="authorization")
    if token:
        return str(token)
    if config.username or config.password:
        return str(config.get_basic_auth_token())
    return None


@dataclasses.dataclass(frozen=True, slots=True)
class _Settings:
    base_url: str
    ssl_context: ssl.SSLContext | None
    server_hostname: str | None
    proxy: str | None
    config: kubernetes.client.Configuration


def _build(source: Source) -> _Settings:
    config = load_configuration(source)
    try:
        ssl_context = make_ssl_context(config)
    except (OSError, ssl.SSLError) as err:
        raise ConfigLoadError(f"cannot load TLS files of {source.describe()}: {err}") from err
    return _Settings(
        base_url=str(config.host).rstrip("/"),
        ssl_context=ssl_context,
        server_hostname=getattr(config, "tls_server_name", None) or None,
        proxy=config.proxy or None,
        config=config,
    )


class Client:
    """One aiohttp session to the API server, with reloadable credentials.

    :param source: where the connection settings come from.
    :param connect_timeout: seconds to establish a connection.
    :param request_timeout: seconds a list (non-streaming) request may take in total.
    """

    def __init__(
        self, source: Source, *, connect_timeout: float = 10.0, request_timeout: float = 60.0
    ) -> None:
        self.source = source
        self._connect_timeout = connect_timeout
        self._request_timeout = request_timeout
        self._settings: _Settings | None = None
        self._session: aiohttp.ClientSession | None = None
        self._reload_lock = asyncio.Lock()
        self._loaded_at = 0.0

    @property
    def base_url(self) -> str:
        return self._settings.base_url if self._settings else ""

    async def open(self) -> None:
        """Load the settings (raising :class:`ConfigLoadError`) and open the session."""
        if self._settings is None:
            self._settings = await asyncio.to_thread(_build, self.source)
            self._loaded_at = time.monotonic()
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"Accept": "application/json", "User-Agent": f"kdns/{kdns.__version__}"},
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout),
            )

    async def reload(self) -> None:
        """Rebuild the settings from scratch, e.g. after a 401; keep the old ones on failure.

        Concurrent callers (every watch gets the same 401) share one reload.
        """
        started = time.monotonic()
        async with self._reload_lock:
            if self._loaded_at >= started:
                return
            try:
                self._settings = await asyncio.to_thread(_build, self.source)
            except ConfigLoadError as err:
                logger.error("plugin/kubernetes: reloading credentials failed: %s", err)
            else:
                logger.info(
                    "plugin/kubernetes: reloaded credentials from %s", self.source.describe()
                )
            self._loaded_at = time.monotonic()

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def _request(
        self, path: str, params: Mapping[str, str], timeout: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        if self._session is None or self._settings is None:
            await self.open()
        assert self._session is not None and self._settings is not None
        settings = self._settings
        headers = {}
        auth = await asyncio.to_thread(authorization, settings.config)
        if auth:
            headers["Authorization"] = auth
        kwargs: dict[str, Any] = {}
        if settings.ssl_context is not None:
            kwargs["ssl"] = settings.ssl_context
            if settings.server_hostname:
                kwargs["server_hostname"] = settings.server_hostname
        if settings.proxy:
            kwargs["proxy"] = settings.proxy
        response = await self._session.get(
            settings.base_url + path,
            params=dict(params),
            headers=headers,
            timeout=timeout,
            **kwargs,
        )
        if response.status >= 400:
            try:
                body = await response.content.read(MAX_ERROR_BODY)
            finally:
                response.release()
            raise errors.from_body(response.status, body)
        return response

    async def get_json(self, path: str, params: Mapping[str, str]) -> Any:
        """GET a JSON document (a list page); raises :class:`errors.APIError` on error status."""
        timeout = aiohttp.ClientTimeout(
            total=self._request_timeout, sock_connect=self._connect_timeout
        )
        response = await self._request(path, params, timeout)
        async with response:
            body = await response.read()
        return json.loads(body)

    @contextlib.asynccontextmanager
    async def stream(
        self, path: str, params: Mapping[str, str]
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open a streaming GET (a watch); the caller reads ``response.content`` with its own
        inactivity timeout. Raises :class:`errors.APIError` on an error status."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout)
        response = await self._request(path, params, timeout)
        try:
            yield response
        finally:
            response.close()
