"""The texts users read: CloudFormation's Reason for a failed request, and the advice in it.

A Reason fits CloudFormation's limit whatever the service said (`clip`, `with_cause`): only the
service's words or the cause are ever shortened, never the advice, which says what to do (and
may hold a command). Pure: no boto3, no I/O.
"""

from __future__ import annotations

import json
import unicodedata

from . import contract as c
from .errors import ReplicationFailedError
from .retries import CONNECTION_ERROR_CODE
from .spec import ReplicationKey

# Longest message we hand CloudFormation, in bytes of its JSON-escaped UTF-8 text. The limit
# is CloudFormation's 4,096 bytes for the provider framework's whole response, which also holds
# "Error: ", the log group line, Node.js stack frames and the stack, request, logical and
# physical ids (tests/unit/test_reason_size.py adds them up at their largest: about 1,900 bytes).
MAX_MESSAGE_BYTES = 2000
_ELLIPSIS = "..."
_CAUSE_LEAD = " Cause: "


# The service reports "<participantId> is not publishing" when Start finds no publisher.
# Which error code carries it is not documented, so it is recognised by its text under any
# client-error code, and the caller treats it as a user-facing condition, not a bug.
_NOT_PUBLISHING_TEXT = "is not publishing"

_HINTS = {
    "AccessDeniedException": (
        "The handler's role may not call this action on the stage, or the stage belongs to "
        "another account: use stages of this stack's account and check the role's policy."
    ),
    "PendingVerification": (
        "The AWS account is pending verification for IVS; complete verification, then deploy again."
    ),
    "ServiceQuotaExceededException": (
        "An IVS real-time quota is exhausted; stop unused replications or request a quota "
        "increase in Service Quotas."
    ),
    "ValidationException": "IVS rejected the request; check the stage ARNs and participant id.",
    "ResourceNotFoundException": (
        "A stage was not found; check that both stage ARNs exist in this account and region."
    ),
    "ConflictException": (
        "IVS reports a conflicting replication or participant in the destination stage."
    ),
    "InternalServerException": "IVS kept failing; deploy again later.",
    "ThrottlingException": "IVS kept throttling; deploy again later or deploy fewer at once.",
    CONNECTION_ERROR_CODE: "IVS could not be reached in time; check network access, retry later.",
}


def is_not_publishing(message: str) -> bool:
    return _NOT_PUBLISHING_TEXT in message


def failure_message(
    operation: str, key: ReplicationKey, code: str, service_text: str, *, outcome: str = ""
) -> str:
    """A message for CloudFormation's Reason: what failed, the service's words, what became of
    the replication (`outcome`, Default: nothing said), what to do."""
    advice = f"{outcome} {hint(code)}" if outcome else hint(code)
    head = f"{operation} failed for {key.describe()}: {code}: "
    # Shorten the service's text, never the advice: it says what to do (and may hold a command).
    room = MAX_MESSAGE_BYTES - reason_bytes(head) - reason_bytes(advice) - 1
    return clip(f"{head}{clip(service_text, room)} {advice}")


def hint(code: str) -> str:
    """What to do about IVS's refusal with this error code."""
    return _HINTS.get(code, "See the handler's log for details.")


def not_publishing_message(key: ReplicationKey) -> str:
    return clip(
        f"Participant '{key.participant_id}' is not publishing in stage "
        f"{key.source_stage_arn}, so it cannot be replicated to {key.destination_stage_arn}. "
        "IVS only replicates a participant while it publishes: start publishing "
        "(e.g. connect the encoder or client with this participant id), then deploy again. "
        "Or declare what deploy should do instead: "
        "when_not_publishing=WhenNotPublishing.follow() starts it whenever the participant "
        "publishes, WhenNotPublishing.wait_up_to(Duration.minutes(5)) waits for it."
    )


