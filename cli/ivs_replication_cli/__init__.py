"""``ivs-replication``: the operator's view of a deployed stack's IVS participant replications.

``ivs-replication status --stack-name NAME [--region R] [--json]`` tells, for every
``Custom::IvsParticipantReplication`` of the stack, whether it runs, and for every
``Custom::IvsStageMirror`` (a ``StageMirror``'s destination), which live publishers of its
source run in the destination; ``ivs-replication reconcile --stack-name NAME [--local]`` asks
the stack's reconciler for a sweep now (or runs the sweep here, with the reconciler's own
code). Needs the ``cli`` extra (boto3). It reads the
stack through CloudFormation and never imports the CDK or the construct library.

Exit status (``EXIT_*`` in ``errors``): 0 nothing drifts (or the sweep failed nothing); 1 drift
found (or some declarations failed to start); 2 usage; 3 boto3 missing; 4 no credentials or
region; 5 no such stack; 6 access denied; 7 any other AWS error; 8 the stack has no
reconciler.
"""
