"""A 401 reloads the credentials, so rotated tokens (kubeconfig or in-cluster) keep working."""

from __future__ import annotations

import logging

import certifi
import kubernetes.config.incluster_config as incluster

from kdns.kube import client
from tests.support import apiserver as fake
from tests.support.aio import eventually


async def test_a_rewritten_token_file_is_picked_up_after_a_401(
    api, make_controller, tmp_path, caplog
):
    token_file = tmp_path / "token"
    token_file.write_text("token-one")
    api.set_token("token-one")
    config = api.write_kubeconfig(tmp_path / "rotating", token_file=token_file)
    api.create(fake.namespace("default"))
    ctl = await make_controller(kubeconfig=str(config))
    await eventually(ctl.ready)

    # The server rotates: open streams were authenticated already, new requests are refused.
    api.set_token("token-two")
    api.drop_watches()
    await eventually(lambda: sum(1 for r in api.watch_requests("services")) >= 3)
    api.create(fake.service("web", cluster_ips=["10.96.0.9"]))
    assert ctl.store.service("default", "web") is None

    token_file.write_text("token-two")
    await eventually(lambda: ctl.store.service("default", "web") is not None, timeout=2.0)
    warnings = [r for r in caplog.records if "unauthorized" in r.getMessage()]
    assert len(warnings) == 3  # once per watched resource, not once per retry
    assert any("cannot watch services: unauthorized" in r.getMessage() for r in warnings)


def test_in_cluster_credentials_come_from_the_service_account_files(monkeypatch, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("sa-token-1")
    monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(token_file))
    monkeypatch.setattr(incluster, "SERVICE_CERT_FILENAME", certifi.where())
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")

    config = client.load_configuration(client.Source())
    assert config.host == "https://10.96.0.1:443"
    assert client.authorization(config) == "bearer sa-token-1"
    assert client.make_ssl_context(config) is not None


async def test_reload_reads_the_rotated_in_cluster_token(monkeypatch, tmp_path, caplog):
    token_file = tmp_path / "token"
    token_file.write_text("sa-token-1")
    monkeypatch.setattr(incluster, "SERVICE_TOKEN_FILENAME", str(token_file))
    monkeypatch.setattr(incluster, "SERVICE_CERT_FILENAME", certifi.where())
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    api_client = client.Client(client.Source())
    await api_client.open()
    try:
        token_file.write_text("sa-token-2")
        caplog.set_level(logging.INFO, "kdns.plugin.kubernetes")
        await api_client.reload()
        assert api_client.base_url == "https://10.96.0.1:443"
        settings = api_client._settings
        assert settings is not None
        assert client.authorization(settings.config) == "bearer sa-token-2"
        assert "reloaded credentials from in-cluster service account" in caplog.text
    finally:
        await api_client.close()


def test_a_missing_kubeconfig_is_a_load_error(tmp_path):
    try:
        client.load_configuration(client.Source(kubeconfig=str(tmp_path / "nope")))
    except client.ConfigLoadError as err:
        assert "kubeconfig" in str(err)
    else:
        raise AssertionError("expected ConfigLoadError")


async def test_a_kubeconfig_context_is_selected_by_name(api, make_controller, tmp_path):
    config = api.write_kubeconfig(tmp_path / "ctx", context="staging")
    api.create(fake.namespace("default"))
    ctl = await make_controller(kubeconfig=str(config), context="staging")
    await eventually(ctl.ready)
    with_missing = client.Client(client.Source(kubeconfig=str(config), context="production"))
    try:
        await with_missing.open()
    except client.ConfigLoadError as err:
        assert "production" in str(err)
    else:
        raise AssertionError("expected ConfigLoadError")
    finally:
        await with_missing.close()
