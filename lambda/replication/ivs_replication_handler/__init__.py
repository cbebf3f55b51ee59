"""Custom-resource handler and follow-mode reconciler for IVS participant replication.

Entry points: ``ivs_replication_handler.handler.on_event`` (the custom resource) and
``ivs_replication_handler.reconciler.on_event`` (follow mode), each reading its settings once
(``settings``). Layers, each importing only those below it: the entry points ->
``lifecycle`` (CloudFormation's requests) -> ``replicas`` (the core: start, stop, confirm,
undo, as outcome values; the reconciler is the other policy over it) and ``metrics`` -> the AWS
edges ``ivs`` and ``registry`` (sharing ``aws``) -> ``settings`` -> the pure parts:
``messages`` (what users read), ``spec`` (parsing, validation, planning), ``retries`` (the
retry policy), ``contract`` (names and rules shared with the construct) and ``errors`` (every
exception class).

``contract`` is the only module the construct imports; it imports nothing but ``errors``, so
importing it loads no SDK.
"""
