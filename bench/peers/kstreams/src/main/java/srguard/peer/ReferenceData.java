package srguard.peer;

import java.util.ArrayList;
import java.util.List;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The reference data as global stores (every instance holds all of it, like a GlobalKTable), but
 * effective-dated: a GlobalKTable keeps one value per key, and the rule needs the record in force at the
 * SR's time. Rows are keyed "id|effective-from|sequence" so an as-of lookup is one reverse range scan.
 * Kafka Streams restores global stores through these same processors (KAFKA-7663), so a restart rebuilds them.
 */
final class ReferenceData {
    static final String REGISTRATIONS = "registrations", PARTIES = "parties", DEVICES = "devices";

    record Registration(String fuel, String networkOperatorId) {}
    record Party(String partyId, String role, long validFrom, long validTo) {
        boolean validAt(long at) { return (validFrom < 0 || validFrom <= at) && (validTo < 0 || at < validTo); }
    }
    record Device(String type, List<String> mpxns) {}

    private final KeyValueStore<String, String> registrations, parties, devices;

    ReferenceData(ProcessorContext<?, ?> context) {
        registrations = context.getStateStore(REGISTRATIONS);
        parties = context.getStateStore(PARTIES);
        devices = context.getStateStore(DEVICES);
    }

    static String at(long millis) { return String.format("%019d", Math.max(0, millis)); }

    private static String inForce(KeyValueStore<String, String> store, String id, long asOf) {
        try (KeyValueIterator<String, String> rows = store.reverseRange(id + "|", id + "|" + at(asOf) + "|~")) {
            return rows.hasNext() ? rows.next().value : null;
        }
    }

    Registration registration(String mpxn, long asOf) {
        String row = inForce(registrations, mpxn, asOf);
        if (row == null) return null;
        String[] f = row.split("\\|", -1);
        return new Registration(f[0], f[1].isEmpty() ? null : f[1]);
    }

    Device device(String deviceId, long asOf) {
        String row = inForce(devices, deviceId, asOf);
        if (row == null) return null;
        String[] f = row.split("\\|", -1);
        return new Device(f[0], f[1].isEmpty() ? List.of() : List.of(f[1].split(",")));
    }

    List<Party> holders(String entityId, long asOf) {
        List<Party> found = new ArrayList<>();
        try (KeyValueIterator<String, String> rows = parties.range("E|" + entityId + "|", "E|" + entityId + "|~")) {
            while (rows.hasNext()) {
                String[] f = rows.next().value.split("\\|", -1);
                Party party = new Party(f[0], f[1], Long.parseLong(f[2]), Long.parseLong(f[3]));
                if (party.validAt(asOf)) found.add(party);
            }
        }
        return found;
    }

    boolean hasCredentials(String partyId, long asOf) {
        try (KeyValueIterator<String, String> rows = parties.range("P|" + partyId + "|", "P|" + partyId + "|~")) {
            while (rows.hasNext()) {
                String[] f = rows.next().value.split("\\|", -1);
                if (new Party(partyId, "", Long.parseLong(f[0]), Long.parseLong(f[1])).validAt(asOf)) return true;
            }
        }
        return false;
    }

    /** Writes one topic's Avro records into its global store; tombstones and unreadable records are skipped. */
    static final class Updater implements Processor<byte[], byte[], Void, Void> {
        private final String store;
        private final Avro avro;
        private KeyValueStore<String, String> rows;

        Updater(String store, Avro avro) { this.store = store; this.avro = avro; }

        @Override public void init(ProcessorContext<Void, Void> context) { rows = context.getStateStore(store); }

        @Override public void process(Record<byte[], byte[]> record) {
            if (record.value() == null) return;
            GenericRecord r;
            try { r = avro.read(store, record.value()); } catch (Exception e) { return; }
            switch (store) {
                case REGISTRATIONS -> rows.put(
                    r.get("mpxn") + "|" + at((Long) r.get("effective_from")) + "|" + at((Long) r.get("sequence")),
                    r.get("fuel") + "|" + Avro.text(r.get("network_operator_id")));
                case DEVICES -> rows.put(
                    r.get("device_id") + "|" + at((Long) r.get("effective_from")) + "|" + at((Long) r.get("sequence")),
                    r.get("device_type") + "|" + String.join(",", Avro.texts(r.get("mpxns"))));
                default -> {
                    String entity = r.get("entity_id").toString(), party = r.get("party_id").toString();
                    long from = Avro.millis(r.get("valid_from")), to = Avro.millis(r.get("valid_to"));
                    rows.put("E|" + entity + "|" + at(from) + "|" + party, party + "|" + r.get("role") + "|" + from + "|" + to);
                    rows.put("P|" + party + "|" + entity + "|" + at(from), from + "|" + to);
                }
            }
        }
    }
}
