"""Races and state machines: CloudFormation's sequences, reconciler runs and lost answers
interleaved at the AWS edge (`tests/edge_hooks.py`). The state machines run under every
service profile (`tests.service_profiles.profiled_cases`); a race test names the profiles it
holds under."""
