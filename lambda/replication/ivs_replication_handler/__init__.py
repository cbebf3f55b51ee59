"""Custom-resource handler for IVS participant replication.

Entry point: ``ivs_replication_handler.handler.on_event``. The modules ``rules`` and
``constants`` are pure and dependency-free: the CDK construct imports them too, so synth-time
validation and the handler share one definition of every rule.
"""
