"""Builds the parts every command shares from the settings, once: serdes and the certificate reader."""

from __future__ import annotations

from processor.avro import PLAIN, RegistryAvro, Serde
from processor.config import Settings
from processor.domain.certificates import CertificateReader, TrustStore


def serde_from(settings: Settings) -> Serde:
    registry = settings.schema_registry_config()
    return RegistryAvro(registry) if registry else PLAIN


def certificate_reader(settings: Settings) -> CertificateReader:
    trust = TrustStore.from_pem_file(settings.trust_store) if settings.trust_store else None
    return CertificateReader(settings.certificate_cache_size, trust, settings.certificate_cache_bytes)
