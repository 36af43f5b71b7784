"""The Kafka edge every room that moves records shares: records as plain data, batches in and outputs out,
reading history in a time window, and the topics srguard creates and checks."""
