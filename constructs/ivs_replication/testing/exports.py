"""``LocalExports``: the CloudFormation exports of the stacks deployed on the same local endpoints.

As in a region of an account: an export name belongs to one stack at a time, a stack reads
another's export with ``Fn::ImportValue``, and an export that a live stack imports cannot be
removed. ``TemplateDeployment`` adds its stack's exports once it is created, its imports with
them, and removes both once the stack is deleted; ``AppDeployment`` shares one among its stacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping


class LocalExports(Mapping[str, str]):
    """Export name -> value, for every stack deployed with this object; empty at first."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._exporters: dict[str, str] = {}
        self._importers: dict[str, set[str]] = {}

    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def exporter(self, name: str) -> str:
        """The stack that exports ``name``; raises ``KeyError`` if none does."""
        return self._exporters[name]

    def importers(self, name: str) -> frozenset[str]:
        """The stacks that import ``name`` (empty if none does)."""
        return frozenset(self._importers.get(name, ()))

    def exported_by(self, stack: str) -> dict[str, str]:
        """``stack``'s exports, name -> value."""
        return {n: self._values[n] for n, owner in self._exporters.items() if owner == stack}

    def taken(self, stack: str, names: Iterable[str]) -> dict[str, str]:
        """Which of ``names`` another stack than ``stack`` exports already, name -> that stack."""
        return {
            name: self._exporters[name]
            for name in names
            if self._exporters.get(name, stack) != stack
        }

    def in_use(self, stack: str) -> dict[str, list[str]]:
        """``stack``'s exports that other stacks import, name -> those stacks (sorted)."""
        return {
            name: sorted(self.importers(name) - {stack})
            for name in self.exported_by(stack)
            if self.importers(name) - {stack}
        }

    def add(self, stack: str, exports: Mapping[str, str], imports: Iterable[str]) -> None:
        """Record ``stack``'s exports and the names it imports. Raises ``ValueError`` for a
        name another stack exports (``taken`` says which, beforehand)."""
        conflicts = self.taken(stack, exports)
        if conflicts:
            raise ValueError(f"exports already made by other stacks: {conflicts}")
        for name, value in exports.items():
            self._values[name] = value
            self._exporters[name] = stack
        for name in imports:
            self._importers.setdefault(name, set()).add(stack)

    def remove(self, stack: str) -> None:
        """Forget ``stack``'s exports and imports (its exports should not be ``in_use``)."""
        for name in self.exported_by(stack):
            del self._values[name]
            del self._exporters[name]
        for importers in self._importers.values():
            importers.discard(stack)
