"""Where events come from: the fast lane (EventBridge → Lambda, seconds) and the slow lane (log files in S3)."""
