"""The offline portal mirror: a fake internet of imitation government portals over real
HTTP on 127.0.0.1, for ``nianbao demo``, the test-suite and the benchmarks.

``MirrorServer`` serves four baseline portals (jiangsu, zhejiang, qidong, jszwb) with
fresh page noise on every request, switchable named changes (``mirror.changes.CHANGES``)
and ``/bad/`` routes; with ``synthetic=N`` the ``bench`` and ``static`` portals, and with
``families=True`` one portal per CMS list mechanism; with ``discovery=True`` home pages
whose 年报 columns are menus deep (for ``nianbao seeds discover``; not in the seeds file). Run it alone with
``python -m mirror``. The modules, top layer first (each imports only those below it;
the ``layers`` contract in pyproject.toml checks it):

* ``hosts``      ``HostsMirror``: many bench portals, each on its own loopback address
  (127.0.1.N), counting requests per host at once; dead and trickling hosts
* ``server``     ``MirrorServer``: HTTP, control endpoints, seeds and expectations
* ``state``      one state: the world after its changes, compiled into routes
* ``changes``    the named changes (``edit-number``, ``challenge``, ``redesign`` …)
* ``world``      what a state is made of: portals, noise, overrides
* ``baseline``   the four baseline portals; ``families/`` the family portals;
  ``synthetic`` the generated bench portals
* ``templates``  HTML pages per CMS look; ``hostile`` challenges, block pages, ``/bad/``
* ``answers``    404s, redirects, static bytes, robots.txt; ``texts/`` report texts
* ``docgen``     PDF and DOCX files; ``noise`` per-request noise; ``model`` the dataclasses

The mirror imports nothing of the product (``crawler``, ``monitor``).
"""

from mirror.server import MirrorServer

__all__ = ["MirrorServer"]
