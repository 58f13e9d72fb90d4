"""Policy documents (IAM, trust, SCP, bucket, key, endpoint) as Python data.

Every document the platform emits is built as plain Python data and turned into JSON by
:func:`policy_documents.serialize.to_json` (or :func:`policy_json` when it holds Pulumi
outputs), so there is exactly one place that decides the wire format.
"""
