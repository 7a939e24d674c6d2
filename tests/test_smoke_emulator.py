from tests.conftest import verdict


def test_rule_lookup_helper_reports_missing(aws):
    aws.client("s3").create_bucket(Bucket="bucket-one")
    findings = aws.scan(services=["s3"])
    assert verdict(findings, "s3_bucket_versioning_enabled", "bucket-one").status == "FAIL"
