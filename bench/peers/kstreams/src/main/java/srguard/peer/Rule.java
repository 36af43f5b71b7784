package srguard.peer;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A port of the SECMP0063 rule's essentials (processor/domain/rule.py), same order of checks, reasons and
 * response codes. Left out: audit mode, the
 * accept-and-flag policy for a missing registration, the rejection's detail text (this port writes the reason).
 */
final class Rule {
    record Subject(String role, String deviceType, String mpxn, String fault) {}
    record Cert(byte[] der) {}
    record Decision(String code, String reason, String registered, List<String> entities, List<String> parties) {
        boolean accepted() { return code == null; }
    }

    static final Decision ACCEPT = new Decision(null, null, null, List.of(), List.of());
    private static final Set<String> SUPPLIERS = Set.of("IS", "ES", "GS"), OPERATORS = Set.of("ED", "GT");
    private static final Map<String, Set<String>> TARGETS = Map.of("6.15.1", Set.of("ESME"), "6.21", Set.of("ESME", "GPF"));
    static final Set<String> VARIANTS = TARGETS.keySet();
    static final Set<String> USER_ROLES = Set.of("IS", "ES", "GS", "ED", "GT", "OU", "RSA");
    // (foreign certificate, missing registration, subject fault) per SR variant
    private static final Map<String, String[]> CODES = Map.of(
        "6.15.1", new String[] {"E061510", "E061511", "E061512"}, "6.21", new String[] {"E062106", "E062107", "E062108"});
    private static final List<String> SEVERITY = List.of("malformed_certificate", "untrusted_issuer",
        "certificate_not_valid_at_sr_time", "not_network_operator_certificate", "unknown_entity", "ambiguous_certificate_owner");

    static boolean candidate(String variant, String role) {
        return TARGETS.containsKey(variant) && (role == null || SUPPLIERS.contains(role) || exempt(variant, role));
    }

    private static boolean exempt(String variant, String role) { return variant.equals("6.15.1") && OPERATORS.contains(role); }

    /** The subject from the SR's own fields and the device inventory's record in force (null: not held). */
    static Subject subject(String role, String type, String mpxn, String deviceId, ReferenceData.Device device) {
        if (device == null) return new Subject(role, type, mpxn, type == null ? "unknown_device" : null);
        boolean contradicts = (type != null && !type.equals(device.type())) || (mpxn != null && !device.mpxns().contains(mpxn));
        String served = mpxn != null ? mpxn : servedMpxn(device);
        return new Subject(role, device.type(), served, contradicts ? "request_contradicts_inventory" : null);
    }

    private static String servedMpxn(ReferenceData.Device device) {
        String fuel = fuelOfDevice(device.type());
        for (String m : device.mpxns()) if (fuel != null && fuel.equals(fuelOf(m))) return m;
        return device.mpxns().isEmpty() ? null : device.mpxns().get(0);
    }

    static String fuelOfDevice(String type) { return "ESME".equals(type) ? "ELECTRICITY" : "GPF".equals(type) ? "GAS" : null; }

    static String fuelOf(String mpxn) {
        if (!mpxn.chars().allMatch(c -> c >= '0' && c <= '9') || mpxn.isEmpty()) return null;
        return mpxn.length() == 13 ? "ELECTRICITY" : mpxn.length() >= 6 && mpxn.length() <= 10 ? "GAS" : null;
    }

    private record Checked(String entity, String party, String fault) {}

    static Decision decide(String variant, String remotePartyRole, boolean cpvChecks, long at, Subject s, List<Cert> certs,
                           ReferenceData.Registration registration, ReferenceData data, SmkiCertificates reader) {
        if (exempt(variant, s.role())) return ACCEPT;
        if (s.role() != null && !SUPPLIERS.contains(s.role())) return ACCEPT;
        if (s.deviceType() != null && !TARGETS.get(variant).contains(s.deviceType())) return ACCEPT;
        String[] codes = CODES.get(variant);
        if (remotePartyRole == null) return reject(codes[0], "missing_remote_party_role", null, List.of());
        if (!remotePartyRole.equals("NetworkOperator")) return ACCEPT;
        if (s.role() == null) return reject(codes[2], "unknown_originator", null, List.of());
        if (s.fault() != null) return reject(codes[2], s.fault(), null, List.of());
        if (fuelFault(s, registration)) return reject(codes[2], "fuel_mismatch", null, List.of());

        String registered = registration == null ? null : registration.networkOperatorId();
        List<Checked> checked = new ArrayList<>();
        for (Cert c : certs) checked.add(check(c.der(), at, cpvChecks, data, reader));
        if (checked.isEmpty()) return reject(codes[0], "malformed_certificate", registered, checked);
        var worst = checked.stream().filter(c -> c.fault() != null)
            .min(Comparator.comparingInt((Checked c) -> SEVERITY.indexOf(c.fault())).thenComparing(Checked::entity));
        if (worst.isPresent()) return reject(codes[0], worst.get().fault(), registered, checked);
        if (registered == null) return reject(codes[1], s.mpxn() == null ? "no_mpxn" : "no_registration", null, checked);
        boolean foreign = checked.stream().anyMatch(c -> !c.party().equals(registered));
        if (!foreign) return ACCEPT;
        String reason = data.hasCredentials(registered, at) ? "foreign_network_operator" : "registered_network_operator_has_no_credentials";
        return reject(codes[0], reason, registered, checked);
    }

    private static boolean fuelFault(Subject s, ReferenceData.Registration registration) {
        if (s.mpxn() == null || s.deviceType() == null) return false;
        String expected = fuelOfDevice(s.deviceType());
        return !expected.equals(fuelOf(s.mpxn())) || (registration != null && !expected.equals(registration.fuel()));
    }

    private static Checked check(byte[] der, long at, boolean cpvChecks, ReferenceData data, SmkiCertificates reader) {
        SmkiCertificates.Read cert = reader.read(der);
        if (cert.fault() != null) return new Checked(cert.entityId(), "", cert.fault());
        if (cpvChecks && !(cert.notBefore() <= at && at <= cert.notAfter()))
            return new Checked(cert.entityId(), "", "certificate_not_valid_at_sr_time");
        List<ReferenceData.Party> holders = data.holders(cert.entityId(), at);
        String party = holders.size() == 1 ? holders.get(0).partyId() : "";
        if (!cert.networkOperator()) return new Checked(cert.entityId(), party, "not_network_operator_certificate");
        if (holders.size() > 1) return new Checked(cert.entityId(), "", "ambiguous_certificate_owner");
        if (holders.isEmpty()) return new Checked(cert.entityId(), "", "unknown_entity");
        return new Checked(cert.entityId(), party, null);
    }

    private static Decision reject(String code, String reason, String registered, List<Checked> checked) {
        return new Decision(code, reason, registered, checked.stream().map(Checked::entity).toList(),
            checked.stream().map(Checked::party).toList());
    }
}
