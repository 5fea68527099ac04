"""The offline portal mirror: imitation government portals over real HTTP on 127.0.0.1.

Used by ``nianbao demo``, the test-suite and the benchmarks. ``MirrorServer`` serves
四 portals (jiangsu, zhejiang, qidong, jszwb) with fresh page noise on every request,
switchable named changes (``mirror.changes.CHANGES``), ``/bad/`` routes, and
with ``synthetic=N`` the ``bench`` and ``static`` portals, and with ``families=True`` one
portal per CMS list mechanism (``mirror.cms``). Run it alone with
``python -m mirror``.
"""

from mirror.server import MirrorServer

__all__ = ["MirrorServer"]
