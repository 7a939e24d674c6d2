"""Detection: Sigma rules over CloudTrail events (streaming matcher; lanes and SQL come on top of it)."""
