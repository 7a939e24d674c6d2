"""Account rules: contact details (CIS 1.1, Manual) and the security contact (CIS 1.2)."""

from __future__ import annotations

from cloudwarden.findings.model import Severity
from cloudwarden.inventory.model import Inventory, Resource
from cloudwarden.posture.registry import Verdict, failed, manual, passed, rule

ACCOUNT = "AWS::Account::AccountSettings"
CONTACT_FIELDS = ("FullName", "CompanyName", "PhoneNumber", "City", "CountryCode", "WebsiteUrl")


@rule(
    id="account_contact_details_current",
    fsbp=(),
    well_architected=("SEC10",),
    title="The account's contact details are current (manual)",
    severity=Severity.LOW,
    resource_type=ACCOUNT,
    cis=("1.1",),
    rationale="AWS uses the contact details to reach you about abuse or a compromise; stale details mean the "
    "warning goes nowhere. Whether they are current needs a person (CIS marks this Manual).",
    remediation="Review the details under Account > Contact information (aws account put-contact-information).",
)
def account_contact_details_current(settings: Resource, _: Inventory) -> Verdict:
    contact = settings.attr("contact_information")
    if not contact:
        return failed("The account has no contact information.", contact=None)
    seen = {k: contact.get(k) for k in CONTACT_FIELDS if contact.get(k)}
    return manual("Confirm the account's contact details are current.", contact=seen)


@rule(
    id="account_security_contact_registered",
    fsbp=("Account.1",),
    well_architected=("SEC10",),
    title="A security contact is registered for the account",
    severity=Severity.MEDIUM,
    resource_type=ACCOUNT,
    cis=("1.2",),
    rationale="AWS Security writes to the security contact about compromised credentials and abuse reports; "
    "without one those notices land with billing or nobody.",
    remediation="aws account put-alternate-contact --alternate-contact-type SECURITY --email-address ADDRESS "
    "--name NAME --phone-number PHONE --title TITLE",
)
def account_security_contact_registered(settings: Resource, _: Inventory) -> Verdict:
    contact = settings.attr("security_contact")
    if not contact or not contact.get("EmailAddress"):
        return failed("No security contact is registered.", security_contact=None)
    return passed(
        "A security contact is registered.",
        security_contact={k: contact.get(k) for k in ("Name", "Title", "EmailAddress")},
    )