def wait_timed_out_message(key: ReplicationKey, wait_seconds: int) -> str:
    return clip(
        f"Participant '{key.participant_id}' did not publish in stage {key.source_stage_arn} "
        f"within the {wait_seconds} s wait, so it was not replicated to "
        f"{key.destination_stage_arn}. Start the publisher before or during the deploy, "
        "wait longer (WhenNotPublishing.wait_up_to, at most "
        f"{c.WAIT_MAX_SECONDS // 60} minutes), or use WhenNotPublishing.follow() to start it "
        "whenever the participant publishes."
    )


def sanitize(text: str) -> str:
    """`text` without control characters or lone surrogates (each a space): JSON escapes a
    control character as six bytes, and a surrogate cannot be sent as UTF-8 at all."""
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text)


def reason_bytes(text: str) -> int:
    """Bytes `text` takes inside the framework's JSON response (escapes counted, UTF-8)."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8")) - 2


def clip(text: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """`text`, sanitized, cut to at most `limit` bytes of JSON-escaped UTF-8 (see
    `reason_bytes`), ending in "..." when it was cut."""
    text = sanitize(text)
    if reason_bytes(text) <= limit:
        return text
    room = max(limit - len(_ELLIPSIS), 0)
    # Each character costs 1-6 bytes: cut by characters, then trim what still overflows.
    cut = text[:room]
    while cut and reason_bytes(cut) > room:
        overflow = reason_bytes(cut) - room
        cut = cut[: -max(1, overflow // 6)]
    return cut + _ELLIPSIS


def with_cause(advice: str, cause: str, limit: int = MAX_MESSAGE_BYTES) -> str:
    """ "<advice> Cause: <cause>", where only the cause is ever shortened: the advice says what
    to do (and may hold a manual stop command). An advice longer than `limit` alone is cut."""
    advice = sanitize(advice)
    room = limit - reason_bytes(advice) - len(_CAUSE_LEAD)
    if not cause:
        return clip(advice, limit)
    if room < len(_ELLIPSIS) + 1:
        return clip(advice, limit)
    return f"{advice}{_CAUSE_LEAD}{clip(cause, room)}"


def failed(advice: str, cause: str = "") -> ReplicationFailedError:
    """A failed request whose Reason says `advice` whole, then `cause` (Default: none), which
    alone is shortened to fit."""
    reason = with_cause(advice, cause) if cause else clip(advice)
    return ReplicationFailedError(reason, advice=advice, cause=cause)


def prefixed(error: ReplicationFailedError, advice: str) -> ReplicationFailedError:
    """The same failure, with `advice` said first (and kept whole)."""
    return failed(f"{advice} {error.advice}", error.cause)


def followed_by(error: ReplicationFailedError, outcome: str) -> ReplicationFailedError:
    """The same failure, with `outcome` said after its advice (and kept whole)."""
    return failed(f"{error.advice} {outcome}", error.cause)


def manual_stop_advice(key: ReplicationKey) -> str:
    """What to do when a replication may be running (or start late) and nothing stopped it."""
    return (
        "It may be running, or start late from an unanswered request: if "
        "list-participant-replicas shows it ACTIVE, stop it with "
        "`aws ivs-realtime stop-participant-replication "
        f"--source-stage-arn {key.source_stage_arn} --destination-stage-arn "
        f"{key.destination_stage_arn} --participant-id {key.participant_id}`."
    )


def stale_declaration_advice(item: str) -> str:
    """A follow-mode declaration left in the registry (`item`: its key, as a person types it):
    said first, so clipping can only shorten the cause, because a stale item lets the
    reconciler start a replication no resource owns. The replication is named by the message
    this one precedes: not again, to leave room."""
    return (
        "The replication also stays declared in the follow-mode registry table: delete its "
        f"item ({item}) before deploying again."
    )


def undo_outcome(key: ReplicationKey, *, stopped: bool, nothing_left_running: bool) -> str:
    """What became of a replication a failed request may have started, after its undo."""
    if stopped:
        return "It was stopped again so nothing is left running."
    if nothing_left_running:
        return "Nothing was left running."
    return manual_stop_advice(key)
