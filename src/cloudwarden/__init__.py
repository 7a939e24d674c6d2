"""cloudwarden: does an AWS account work as intended, and only as intended?"""

__version__ = "0.1.0"
