package srguard.peer;

import java.io.ByteArrayInputStream;
import java.nio.ByteBuffer;
import java.security.PublicKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.naming.ldap.LdapName;
import javax.naming.ldap.Rdn;
import javax.security.auth.x500.X500Principal;

/**
 * SMKI Organisation Certificates as the rule reads them: subject OU (the Remote Party Role, 03 = Network
 * Operator), x500UniqueIdentifier (the entity EUI-64: exactly a 64-bit BIT STRING), validity, and a signature
 * by a trusted Organisation CA. Parsed certificates are cached, as srguard caches them.
 * Left out against srguard: the keyUsage check and the legacy ECDSA-with-NULL encoding.
 */
final class SmkiCertificates {
    record Read(String entityId, String roleCode, long notBefore, long notAfter, String fault) {
        boolean networkOperator() { return "03".equals(roleCode); }
    }

    private static final int CACHE = 65_536;
    private final List<PublicKey> authorities;
    private final CertificateFactory factory;
    private final Map<ByteBuffer, Read> cache = new LinkedHashMap<>(1024, 0.75f, true) {
        @Override protected boolean removeEldestEntry(Map.Entry<ByteBuffer, Read> eldest) { return size() > CACHE; }
    };

    SmkiCertificates(List<X509Certificate> trusted) throws Exception {
        factory = CertificateFactory.getInstance("X.509");
        authorities = new ArrayList<>();
        for (X509Certificate ca : trusted) authorities.add(ca.getPublicKey());
    }

    Read read(byte[] der) {
        return cache.computeIfAbsent(ByteBuffer.wrap(der), k -> parse(der));
    }

    private Read parse(byte[] der) {
        X509Certificate cert;
        String role = null, entity = null;
        try {
            cert = (X509Certificate) factory.generateCertificate(new ByteArrayInputStream(der));
            int ous = 0, uids = 0;
            for (Rdn rdn : new LdapName(cert.getSubjectX500Principal().getName(X500Principal.RFC2253)).getRdns()) {
                if (rdn.getType().equalsIgnoreCase("OU")) { ous++; role = rdn.getValue().toString(); }
                if (rdn.getType().equals("2.5.4.45")) { uids++; entity = entityId(rdn.getValue()); }
            }
            if (ous != 1 || role.length() != 2) return MALFORMED;
            if (uids != 1 || entity == null) return MALFORMED;
        } catch (Exception e) {
            return MALFORMED;
        }
        boolean trusted = authorities.isEmpty();
        for (PublicKey key : authorities) {
            try { cert.verify(key); trusted = true; break; } catch (Exception ignored) { /* another authority */ }
        }
        long from = cert.getNotBefore().getTime(), to = cert.getNotAfter().getTime();
        // As srguard: a certificate no trusted authority signed is not read at all (no entity to report).
        return trusted ? new Read(entity, role.toUpperCase(), from, to, null) : new Read("", "", 0, 0, "untrusted_issuer");
    }

    private static final Read MALFORMED = new Read("", "", 0, 0, "malformed_certificate");

    /** RFC 2253 writes an attribute it has no name for as '#' + the DER of its value: 03 09 00 + 8 bytes. */
    private static String entityId(Object value) {
        String text = value.toString();
        byte[] der = value instanceof byte[] b ? b : text.startsWith("#") ? HexFormat.of().parseHex(text.substring(1)) : null;
        if (der == null || der.length != 11 || der[0] != 0x03 || der[1] != 0x09 || der[2] != 0) return null;
        StringBuilder out = new StringBuilder();
        for (int i = 3; i < 11; i++) out.append(i > 3 ? "-" : "").append(String.format("%02X", der[i]));
        return out.toString();
    }
}
