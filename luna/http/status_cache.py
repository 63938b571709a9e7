"""Status bodies of settled jobs, kept per replica: a completed or failed job never changes
again, so its body is built once and served from memory, at the cost of a dict lookup.

    cache = SettledStatuses(max_entries=2048, max_bytes=64 * MiB)
    cache.put(dataset_id, team_id=7, body=b"{...}")
    cache.get(dataset_id)       # (team_id, body) or None; the caller checks the team

Bounded by entries and bytes, least recently used first out.
"""

from __future__ import annotations

from collections import OrderedDict


class SettledStatuses:
    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[int, tuple[int, bytes]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, dataset_id: int) -> tuple[int, bytes] | None:
        """(owning team id, body) of a settled job's status, or None when not kept."""
        entry = self._entries.get(dataset_id)
        if entry is not None:
            self._entries.move_to_end(dataset_id)
        return entry

    def put(self, dataset_id: int, *, team_id: int, body: bytes) -> None:
        if self.max_entries <= 0 or len(body) > self.max_bytes:
            return
        previous = self._entries.pop(dataset_id, None)
        if previous is not None:
            self._bytes -= len(previous[1])
        self._entries[dataset_id] = (team_id, body)
        self._bytes += len(body)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            _, (_, dropped) = self._entries.popitem(last=False)
            self._bytes -= len(dropped)
