"""srguard: SECMP0063 Network Operator certificate validation for DCC Service Requests."""

__version__ = "0.1.0"
