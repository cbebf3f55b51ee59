"""Custom-resource handler and follow-mode reconciler for IVS participant replication.

Entry points: ``ivs_replication_handler.handler.on_event`` (the custom resource) and
``ivs_replication_handler.reconciler.on_event`` (follow mode). Layers: entry points ->
``lifecycle`` / ``reconciler`` -> ``starting`` -> ``logic`` (pure) and the AWS edges ``ivs`` and
``registry`` (sharing ``aws``), all under one retry policy (``retries``, pure).

``contract`` holds the names and validation rules the CDK construct shares; it is pure and is
the only module the construct imports, so importing this package loads nothing else.
"""
