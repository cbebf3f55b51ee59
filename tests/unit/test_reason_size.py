"""Every Reason fits CloudFormation's 4,096 bytes.

The limit holds for the provider framework's whole response, so this adds up what the
framework (aws-cdk-lib 2.275, custom-resources/lib/provider-framework/runtime) sends around the
handler's message at its largest: "Error: <message>\\n\\nLogs: /aws/lambda/<function>\\n\\n" plus
Node.js stack frames (the Python runtime's error has no `trace`, so the framework's own
stack is the Reason), and the stack, request, logical and physical ids, all JSON-encoded.
"""

from __future__ import annotations

import json

import pytest

from ivs_replication.testing.cloudformation import custom_resource_event
from ivs_replication_handler import messages
from ivs_replication_handler.errors import InvalidPropertyError
from ivs_replication_handler.handler import handle_event
from ivs_replication_handler.messages import MAX_MESSAGE_BYTES, failure_message, reason_bytes
from ivs_replication_handler.registry import describe_item
from ivs_replication_handler.spec import ReplicationKey

CLOUDFORMATION_RESPONSE_LIMIT_BYTES = 4096
# A generous allowance for the framework's Node.js stack frames (about 10 lines of 80).
NODE_STACK_FRAMES = "\n".join(
    f"    at frame{n} (/var/task/framework.js:1:{10000 + n})" for n in range(14)
)
LONGEST_ARN = "arn:aws:ivs:ap-southeast-1:123456789012:stage/" + "A" * 82
NASTY_SERVICE_TEXT = ('\u00e9\u4e2d\U0001f600"\\\x00\x07\n\t\u2028' * 400) + "\ud800"


def longest_key() -> ReplicationKey:
    assert len(LONGEST_ARN) == 128
    return ReplicationKey(LONGEST_ARN, LONGEST_ARN.replace("A", "B"), "p" * 64)


def framework_response(message: str) -> bytes:
    """The body the provider framework PUTs to CloudFormation for a failure, at its largest."""
    function_name = "f" * 64
    reason = f"Error: {message}\n\nLogs: /aws/lambda/{function_name}\n\n{NODE_STACK_FRAMES}"
    body = {
        "Status": "FAILED",
        "Reason": reason,
        "StackId": "arn:aws:cloudformation:ap-southeast-1:123456789012:stack/"
        + "s" * 128
        + "/"
        + "0" * 36,
        "RequestId": "0" * 36,
        "PhysicalResourceId": longest_key().physical_id(),
        "LogicalResourceId": "L" * 255,
    }
    # Node's JSON.stringify keeps non-ASCII as UTF-8 and escapes control characters.
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(
    "code", ["ValidationException", "AccessDeniedException", "SomeFutureException"]
)
def test_a_failure_with_any_service_text_fits_the_response_and_keeps_its_hint(code: str) -> None:
    message = failure_message(
        "StartParticipantReplication", longest_key(), code, NASTY_SERVICE_TEXT
    )
    assert reason_bytes(message) <= MAX_MESSAGE_BYTES
    assert len(framework_response(message)) <= CLOUDFORMATION_RESPONSE_LIMIT_BYTES
    assert not any(ch < " " for ch in message), "control characters must be stripped"
    assert message.endswith(".")  # the hint, whole


def test_the_manual_stop_command_survives_nesting_with_the_longest_arns() -> None:
    """The longest advice the handler gives: a failed follow-mode Create whose undo could not
    stop (the manual command) and whose item could not be withdrawn (the stale-item advice),
    then a huge cause. The whole advice is kept; only the cause may be cut."""
    key = longest_key()
    undo = (
        f"Starting {key.describe()} did not complete. {messages.manual_stop_advice(key)} "
        "Deploy again."
    )
    inner = messages.failed(undo, NASTY_SERVICE_TEXT)
    stale = messages.stale_declaration_advice(describe_item(key))
    message = str(messages.prefixed(inner, stale))
    assert message.startswith(f"{stale} {undo} Cause: ")
    assert len(framework_response(message)) <= CLOUDFORMATION_RESPONSE_LIMIT_BYTES


@pytest.mark.parametrize("bag", ["ResourceProperties", "OldResourceProperties"])
@pytest.mark.parametrize("value", [["a list"], "a string", 42], ids=["list", "str", "int"])
def test_properties_that_are_not_a_map_are_an_invalid_property_before_any_call(
    bag: str, value: object
) -> None:
    """The same clear error as any other invalid property, not a bare TypeError."""
    props = {
        "SourceStageArn": LONGEST_ARN,
        "DestinationStageArn": LONGEST_ARN.replace("A", "B"),
        "ParticipantId": "host",
    }
    event = custom_resource_event("Update", props, old_properties=props)
    event[bag] = value

    class NoCalls:
        """An IVS edge that fails the test on any call."""

        attempt_budget_seconds = 1.0

        def sleep(self, seconds: float) -> None:
            raise AssertionError("a retry was attempted")

        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"an API call was attempted: {name}")

    with pytest.raises(InvalidPropertyError, match=f"Invalid {bag}: a .* was given, not a map"):
        handle_event(event, _Context(), NoCalls())  # type: ignore[arg-type]


class _Context:
    def get_remaining_time_in_millis(self) -> int:
        return 60_000
