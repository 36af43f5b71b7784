package srguard.peer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.avro.io.EncoderFactory;

/** srguard's Avro records (plain binary, no registry framing), read with its own schemas/*.avsc. */
final class Avro {
    private static final Map<String, String> SCHEMAS = Map.of(
        "requests", "ServiceRequest", ReferenceData.REGISTRATIONS, "RegistrationChange",
        ReferenceData.PARTIES, "PartyCredential", ReferenceData.DEVICES, "DeviceInventory", "rejected", "SrRejection");
    private final Map<String, GenericDatumReader<GenericRecord>> readers = new HashMap<>();
    private final GenericDatumWriter<GenericRecord> rejectionWriter;
    final Schema rejection;
    private BinaryDecoder decoder;

    Avro(Path schemas) throws IOException {
        Map<String, Schema> parsed = new HashMap<>();
        for (Map.Entry<String, String> e : SCHEMAS.entrySet()) {
            parsed.put(e.getKey(), new Schema.Parser().parse(Files.readString(schemas.resolve(e.getValue() + ".avsc"))));
            readers.put(e.getKey(), new GenericDatumReader<>(parsed.get(e.getKey())));
        }
        rejection = parsed.get("rejected");
        rejectionWriter = new GenericDatumWriter<>(rejection);
    }

    GenericRecord read(String what, byte[] data) throws IOException {
        decoder = DecoderFactory.get().binaryDecoder(data, decoder);
        GenericRecord record = readers.get(what).read(null, decoder);
        if (!decoder.isEnd()) throw new IOException("trailing bytes after the record");
        return record;
    }

    byte[] write(GenericRecord record) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(512);
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, null);
        try {
            rejectionWriter.write(record, encoder);
            encoder.flush();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return out.toByteArray();
    }

    static String text(Object value) { return value == null ? "" : value.toString(); }

    static long millis(Object value) { return value == null ? -1 : (Long) value; }

    static List<String> texts(Object array) {
        List<String> out = new ArrayList<>();
        for (Object o : (List<?>) array) out.add(o.toString());
        return out;
    }

    static byte[] bytes(Object value) {
        ByteBuffer buffer = ((ByteBuffer) value).duplicate();
        byte[] out = new byte[buffer.remaining()];
        buffer.get(out);
        return out;
    }
}
