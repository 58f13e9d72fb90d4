"""Operations tools on a deployed platform, with boto3: `python -m operations verify|promote-model`.

* :mod:`operations.verify` compares the live organization with the guardrail catalog (read-only
  apart from dry-run probes);
* :mod:`operations.promote_model` moves a consumer environment to a new Rekognition Custom
  Labels version (README "Operations").
"""
