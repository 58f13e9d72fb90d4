"""The one serializer of policy documents: minified, non-ASCII kept as is (AWS counts characters)."""

from __future__ import annotations

import json

from policy_documents.serialize import to_json


def test_documents_are_minified_and_keep_non_ascii_characters():
    doc = {"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Deny", "Action": "s3:*",
                                                   "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/owner": "Zoë"}}}]}
    text = to_json(doc)
    assert " " not in text and "\n" not in text
    assert "Zoë" in text and "\\u" not in text  # an escape would count 6 characters against the SCP limit
    assert json.loads(text) == doc
