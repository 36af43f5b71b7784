"""The same job written in the frameworks a user would otherwise choose, measured beside srguard by `make bench`.

- ``quix_app.py`` — Quix Streams 3.28 (its own virtualenv, ``.venv-quix``): a StreamingDataFrame that runs
  srguard's per-record step (decode, Redis look-ups, ``decide``, encode) on each SR and produces each output
  record to the topic it names. Its outputs are checked equal to srguard's record by record.
- ``kstreams/`` — Kafka Streams 4.1.1 (Java 17, ``mvn -q package``): the registration changes, party
  directory and device inventory as effective-dated global stores, one processor judging each SR against
  them. A port of the rule's essentials (scope, the NO exemption, the inventory's type and MPxN, fuel, SMKI
  certificate reading of OU and x500UniqueIdentifier, trust, validity, owner at the SR's time, the IDNO
  without credentials). DUIS input is read with StAX (``Duis.java``: one pass that stops at an out-of-scope
  ServiceReferenceVariant; the originator's role from the party directory, type and MPxN from the
  inventory). Left out: audit mode, accept-and-flag, the keyUsage check and the legacy ECDSA-with-NULL
  encoding, DLQ size limits and error classes, the DUIS size screen and schemaVersion check, the
  rejections' detail text. Its outputs are checked equal to
  srguard's decision by decision: accepted records whole; per rejection the code, reason, registered NO and
  the certificates' entities and owners.
"""
