"""The Kubernetes cache: watches the API server and keeps what cluster DNS needs.

Nothing in this package knows about the DNS wire format; the record layer reads :mod:`kdns.kube.store`
and listens to its change records. Modules, from the bottom up:

* :mod:`kdns.kube.errors` - the API error tree keyed by HTTP status.
* :mod:`kdns.kube.resources` - the four watched resources and their URL paths.
* :mod:`kdns.kube.objects` - raw API JSON (TypedDicts) and the slim immutable types kept in memory.
* :mod:`kdns.kube.store` - the indexes and lookups, readiness and change notification.
* :mod:`kdns.kube.client` - connection settings from the ``kubernetes`` loaders, HTTP via aiohttp.
* :mod:`kdns.kube.watch` - single request, continuous list+watch and the infinite reconnect loop.
* :mod:`kdns.kube.controller` - options, one guarded task per resource, ``ready()``.
"""
