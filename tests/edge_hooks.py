"""Hooks at the AWS edge for deterministic race tests: `IvsRealtime` and `Registry`
subclasses that run the other party at a chosen moment, or lose an answer after the service
acted. No sleeps: the hook fixes the interleaving (a hook runs once, on whichever of the
reconciler's fan-out threads reaches it first)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ReadTimeoutError

from ivs_replication_handler.errors import DeadlineExceededError, ServiceError
from ivs_replication_handler.ivs import IvsRealtime, make_client
from ivs_replication_handler.registry import Ownership, Registry
from ivs_replication_handler.retries import Deadline
from ivs_replication_handler.spec import ReplicationKey, ReplicationSpec


class HookedIvs(IvsRealtime):
    """IVS with hooks around Start and Stop, each run once: `before_start` before the Start
    reaches the service, `after_start` once it acted, `lose_start_answer` drops the answer
    after the service acted (the caller sees its deadline pass; `lost_answers` then holds the
    key of that Start), `after_stop` once a Stop is answered."""

    def __init__(self, client: Any = None, **options: Any) -> None:
        super().__init__(client if client is not None else make_client(), **options)
        self.sleep = lambda _: None
        self.before_start: Callable[[], None] | None = None
        self.lose_start_answer = False
        self.after_start: Callable[[], None] | None = None
        self.after_stop: Callable[[], None] | None = None
        self.lost_answers: list[ReplicationKey] = []
        # A fan-out's Starts run on the reconciler's threads: each hook and each lost answer
        # goes to exactly one of them.
        self._taking = threading.Lock()

    def start_replication(self, spec: ReplicationSpec, deadline: Deadline) -> None:
        with self._taking:
            hook, self.before_start = self.before_start, None
        if hook is not None:
            hook()
        super().start_replication(spec, deadline)
        with self._taking:
            after, self.after_start = self.after_start, None
            lose, self.lose_start_answer = self.lose_start_answer, False
            if lose:
                self.lost_answers.append(spec.key)
        if after is not None:
            after()
        if lose:
            raise DeadlineExceededError("StartParticipantReplication: answer lost", attempts=1)

    def stop_replication(self, key: ReplicationKey, deadline: Deadline) -> None:
        super().stop_replication(key, deadline)
        with self._taking:
            hook, self.after_stop = self.after_stop, None
        if hook is not None:
            hook()


class HookedRegistry(Registry):
    """The registry with hooks: a stale Query answer (read before later writes), refused
    reads of one item, and a declaration applied whose answer is lost."""

    def __init__(self, table: str, client: Any) -> None:
        super().__init__(table, client=client, sleep=lambda _: None)
        self.stale_declarations: list[ReplicationSpec] | None = None
        self.refuse_reads = False
        self.lose_put_answer = False

    def declarations_of(
        self, source_stage_arn: str, participant_id: str, deadline: Deadline
    ) -> list[ReplicationSpec]:
        if self.stale_declarations is not None:
            return self.stale_declarations
        return super().declarations_of(source_stage_arn, participant_id, deadline)

    def declaration(self, key: ReplicationKey, deadline: Deadline) -> ReplicationSpec | None:
        if self.refuse_reads:
            raise ServiceError("GetItem", "AccessDeniedException", 400, "not authorized")
        return super().declaration(key, deadline)

    def declare(self, spec: ReplicationSpec, owner: str, deadline: Deadline) -> Ownership:
        before = super().declare(spec, owner, deadline)
        if self.lose_put_answer:
            raise DeadlineExceededError("UpdateItem still failing after 3 attempts", attempts=3)
        return before


class FirstStartAnswerLost(IvsRealtime):
    """IVS whose first Start is carried out but answered with a read timeout (the answer lost
    in transit), so the caller's own retry of it meets the replication it started; `before`
    runs once, just before that first Start reaches the service, `after` once the service
    carried it out (before its answer is lost)."""

    def __init__(self, client: Any = None, **options: Any) -> None:
        super().__init__(client if client is not None else make_client(), **options)
        self.sleep = lambda _: None
        self.before: Callable[[], None] | None = None
        self.after: Callable[[], None] | None = None
        self._lost = False

    def call(self, operation: str, send: Callable[[], Any], deadline: Deadline) -> Any:
        if operation != "StartParticipantReplication" or self._lost:
            return super().call(operation, send, deadline)
        self._lost = True
        hook, self.before = self.before, None
        if hook is not None:
            hook()
        answered = False

        def send_but_lose_the_first_answer() -> Any:
            nonlocal answered
            result = send()
            if not answered:
                answered = True
                after, self.after = self.after, None
                if after is not None:
                    after()
                raise ReadTimeoutError(endpoint_url="local-ivs")
            return result

        return super().call(operation, send_but_lose_the_first_answer, deadline)
