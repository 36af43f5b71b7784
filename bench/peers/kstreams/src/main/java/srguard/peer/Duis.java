package srguard.peer;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import javax.xml.stream.XMLInputFactory;
import javax.xml.stream.XMLStreamConstants;
import javax.xml.stream.XMLStreamException;
import javax.xml.stream.XMLStreamReader;

/**
 * A DUIS Request read with StAX, as a JVM team would: one pass, no DTD, no external entities. The reader
 * stops at the Header's ServiceReferenceVariant when it is out of the rule's scope (most traffic), so only
 * candidates are read whole. Read: RequestID (originator:target:counter), the variant, RemotePartyRole,
 * ExecutionDateTime, ApplyTimeBasedCPVChecks and the certificates under ReplacementCertificates.
 * Left out against srguard's reader: the 256 kB size screen, the schemaVersion and CommandVariant checks,
 * and the DLQ's error classes (an unreadable document goes to the DLQ without srguard's error header).
 */
final class Duis {
    static final String NAMESPACE = "http://www.dccinterface.co.uk/ServiceUserGateway";
    private static final Set<String> CERTIFICATES = Set.of(
        "DigitalSigningCertificate", "KeyAgreementCertificate", "KeyAgreementTopUpCertificate");
    private static final XMLInputFactory FACTORY = XMLInputFactory.newFactory();
    static {
        FACTORY.setProperty(XMLInputFactory.SUPPORT_DTD, false);
        FACTORY.setProperty(XMLInputFactory.IS_SUPPORTING_EXTERNAL_ENTITIES, false);
        FACTORY.setProperty(XMLInputFactory.IS_NAMESPACE_AWARE, true);
    }

    /** What the document says; {@code certificates} is null when reading stopped at an out-of-scope variant. */
    record Request(String requestId, String variant, String originatorId, String targetId, String remotePartyRole,
                   long executionAt, boolean cpvChecks, List<Rule.Cert> certificates) {}

    static final class Unreadable extends Exception {
        Unreadable(String message) { super(message); }
    }

    static Request read(byte[] data, Set<String> inScope) throws Unreadable {
        String requestId = null, variant = null, remotePartyRole = null;
        long executionAt = -1;
        boolean cpvChecks = true, replacement = false;
        List<Rule.Cert> certificates = new ArrayList<>();
        try {
            XMLStreamReader xml = FACTORY.createXMLStreamReader(new ByteArrayInputStream(data));
            try {
                while (xml.hasNext()) {
                    int event = xml.next();
                    if (event == XMLStreamConstants.END_ELEMENT && xml.getLocalName().equals("ReplacementCertificates")) replacement = false;
                    if (event != XMLStreamConstants.START_ELEMENT || !NAMESPACE.equals(xml.getNamespaceURI())) continue;
                    switch (xml.getLocalName()) {
                        case "RequestID" -> requestId = xml.getElementText().strip();
                        case "ServiceReferenceVariant" -> {
                            variant = xml.getElementText().strip();
                            if (!inScope.contains(variant)) return new Request(requestId, variant, null, null, null, -1, true, null);
                        }
                        case "RemotePartyRole" -> remotePartyRole = xml.getElementText().strip();
                        case "ExecutionDateTime" -> executionAt = OffsetDateTime.parse(xml.getElementText().strip()).toInstant().toEpochMilli();
                        case "ApplyTimeBasedCPVChecks" -> cpvChecks = Set.of("true", "1").contains(xml.getElementText().strip());
                        case "ReplacementCertificates" -> replacement = true;
                        default -> {
                            if (replacement && CERTIFICATES.contains(xml.getLocalName())) certificates.add(new Rule.Cert(der(xml.getElementText())));
                        }
                    }
                }
            } finally {
                xml.close();
            }
        } catch (XMLStreamException | RuntimeException e) {
            throw new Unreadable("not a readable DUIS Request: " + e.getMessage());
        }
        if (requestId == null || variant == null) throw new Unreadable("not a DUIS Request: no RequestID or ServiceReferenceVariant");
        String[] parts = requestId.split(":", -1);
        if (parts.length != 3) throw new Unreadable("RequestID " + requestId + " is not originator:target:counter");
        return new Request(requestId, variant, eui64(parts[0]), eui64(parts[1]), remotePartyRole, executionAt, cpvChecks, certificates);
    }

    /** Base64 that does not decode stays as its text's bytes: the rule then finds a malformed certificate. */
    private static byte[] der(String text) {
        String compact = text.replaceAll("\\s", "");
        try {
            return Base64.getDecoder().decode(compact);
        } catch (IllegalArgumentException e) {
            return compact.getBytes(StandardCharsets.UTF_8);
        }
    }

    /** The dashed upper-case form the reference topics key devices and entities by. */
    static String eui64(String text) throws Unreadable {
        String compact = text.strip().toUpperCase().replace("-", "");
        if (!compact.matches("[0-9A-F]{16}")) throw new Unreadable("not an EUI-64: " + text);
        StringBuilder out = new StringBuilder(23);
        for (int i = 0; i < 16; i += 2) out.append(i == 0 ? "" : "-").append(compact, i, i + 2);
        return out.toString();
    }
}
