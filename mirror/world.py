"""What one mirror state is made of: the portals, and the answers that override pages.

A ``World`` starts as the baseline (``World.baseline()``): fresh baseline portals, the
family portals if asked for, everyday noise, no overrides. The named changes
(``mirror.changes``) edit it in place; gates that must see the final paths (challenges,
block pages, 404s) are queued with ``later`` and run by ``settle``. ``mirror.state``
then compiles the world into a route table.

>>> world = World.baseline()
>>> sorted(world.portals), world.family_portals, world.bad_portal
(['jiangsu', 'jszwb', 'qidong', 'zhejiang'], {}, False)

May import: ``mirror.baseline``, ``mirror.families``, ``mirror.noise``, ``mirror.model``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mirror import baseline
from mirror.families import scaled
from mirror.families.portals import FamilyPortal
from mirror.families.portals import build as build_families
from mirror.model import Portal, Resp
from mirror.noise import Noise


@dataclass
class World:
    """The portals of one state and what overrides their routes."""

    portals: dict[str, Portal]
    family_portals: dict[str, FamilyPortal] = field(default_factory=dict)
    noise: Noise = field(default_factory=Noise)
    bad_portal: bool = False  # portal ``bad`` (its list links every /bad/ route) is seeded
    overrides: dict[str, Resp] = field(default_factory=dict)  # exact path (with ?query if any)
    prefix_overrides: list[tuple[str, Resp]] = field(default_factory=list)
    _later: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def baseline(cls, families: bool = False, family_bench: tuple[int, int] = (0, 0)) -> World:
        """Fresh baseline portals, plus the four family portals (``families``) and
        ``family_bench = (count, reports)`` family portals at scale."""
        found = build_families() if families else {}
        if family_bench[0]:
            found |= {p.portal.id: p for p in scaled.portals(*family_bench)}
        return cls(baseline.portals(), found)

    def later(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` in ``settle``, after all model changes (to gate paths they may move)."""
        self._later.append(fn)

    def settle(self) -> None:
        """Run the queued gates (order-independent: they only set overrides)."""
        for fn in self._later:
            fn()
        self._later.clear()

    def gate(self, paths: list[str], resp: Resp) -> None:
        """Answer ``resp`` at each of ``paths`` instead of the page."""
        for path in paths:
            self.overrides[path] = resp

    def family(self, pid: str) -> FamilyPortal:
        """Family portal ``pid``; ValueError when the family portals are not served."""
        if pid not in self.family_portals:
            raise ValueError(
                f"this change needs the family portals (MirrorServer(families=True)): {pid}"
            )
        return self.family_portals[pid]

    def seed_portals(self) -> list[Portal]:
        """The baseline portals listed in the seeds file."""
        return [p for p in self.portals.values() if p.in_seeds]
