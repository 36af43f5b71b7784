"""History: Avro archives of topics, and re-judging past SR traffic."""
