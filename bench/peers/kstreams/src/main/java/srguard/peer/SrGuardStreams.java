package srguard.peer;

import java.io.FileInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.Stores;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;

/**
 * The same job in Kafka Streams, as a JVM team would write it: the registration changes, party directory
 * and device inventory as global stores (GlobalKTable-like, effective-dated), the SR stream judged
 * against them in one processor that forwards each SR to the accepted sink, or a rejection and a DUIS
 * response to theirs. Reads the same SRGUARD_* settings as `srguard run`, Avro or DUIS input (SRGUARD_INPUT_FORMAT).
 *
 * java -cp target/classes:target/dependency/* srguard.peer.SrGuardStreams SCHEMAS_DIR STATE_DIR
 */
public final class SrGuardStreams {
    private static final String OUTCOME = "srguard-outcome";

    public static void main(String[] args) throws Exception {
        Map<String, String> env = System.getenv();
        Path schemas = Path.of(args[0]);
        String topic = "SRGUARD_TOPICS__";
        String requests = env.getOrDefault(topic + "REQUESTS", "dcc.sr.requests");
        String accepted = env.getOrDefault(topic + "ACCEPTED", "dcc.sr.accepted");
        String rejected = env.getOrDefault(topic + "REJECTED", "dcc.sr.rejected");
        String responses = env.getOrDefault(topic + "RESPONSES", "dcc.sr.responses");
        String dlq = env.getOrDefault(topic + "DLQ", "dcc.sr.dlq");
        boolean duis = "duis".equals(env.get("SRGUARD_INPUT_FORMAT"));
        List<X509Certificate> trusted = new ArrayList<>();
        if (env.containsKey("SRGUARD_TRUST_STORE")) {
            try (FileInputStream in = new FileInputStream(env.get("SRGUARD_TRUST_STORE"))) {
                for (var c : CertificateFactory.getInstance("X.509").generateCertificates(in)) trusted.add((X509Certificate) c);
            }
        }

        Topology topology = new Topology();
        for (String[] store : new String[][] {
                {ReferenceData.REGISTRATIONS, env.getOrDefault(topic + "REGISTRATIONS", "dcc.registration.changes")},
                {ReferenceData.PARTIES, env.getOrDefault(topic + "PARTIES", "dcc.party.directory")},
                {ReferenceData.DEVICES, env.getOrDefault(topic + "DEVICES", "dcc.device.inventory")}}) {
            topology.addGlobalStore(
                Stores.keyValueStoreBuilder(Stores.inMemoryKeyValueStore(store[0]), Serdes.String(), Serdes.String()).withLoggingDisabled(),
                store[0] + "-source", new ByteArrayDeserializer(), new ByteArrayDeserializer(), store[1], store[0] + "-updater",
                () -> new ReferenceData.Updater(store[0], avro(schemas)));
        }
        topology.addSource("requests", new ByteArrayDeserializer(), new ByteArrayDeserializer(), requests)
            .addProcessor("judge", () -> new Judge(duis, avro(schemas), trusted, accepted, rejected, responses, dlq), "requests")
            .addSink(accepted, accepted, new ByteArraySerializer(), new ByteArraySerializer(), "judge")
            .addSink(rejected, rejected, new ByteArraySerializer(), new ByteArraySerializer(), "judge")
            .addSink(responses, responses, new ByteArraySerializer(), new ByteArraySerializer(), "judge")
            .addSink(dlq, dlq, new ByteArraySerializer(), new ByteArraySerializer(), "judge");

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, env.get("SRGUARD_GROUP_ID"));
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, env.get("SRGUARD_BOOTSTRAP_SERVERS"));
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG,
            "exactly_once".equals(env.get("SRGUARD_PROCESSING_GUARANTEE")) ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
        props.put(StreamsConfig.STATE_DIR_CONFIG, args[1]);
        props.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        // The consumer settings srguard's own runs get through SRGUARD_KAFKA_* (librdkafka names, mapped).
        Map<String, String> javaNames = Map.of("SESSION_TIMEOUT_MS", "session.timeout.ms",
            "HEARTBEAT_INTERVAL_MS", "heartbeat.interval.ms", "FETCH_WAIT_MAX_MS", "fetch.max.wait.ms");
        javaNames.forEach((name, key) -> {
            if (env.containsKey("SRGUARD_KAFKA_" + name)) props.put(StreamsConfig.consumerPrefix(key), env.get("SRGUARD_KAFKA_" + name));
        });

        KafkaStreams streams = new KafkaStreams(topology, props);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> { streams.close(); stopped.countDown(); }));
        streams.start();
        stopped.await();
    }

    private static Avro avro(Path schemas) {
        try { return new Avro(schemas); } catch (Exception e) { throw new IllegalStateException(e); }
    }

    /** An SR as the rule needs it, from either input; role, device type and MPxN null when it names none. */
    record Sr(String requestId, String variant, String originatorId, String role, String deviceId, String deviceType,
              String mpxn, String remotePartyRole, boolean cpvChecks, long submitted, long at, List<Rule.Cert> certificates) {}

    /** One SR at a time: decode, look up (inventory, registration, party directory), decide, forward. */
    static final class Judge implements Processor<byte[], byte[], byte[], byte[]> {
        private final boolean duis;
        private final Avro avro;
        private final SmkiCertificates certificates;
        private final String accepted, rejected, responses, dlq;
        private ProcessorContext<byte[], byte[]> context;
        private ReferenceData data;

        Judge(boolean duis, Avro avro, List<X509Certificate> trusted, String accepted, String rejected, String responses, String dlq) {
            this.duis = duis;
            this.avro = avro;
            try { this.certificates = new SmkiCertificates(trusted); } catch (Exception e) { throw new IllegalStateException(e); }
            this.accepted = accepted; this.rejected = rejected; this.responses = responses; this.dlq = dlq;
        }

        @Override public void init(ProcessorContext<byte[], byte[]> context) {
            this.context = context;
            this.data = new ReferenceData(context);
        }

        @Override public void process(Record<byte[], byte[]> record) {
            Sr sr;
            try { sr = duis ? fromDuis(record) : fromAvro(record.value()); } catch (Exception e) { forward(record, dlq, null); return; }
            if (sr == null) { forward(record, accepted, "accepted"); return; }
            // A DUIS SR names no role (an Avro one may not): the originator's in the party directory at the SR's time.
            String role = sr.role();
            if (role == null) {
                List<ReferenceData.Party> holders = data.holders(sr.originatorId(), sr.at());
                role = holders.size() == 1 && Rule.USER_ROLES.contains(holders.get(0).role()) ? holders.get(0).role() : null;
            }
            if (!Rule.candidate(sr.variant(), role)) { forward(record, accepted, "accepted"); return; }
            Rule.Subject subject = Rule.subject(role, sr.deviceType(), sr.mpxn(), sr.deviceId(), data.device(sr.deviceId(), sr.at()));
            Rule.Decision decision = Rule.decide(sr.variant(), sr.remotePartyRole(), sr.cpvChecks(), sr.at(), subject, sr.certificates(),
                subject.mpxn() == null ? null : data.registration(subject.mpxn(), sr.at()), data, certificates);
            if (decision.accepted()) { forward(record, accepted, "accepted"); return; }
            long now = System.currentTimeMillis();
            context.forward(record.withValue(rejection(sr, subject, decision, now, record)).withHeaders(outcome(null, "rejected")), rejected);
            context.forward(record.withValue(response(sr.requestId(), decision.code(), sr.variant(), now)).withHeaders(outcome(null, null)), responses);
        }

        private Sr fromAvro(byte[] value) throws Exception {
            GenericRecord r = avro.read("requests", value);
            long submitted = (Long) r.get("submitted_at"), execution = Avro.millis(r.get("execution_datetime"));
            String mpxn = r.get("mpxn") == null || r.get("mpxn").toString().isEmpty() ? null : r.get("mpxn").toString();
            List<Rule.Cert> certs = new ArrayList<>();
            for (Object c : (List<?>) r.get("certificates")) certs.add(new Rule.Cert(Avro.bytes(((GenericRecord) c).get("der"))));
            Object rpr = r.get("remote_party_role");
            return new Sr(r.get("request_id").toString(), r.get("service_reference_variant").toString(), r.get("originator_id").toString(),
                nullIfEmpty(Avro.text(r.get("user_role"))), r.get("target_device_id").toString(), nullIfEmpty(Avro.text(r.get("target_device_type"))),
                mpxn, rpr == null ? null : rpr.toString(), (Boolean) r.get("apply_time_based_cpv_checks"), submitted, Math.max(execution, submitted), certs);
        }

        /** A DUIS Request names no role, device type or MPxN (the directory and the inventory do); its receipt time
         *  is its record's timestamp. Null: out of the rule's scope, not read whole. */
        private Sr fromDuis(Record<byte[], byte[]> record) throws Duis.Unreadable {
            Duis.Request r = Duis.read(record.value(), Rule.VARIANTS);
            if (r.certificates() == null) return null;
            return new Sr(r.requestId(), r.variant(), r.originatorId(), null, r.targetId(), null, null, r.remotePartyRole(),
                r.cpvChecks(), record.timestamp(), Math.max(r.executionAt(), record.timestamp()), r.certificates());
        }

        private static String nullIfEmpty(String text) { return text.isEmpty() ? null : text; }

        private void forward(Record<byte[], byte[]> record, String sink, String outcome) {
            context.forward(record.withHeaders(outcome(record.headers(), outcome)), sink);
        }

        private static Headers outcome(Headers input, String outcome) {
            Headers headers = new org.apache.kafka.common.header.internals.RecordHeaders(input == null ? null : input.toArray());
            if (outcome != null) headers.add(OUTCOME, outcome.getBytes(StandardCharsets.UTF_8));
            return headers;
        }

        private byte[] rejection(Sr sr, Rule.Subject s, Rule.Decision d, long now, Record<byte[], byte[]> record) {
            RecordMetadata source = context.recordMetadata().orElseThrow();
            GenericData.Record r = new GenericData.Record(avro.rejection);
            r.put("request_id", sr.requestId());
            r.put("service_reference_variant", sr.variant());
            r.put("response_code", d.code());
            r.put("reason", d.reason());
            r.put("detail", d.reason());
            r.put("originator_id", sr.originatorId());
            r.put("user_role", Avro.text(s.role()));
            r.put("target_device_id", sr.deviceId());
            r.put("target_device_type", Avro.text(s.deviceType()));
            r.put("mpxn", s.mpxn());
            r.put("registered_network_operator_id", d.registered());
            r.put("certificate_entity_ids", d.entities());
            r.put("certificate_party_ids", d.parties());
            r.put("as_of", sr.at());
            r.put("decided_at", now);
            r.put("source_topic", source.topic());
            r.put("source_partition", source.partition());
            r.put("source_offset", source.offset());
            r.put("original", java.nio.ByteBuffer.wrap(record.value()));
            r.put("submitted_at", sr.submitted());
            return avro.write(r);
        }

        private static byte[] response(String requestId, String code, String variant, long now) {
            String reference = variant.equals("6.15.1") ? "6.15" : variant;
            return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><sr:Response xmlns:sr=\"http://www.dccinterface.co.uk/ServiceUserGateway\" "
                + "schemaVersion=\"5.4\"><sr:Header><sr:RequestID>" + requestId + "</sr:RequestID><sr:ResponseCode>" + code
                + "</sr:ResponseCode><sr:ResponseDateTime>" + Instant.ofEpochMilli(now) + "</sr:ResponseDateTime></sr:Header>"
                + "<sr:Body><sr:ResponseMessage><sr:ServiceReference>" + reference + "</sr:ServiceReference><sr:ServiceReferenceVariant>"
                + variant + "</sr:ServiceReferenceVariant></sr:ResponseMessage></sr:Body></sr:Response>").getBytes(StandardCharsets.UTF_8);
        }
    }
}
