"""``endpoint`` + ``tls CERT KEY CACERT`` and kubeconfig certificates reach the server over TLS."""

from __future__ import annotations

import pytest

from kdns.kube import controller, errors
from tests.support import apiserver as fake
from tests.support import tls
from tests.support.aio import eventually


@pytest.fixture
async def tls_api(tmp_path):
    bundle = tls.make_bundle(tmp_path)
    server = fake.FakeAPIServer(token=None, ssl_context=bundle.server_context())
    await server.start()
    server.create(fake.namespace("default"))
    server.create(fake.service("web", cluster_ips=["10.96.0.1"]))
    yield server, bundle
    await server.stop()


async def test_endpoint_with_client_certificate_and_ca(tls_api, fast):
    server, bundle = tls_api
    options = controller.KubeOptions(
        endpoint=server.url,
        tls_cert=str(bundle.client_cert),
        tls_key=str(bundle.client_key),
        tls_ca=str(bundle.ca),
        **fast,
    )
    ctl = controller.Controller(options)
    await ctl.start()
    try:
        await eventually(ctl.ready)
        assert ctl.store.service("default", "web") is not None
    finally:
        await ctl.stop()


async def test_an_unknown_server_certificate_is_refused(tls_api, fast, caplog):
    server, bundle = tls_api
    options = controller.KubeOptions(
        endpoint=server.url,
        tls_cert=str(bundle.client_cert),
        tls_key=str(bundle.client_key),
        **fast,
    )
    ctl = controller.Controller(options)
    await ctl.start()
    try:
        await eventually(lambda: "certificate verify failed" in caplog.text)
        assert not ctl.ready()
    finally:
        await ctl.stop()


async def test_a_missing_tls_file_fails_at_start(tmp_path, fast):
    options = controller.KubeOptions(
        endpoint="https://127.0.0.1:6443", tls_ca=str(tmp_path / "missing.crt"), **fast
    )
    ctl = controller.Controller(options)
    with pytest.raises(errors.KubeError, match="cannot load TLS files"):
        await ctl.start()
    await ctl.stop()
