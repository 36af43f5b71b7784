"""DUIS XML: Service Requests in (hardened parsing), DUIS responses out. No Kafka, no Redis."""
