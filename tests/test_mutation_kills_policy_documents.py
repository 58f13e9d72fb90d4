"""policy_documents behaviour the mutation run (`make mutation`) found untested."""

from __future__ import annotations

from policy_documents.service_authorization import validate_document

STATEMENT = {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}


def test_only_the_current_policy_language_version_is_accepted():
    # 2008-10-17 is a real, older IAM policy language version (no policy variables): refused
    # like a missing or a later one; only 2012-10-17 passes.
    assert validate_document({"Version": "2012-10-17", "Statement": [STATEMENT]}) == []
    for version in ("2008-10-17", "2012-10-18", None):
        document = {"Statement": [STATEMENT]} if version is None else {"Version": version, "Statement": [STATEMENT]}
        assert validate_document(document) == [f"document: Version must be '2012-10-17', not {version!r}"], version


def test_an_action_entry_is_star_or_service_colon_action_nothing_shorter():
    # IAM's action grammar: `*` alone or `service:action`; an empty entry or punctuation is no
    # action however it compares with `*`.
    for entry in ("", "!", "(", "*:"):
        statement = {"Sid": "Odd", "Effect": "Deny", "Action": [entry], "Resource": "*"}
        assert validate_document({"Version": "2012-10-17", "Statement": [statement]}) == [
            f"Sid Odd: Action entry {entry!r} is not of the form service:Action"], entry
    assert validate_document({"Version": "2012-10-17", "Statement": [
        {"Sid": "All", "Effect": "Deny", "Action": "*", "Resource": "*"}]}) == []
