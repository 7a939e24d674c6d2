"""AWS Account and Organizations (global): the account's contacts and its Organizations membership.

Three calls per scan. "Not configured" answers are answers: no alternate security contact
(ResourceNotFoundException) and no organization (AWSOrganizationsNotInUseException) are stored as ``None``.
"""

from __future__ import annotations

from cloudwarden.inventory.collectors.base import Collector, CollectorScope, read_attribute
from cloudwarden.inventory.model import GLOBAL, Resource

ACCOUNT_SETTINGS = "AWS::Account::AccountSettings"


def collect_account(scope: CollectorScope) -> list[Resource]:
    account = scope.client("account")
    settings = Resource(
        ACCOUNT_SETTINGS, scope.account_id, GLOBAL, scope.account_id, arn=scope.arn("account", "account")
    )
    read_attribute(
        settings,
        "contact_information",
        account.get_contact_information,
        service="account",
        operation="GetContactInformation",
        absent=("ResourceNotFoundException",),
        transform=lambda r: r.get("ContactInformation"),
    )
    read_attribute(
        settings,
        "security_contact",
        lambda: account.get_alternate_contact(AlternateContactType="SECURITY"),
        service="account",
        operation="GetAlternateContact",
        absent=("ResourceNotFoundException",),
        transform=lambda r: r.get("AlternateContact"),
    )
    organizations = scope.client("organizations")
    read_attribute(
        settings,
        "organization",
        organizations.describe_organization,
        service="organizations",
        operation="DescribeOrganization",
        absent=("AWSOrganizationsNotInUseException",),
        transform=lambda r: r.get("Organization"),
    )
    return [settings]


COLLECTORS = [
    Collector("account", (ACCOUNT_SETTINGS,), collect_account, regional=False, operation="GetContactInformation"),
]
