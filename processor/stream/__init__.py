"""Kafka edges: serdes, the consume -> decide -> produce loop, transactions, DLQ policy."""
