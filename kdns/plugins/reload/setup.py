from __future__ import annotations

from kdns import config, corefile, metrics
from kdns.pkg import duration

DEFAULT_INTERVAL = 30.0
DEFAULT_JITTER = 15.0
MIN_INTERVAL = 2.0
MIN_JITTER = 1.0


def setup(d: corefile.Directive, c: config.Controller) -> None:
    args = d.expect_args(0, 2)
    if d.block:
        raise d.block[0].unknown_property()
    values = []
    for text in args:
        try:
            values.append(duration.parse(text))
        except ValueError as err:
            raise d.error(str(err)) from None
    interval = values[0] if values else DEFAULT_INTERVAL
    jitter = values[1] if len(values) > 1 else min(DEFAULT_JITTER, interval / 2)
    if interval < MIN_INTERVAL:
        raise d.error(f"interval value must be greater or equal to {MIN_INTERVAL:g}s")
    if jitter < MIN_JITTER:
        raise d.error(f"jitter value must be greater or equal to {MIN_JITTER:g}s")
    if jitter > interval / 2:
        raise d.error("jitter value must be smaller than interval / 2")
    c.hooks.reload = config.ReloadSettings(interval=interval, jitter=jitter)
    # Exported from start, as CoreDNS registers it with the plugin: alerts on it need a series.
    metrics.RELOAD_FAILED.inc((), 0)
