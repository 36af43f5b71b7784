"""Realistic, seeded test data: an SMKI-like PKI, a GB-like population, registrations and SR traffic."""
