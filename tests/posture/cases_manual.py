"""Rules that only ever report MANUAL (a person decides): their case is a MANUAL verdict with the evidence seen."""

from __future__ import annotations

from tests.posture.cases_data import RDS, _db_instance
from tests.posture.rule_cases import Case

CASES = [
    Case("rds_instance_multi_az", "MANUAL", _db_instance(MultiAZ=False), RDS, evidence={"MultiAZ": False}),
    Case("rds_instance_multi_az", "MANUAL", _db_instance(MultiAZ=True), RDS, label="multi-az",
         evidence={"MultiAZ": True}),
]
