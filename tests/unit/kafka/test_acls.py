"""The ACLs each command needs, as data: least privilege, and nothing that writes reference data."""

from __future__ import annotations

from processor.kafka.acls import COMMANDS, acl_lines, grants
from processor.names import Topics

TOPICS = Topics()


def _ops(found, resource, name):
    return {g.operation for g in found if g.resource == resource and g.name == name}


def test_run_reads_its_input_writes_its_outputs_and_never_writes_reference_topics():
    found = grants("run", "User:srguard-run", TOPICS, "srguard", embedded_feed=False)
    assert _ops(found, "topic", TOPICS.requests) == {"Read", "Describe"}
    for output in TOPICS.outputs():
        assert _ops(found, "topic", output) == {"Write", "Describe", "DescribeConfigs"}
    assert _ops(found, "group", "srguard") == {"Read"}
    assert next(g for g in found if g.resource == "transactional-id").prefixed
    reference = {TOPICS.registrations, TOPICS.parties, TOPICS.devices}
    assert not [g for g in found if g.name in reference], "without the embedded feed it never touches them"
    with_feed = grants("run", "User:srguard-run", TOPICS, "srguard", embedded_feed=True)
    assert all(_ops(with_feed, "topic", t) == {"Read", "Describe", "DescribeConfigs"} for t in reference)


def test_no_command_may_write_the_reference_topics():
    reference = {TOPICS.registrations, TOPICS.parties, TOPICS.devices}
    for command in COMMANDS:
        found = grants(command, "User:x", TOPICS, "srguard")
        assert not [g for g in found if g.name in reference and g.operation in ("Write", "Create")], command


def test_suspects_reads_its_evidence_and_writes_only_the_suspects_topic():
    found = grants("suspects", "User:analyst", TOPICS, "srguard")
    for evidence in (TOPICS.rejected, TOPICS.audit, TOPICS.accepted):
        assert _ops(found, "topic", evidence) == {"Read", "Describe"}
    assert {g.name for g in found if g.operation == "Write"} == {TOPICS.suspects}
    assert _ops(found, "group", "srguard-history-") == {"Read"}


def test_kafka_acls_lines_group_the_operations_of_one_resource():
    lines = acl_lines(grants("replay-topic", "User:analyst", TOPICS, "srguard", output_prefix="r19."), "b:9093")
    created = next(line for line in lines if "--topic r19." in line)
    assert "--resource-pattern-type prefixed" in created and "--operation Create --operation Write" in created
    assert all(line.startswith("kafka-acls.sh --bootstrap-server b:9093 --command-config") for line in lines)
