"""Infrastructure that both servers use: the host platform and the receiver.

Rules (DESIGN.md, enforced by ``tests/test_import_rules.py``):

- ``common`` imports nothing of ``telemetry_service`` outside itself;
- a module enters ``common`` only when the host side and the receiver both use it;
- each module is named for what it owns (no ``utils``), and nothing here knows of plugins,
  consent, reports or channels: the protocol belongs in ``telemetry_service.wire``.

Import from the modules themselves (``telemetry_service.common.clock``); this package re-exports
nothing.
"""

__all__: list[str] = []
