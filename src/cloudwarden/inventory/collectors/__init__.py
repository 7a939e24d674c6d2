"""One module per AWS service; each exposes ``COLLECTORS``, the collectors it contributes."""
