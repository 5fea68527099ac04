"""The family portals (``MirrorServer(families=True)``): one imitation portal per CMS list
mechanism, each serving static bytes with validators.

* ``portals`` the four family portals (hwnb, jpnb, trsnb, guard) and their generated texts
* ``routes``  their routes: static pages and files, and the dynamic list endpoints
* ``scaled``  many such portals for ``bench/portals.py`` (``MirrorServer(family_bench=…)``)
* ``discovery`` home pages with deep menus, department lists and script-built menus, for
  ``nianbao seeds discover`` (``MirrorServer(discovery=True)``)

May import: ``mirror.templates``, ``mirror.hostile``, ``mirror.answers``, ``mirror.texts``,
``mirror.docgen``, ``mirror.noise``, ``mirror.model``.
"""
