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
 * response to theirs. Reads the same SRGUARD_* settings as `srguard run`; Avro input only.
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
            .addProcessor("judge", () -> new Judge(avro(schemas), trusted, accepted, rejected, responses, dlq), "requests")
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

    /** One SR at a time: decode, look up (inventory, registration, party directory), decide, forward. */
    static final class Judge implements Processor<byte[], byte[], byte[], byte[]> {
        private final Avro avro;
        private final SmkiCertificates certificates;
        private final String accepted, rejected, responses, dlq;
        private ProcessorContext<byte[], byte[]> context;
        private ReferenceData data;

        Judge(Avro avro, List<X509Certificate> trusted, String accepted, String rejected, String responses, String dlq) {
            this.avro = avro;
            try { this.certificates = new SmkiCertificates(trusted); } catch (Exception e) { throw new IllegalStateException(e); }
            this.accepted = accepted; this.rejected = rejected; this.responses = responses; this.dlq = dlq;
        }

        @Override public void init(ProcessorContext<byte[], byte[]> context) {
            this.context = context;
            this.data = new ReferenceData(context);
        }

        @Override public void process(Record<byte[], byte[]> record) {
            GenericRecord sr;
            try { sr = avro.read("requests", record.value()); } catch (Exception e) { forward(record, dlq, null); return; }
            String variant = sr.get("service_reference_variant").toString();
            String role = Avro.text(sr.get("user_role"));
            if (!Rule.candidate(variant, role)) { forward(record, accepted, "accepted"); return; }
            long submitted = (Long) sr.get("submitted_at"), execution = Avro.millis(sr.get("execution_datetime"));
            long at = execution > submitted ? execution : submitted;
            String deviceId = sr.get("target_device_id").toString();
            String mpxn = sr.get("mpxn") == null ? null : sr.get("mpxn").toString();
            if (mpxn != null && mpxn.isEmpty()) mpxn = null;
            Rule.Subject subject = Rule.subject(role, Avro.text(sr.get("target_device_type")), mpxn, deviceId, data.device(deviceId, at));
            List<Rule.Cert> certs = new ArrayList<>();
            for (Object c : (List<?>) sr.get("certificates")) certs.add(new Rule.Cert(Avro.bytes(((GenericRecord) c).get("der"))));
            Object rpr = sr.get("remote_party_role");
            Rule.Decision decision = Rule.decide(variant, rpr == null ? null : rpr.toString(), (Boolean) sr.get("apply_time_based_cpv_checks"),
                at, subject, certs, subject.mpxn() == null ? null : data.registration(subject.mpxn(), at), data, certificates);
            if (decision.accepted()) { forward(record, accepted, "accepted"); return; }
            long now = System.currentTimeMillis();
            context.forward(record.withValue(rejection(sr, subject, decision, at, now, record)).withHeaders(outcome(null, "rejected")), rejected);
            String requestId = sr.get("request_id").toString();
            context.forward(record.withValue(response(requestId, decision.code(), variant, now)).withHeaders(outcome(null, null)), responses);
        }

        private void forward(Record<byte[], byte[]> record, String sink, String outcome) {
            context.forward(record.withHeaders(outcome(record.headers(), outcome)), sink);
        }

        private static Headers outcome(Headers input, String outcome) {
            Headers headers = new org.apache.kafka.common.header.internals.RecordHeaders(input == null ? null : input.toArray());
            if (outcome != null) headers.add(OUTCOME, outcome.getBytes(StandardCharsets.UTF_8));
            return headers;
        }

        private byte[] rejection(GenericRecord sr, Rule.Subject s, Rule.Decision d, long at, long now, Record<byte[], byte[]> record) {
            RecordMetadata source = context.recordMetadata().orElseThrow();
            GenericData.Record r = new GenericData.Record(avro.rejection);
            r.put("request_id", sr.get("request_id").toString());
            r.put("service_reference_variant", sr.get("service_reference_variant").toString());
            r.put("response_code", d.code());
            r.put("reason", d.reason());
            r.put("detail", d.reason());
            r.put("originator_id", sr.get("originator_id").toString());
            r.put("user_role", Avro.text(s.role()));
            r.put("target_device_id", sr.get("target_device_id").toString());
            r.put("target_device_type", Avro.text(s.deviceType()));
            r.put("mpxn", s.mpxn());
            r.put("registered_network_operator_id", d.registered());
            r.put("certificate_entity_ids", d.entities());
            r.put("certificate_party_ids", d.parties());
            r.put("as_of", at);
            r.put("decided_at", now);
            r.put("source_topic", source.topic());
            r.put("source_partition", source.partition());
            r.put("source_offset", source.offset());
            r.put("original", java.nio.ByteBuffer.wrap(record.value()));
            r.put("submitted_at", sr.get("submitted_at"));
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
