"""A loopback HTTP server that answers CloudTrail LookupEvents and STS GetCallerIdentity as AWS does.

It exists because the embedded emulator (moto) does not implement LookupEvents (see
/work/shared/reference/emulator-coverage.md). Real boto3 clients talk to it over HTTP, so request signing,
serialisation, pagination tokens, error parsing and botocore's retries all run for real. It speaks the JSON 1.1
protocol (``X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents``), honours
StartTime/EndTime (inclusive), MaxResults and NextToken (bound to the query it came from, as AWS does), answers
newest first, and can answer ThrottlingException or AccessDeniedException on demand. The region of a request is
read from its SigV4 credential scope.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LOOKUP_TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
_REGION = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/")


class FakeCloudTrail:
    """Events per region, served by LookupEvents; every LookupEvents request is kept in ``requests``."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.requests: list[dict[str, Any]] = []  # region, params, monotonic time, answer ("ok" or an error code)
        self.throttle_next = 0  # answer this many LookupEvents requests with ThrottlingException
        self.throttle_if: Callable[[dict[str, Any]], bool] | None = None  # throttle every request it matches
        self.deny = False  # answer AccessDeniedException
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.endpoint_url = ""

    def add(self, region: str, record: dict[str, Any], text: str | None = None) -> None:
        """Serve ``record`` in ``region`` (``text``: the CloudTrailEvent string to send instead of its JSON)."""
        when = datetime.fromisoformat(record["eventTime"].replace("Z", "+00:00")).timestamp()
        identity = record.get("userIdentity") or {}
        self.events[region].append(
            {
                "EventId": record["eventID"],
                "EventName": record.get("eventName"),
                "ReadOnly": str(record.get("readOnly", "")).lower(),
                "AccessKeyId": identity.get("accessKeyId", ""),
                "EventTime": when,
                "EventSource": record.get("eventSource"),
                "Username": identity.get("userName", ""),
                "Resources": [],
                "CloudTrailEvent": json.dumps(record) if text is None else text,
            }
        )

    def lookup_requests(self, answer: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.requests if answer is None or r["answer"] == answer]

    # -- serving ---------------------------------------------------------------------------------------------

    def answer(self, region: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.deny:
                outcome = "AccessDeniedException"
            elif self.throttle_next > 0 or (self.throttle_if is not None and self.throttle_if(params)):
                self.throttle_next = max(0, self.throttle_next - 1)
                outcome = "ThrottlingException"
            else:
                outcome = "ok"
            self.requests.append({"region": region, "params": params, "at": time.monotonic(), "answer": outcome})
            events = list(self.events.get(region, []))
        if outcome == "AccessDeniedException":
            return 400, {
                "__type": outcome,
                "Message": f"User: arn:aws:iam::{self.account}:user/auditor is not authorized to perform: "
                "cloudtrail:LookupEvents because no identity-based policy allows the cloudtrail:LookupEvents action",
            }
        if outcome == "ThrottlingException":
            return 400, {"__type": outcome, "message": "Rate exceeded"}
        size = params.get("MaxResults", 50)
        if not 1 <= size <= 50:
            return 400, {"__type": "InvalidMaxResultsException", "Message": "MaxResults must be 1 to 50"}
        start = params.get("StartTime", float("-inf"))
        end = params.get("EndTime", float("inf"))
        if start > end:
            return 400, {"__type": "InvalidTimeRangeException", "Message": "StartTime is after EndTime"}
        query = [start, end, size]
        offset = 0
        if "NextToken" in params:
            token = json.loads(base64.b64decode(params["NextToken"]))
            if token["query"] != query:
                return 400, {"__type": "InvalidNextTokenException", "Message": "the token is for another query"}
            offset = token["offset"]
        matching = sorted(
            (e for e in events if start <= e["EventTime"] <= end), key=lambda e: (-e["EventTime"], e["EventId"])
        )
        body: dict[str, Any] = {"Events": matching[offset : offset + size]}
        if offset + size < len(matching):
            body["NextToken"] = base64.b64encode(
                json.dumps({"query": query, "offset": offset + size}).encode()
            ).decode()
        return 200, body

    def caller_identity(self) -> str:
        return (
            '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
            f"<Arn>arn:aws:iam::{self.account}:user/auditor</Arn><UserId>AIDAAUDITOR</UserId>"
            f"<Account>{self.account}</Account></GetCallerIdentityResult>"
            "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
        )

    def __enter__(self) -> FakeCloudTrail:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                match = _REGION.search(self.headers.get("Authorization", ""))
                region = match.group(1) if match else "?"
                if self.headers.get("X-Amz-Target") == LOOKUP_TARGET:
                    status, answer = fake.answer(region, json.loads(body or b"{}"))
                    self._send(status, json.dumps(answer).encode(), "application/x-amz-json-1.1")
                elif b"Action=GetCallerIdentity" in body:
                    self._send(200, fake.caller_identity().encode(), "text/xml")
                else:
                    self._send(400, b'{"__type":"UnknownOperationException"}', "application/x-amz-json-1.1")

            def _send(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("x-amzn-RequestId", "00000000-0000-0000-0000-000000000000")
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *_: Any) -> None:  # keep the test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.endpoint_url = f"http://{host}:{port}"
        threading.Thread(target=self._server.serve_forever, name="fake-cloudtrail", daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
