"""The SECMP0063 world, with no I/O: identifiers, SMKI certificates, the rule and its outcomes."""
