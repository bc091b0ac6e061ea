"""Everything the tests share, in one place; nothing here is collected as a test.

- Doubles at the seams: ``apiserver`` (a faithful fake kube-apiserver), ``upstream`` (a loopback
  DNS upstream), ``seam`` (the next handler, a clock and client queries at the plugin seam),
  ``selectors``, ``tls`` (a throwaway CA), ``aio`` (``eventually``/``stays``).
- Real processes and clients: ``kdnsproc`` (a kdns child on free loopback ports), ``clients``
  (raw UDP/TCP exchanges and ``dig``), ``children`` (a kdns child and dnspython clients for the
  forward and loop tests), ``kube_e2e`` (the fake API server on its own thread, kdns and dig).
- Handlers built from configuration: ``chains`` (a server block's chain from Corefile text),
  ``yamlzones`` (a records handler from YAML), ``cluster`` (the kubernetes handler over a fixture
  cluster, with a CoreDNS-style case runner).
- Files of the repository: ``manifests`` (deploy/), ``corefiles`` (the distributions' Corefiles).
"""
