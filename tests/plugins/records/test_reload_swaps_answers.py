"""``reload``: changed files swap in new answers; broken files keep the old ones and say why."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from kdns import config, corefile
from kdns.authority import answers, zonedata
from kdns.authority.reload import Watcher
from kdns.plugins.records import yamlfile
from kdns.plugins.records.handler import Records
from tests.support import yamlzones

V1 = """\
zone: example.test
records:
  web: {A: 10.0.0.1}
"""
V2 = """\
zone: example.test
records:
  web: {A: 10.0.0.2}
  new: {A: 10.0.0.3}
"""
BROKEN = """\
zone: example.test
records:
  web: {A: 10.0.0.2}
  new: {A: 10.0.0.999}
"""
LOGGER = "kdns.plugin.records"


def serving(tmp_path: Path, *, interval: float = 3600) -> tuple[Path, Records, Watcher]:
    path = yamlzones.write(tmp_path / "zone.yaml", V1)
    source = zonedata.read(path)
    table = answers.Table(yamlfile.build([source]))
    watcher = Watcher(
        sources=[source],
        interval=interval,
        build=answers.Table,
        parse=yamlfile.build,
        plugin="records",
    )
    h = Records(yamlzones.NextHandler(), table)
    watcher.subscribe(h.install)
    return path, h, watcher


def web(h: Records) -> list[str]:
    return yamlzones.ask(h, "web.example.test.", "A").answer


async def test_a_changed_file_is_swapped_in(tmp_path: Path) -> None:
    path, h, watcher = serving(tmp_path)
    assert await watcher.check() is False  # nothing moved yet
    yamlzones.write(path, V2, mtime=yamlzones.SERIAL + 60)
    assert await watcher.check() is True
    assert web(h) == ["web.example.test. 300 IN A 10.0.0.2"]
    assert yamlzones.ask(h, "new.example.test.", "A").rcode == "NOERROR"
    # The synthesised SOA's serial is the file's new mtime, so secondaries would see it change.
    soa = yamlzones.ask(h, "example.test.", "SOA").answer[0]
    assert f" {yamlzones.SERIAL + 60} " in soa


async def test_a_broken_file_keeps_the_old_answers_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    path, h, watcher = serving(tmp_path)
    yamlzones.write(path, BROKEN, mtime=yamlzones.SERIAL + 1)
    assert await watcher.check() is False
    assert web(h) == ["web.example.test. 300 IN A 10.0.0.1"]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"plugin/records: {path}:4 - bad A record '10.0.0.999': not an IPv4 address"
    ]
    assert all(r.name == LOGGER for r in errors)
    # The same broken content again (only touched): no second log line.
    os.utime(path, (yamlzones.SERIAL + 2, yamlzones.SERIAL + 2))
    assert await watcher.check() is False
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    # Fixed: the new content is served.
    yamlzones.write(path, V2, mtime=yamlzones.SERIAL + 3)
    assert await watcher.check() is True
    assert web(h) == ["web.example.test. 300 IN A 10.0.0.2"]


async def test_a_deleted_file_keeps_the_old_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, h, watcher = serving(tmp_path)
    path.unlink()
    assert await watcher.check() is False
    assert web(h) == ["web.example.test. 300 IN A 10.0.0.1"]
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        f"plugin/records: {path} - no such file"
    ]
    assert await watcher.check() is False  # still missing: said once
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1


async def test_a_touch_or_symlink_swap_without_new_content_does_nothing(tmp_path: Path) -> None:
    # A ConfigMap volume updates by swapping the "..data" symlink; identical content is no change.
    data1 = tmp_path / "v1"
    data1.mkdir()
    yamlzones.write(data1 / "zone.yaml", V1)
    link = tmp_path / "..data"
    link.symlink_to(data1)
    path = tmp_path / "zone.yaml"
    path.symlink_to(link / "zone.yaml")
    source = zonedata.read(path)
    watcher = Watcher(
        sources=[source], interval=3600, build=answers.Table, parse=yamlfile.build, plugin="records"
    )
    tables: list[answers.Table] = []
    watcher.subscribe(tables.append)
    os.utime(path, (yamlzones.SERIAL + 5, yamlzones.SERIAL + 5))
    assert await watcher.check() is False
    data2 = tmp_path / "v2"
    data2.mkdir()
    yamlzones.write(data2 / "zone.yaml", V1, mtime=yamlzones.SERIAL + 9)
    (tmp_path / "..data_tmp").symlink_to(data2)
    os.replace(tmp_path / "..data_tmp", link)
    assert await watcher.check() is False
    assert tables == []
    yamlzones.write(data2 / "zone.yaml", V2, mtime=yamlzones.SERIAL + 10)
    assert await watcher.check() is True
    assert len(tables) == 1


async def test_the_background_task_picks_up_a_change_within_the_interval(tmp_path: Path) -> None:
    path, h, watcher = serving(tmp_path, interval=0.02)
    await watcher.start()
    try:
        yamlzones.write(path, V2, mtime=yamlzones.SERIAL + 60)
        for _ in range(200):
            await asyncio.sleep(0.01)
            if web(h) == ["web.example.test. 300 IN A 10.0.0.2"]:
                break
        assert web(h) == ["web.example.test. 300 IN A 10.0.0.2"]
    finally:
        await watcher.stop()
    assert all(t.get_name() != "records-reload" for t in asyncio.all_tasks())


async def test_the_reload_hooks_of_a_loaded_corefile(tmp_path: Path) -> None:
    yamlzones.write(tmp_path / "zone.yaml", V1)
    (tmp_path / "Corefile").write_text(". {\n records zone.yaml {\n reload 20ms\n }\n}\n")
    loaded = config.load(corefile.load(tmp_path / "Corefile"), default_port=1053)
    chain = loaded.servers[0].handler
    for hook in loaded.hooks.startup:
        await hook()
    try:
        yamlzones.write(tmp_path / "zone.yaml", V2, mtime=yamlzones.SERIAL + 60)
        for _ in range(200):
            await asyncio.sleep(0.01)
            if yamlzones.ask(chain, "new.example.test.", "A").rcode == "NOERROR":
                break
        assert yamlzones.ask(chain, "new.example.test.", "A").answer == [
            "new.example.test. 300 IN A 10.0.0.3"
        ]
    finally:
        for hook in loaded.hooks.cleanup:
            await hook()
    assert all(t.get_name() != "records-reload" for t in asyncio.all_tasks())
