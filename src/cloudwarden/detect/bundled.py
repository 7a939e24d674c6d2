"""cloudwarden's own Sigma rules, shipped in the package: the CIS AWS Foundations v5.0 monitoring controls
(4.1-4.15) and the changes an AWS account owner most needs to hear about (root use, logging and security
services turned off, resources opened to the internet, new credentials and trust).

They are plain Sigma files (``rules/cw_<short id>.yml``), loaded like any user's rules; each carries its CIS
control (``cis.4.N``), its ATT&CK technique where one applies and its short id (``cloudwarden.<short id>``).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cloudwarden.detect.sigma_rules import DetectionRule

SHORT_ID_NAMESPACE = "cloudwarden"


def bundled_rules_dir() -> Path:
    """The folder holding the bundled rule files."""
    folder = resources.files(__package__).joinpath("rules")
    # The package is installed as files (a wheel or an editable install), never zipped, so this is a real path.
    return Path(str(folder))


def short_id(rule: DetectionRule) -> str | None:
    """The rule's cloudwarden short id (its ``cloudwarden.<short id>`` tag), None for a rule from elsewhere."""
    prefix = SHORT_ID_NAMESPACE + "."
    return next((tag.removeprefix(prefix) for tag in rule.tags if tag.startswith(prefix)), None)
