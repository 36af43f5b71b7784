"""The device NO-cell ledger: whose certificates sit in each device's Network Operator trust-anchor cells."""
