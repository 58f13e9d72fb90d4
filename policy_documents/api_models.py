"""What AWS APIs accept, read from the API models botocore ships.

The service authorization data (:mod:`policy_documents.service_authorization`) says which
condition keys an IAM action supports; it does not say whether the API call behind the action
can actually carry what a key tests. `aws:RequestTag` is the case that matters: an SCP that
requires a tag on a call whose request cannot carry tags denies that call to everyone (TAG-1).
The API models are the authority on request shapes, so this module asks them.
"""

from __future__ import annotations

import re
from functools import lru_cache

import botocore.session

# A `Tags` member whose documentation says the argument cannot be given in some uses of the
# call (SageMaker's CreateModelPackage into a model package group takes the group's tags and
# refuses its own). Such calls cannot be required to carry tags.
_TAGS_REFUSED = re.compile(r"cannot\s+supply\s+a\s+tag", re.IGNORECASE)
_HTML_TAG = re.compile(r"<[^>]+>")


@lru_cache(maxsize=None)
def _service_model(service: str):  # noqa: ANN202 (botocore's own type)
    return botocore.session.get_session().get_service_model(service)


@lru_cache(maxsize=None)
def operations_accepting(service: str, member: str, prefix: str = "") -> tuple[str, ...]:
    """`<service>:<Operation>` for every operation whose request has a top-level `member`,
    optionally only operations whose name starts with `prefix`; sorted."""
    model = _service_model(service)
    found = []
    for name in model.operation_names:
        if not name.startswith(prefix):
            continue
        shape = model.operation_model(name).input_shape
        if shape is not None and member in shape.members:
            found.append(f"{service}:{name}")
    return tuple(sorted(found))


@lru_cache(maxsize=None)
def operations_always_accepting_tags(service: str, prefix: str = "") -> tuple[str, ...]:
    """Operations (`prefix`-filtered) whose request always accepts a `Tags` argument: they
    have the member and its documentation does not say some uses refuse it."""
    model = _service_model(service)
    accepted = []
    for action in operations_accepting(service, "Tags", prefix):
        shape = model.operation_model(action.split(":", 1)[1]).input_shape
        text = _HTML_TAG.sub("", shape.members["Tags"].documentation or "")  # the models document in HTML
        if not _TAGS_REFUSED.search(text):
            accepted.append(action)
    return tuple(accepted)
