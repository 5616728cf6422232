"""M03 GetInstalledCertificateIds, M04 DeleteCertificate, M05 InstallCertificate: the rules, in process.

Hash data (checked against the ``openssl ocsp`` CLI), the reasons a certificate is refused, the
store's limits, AdditionalRootCertificateCheck and the schema limits, driven through
:meth:`ocpp_station.app.Station.handle` (every answer checked with :func:`tests.support.check_response`).
Most tests share the module's station and keep to certificates of their own (each made with a fresh
key), comparing with what they listed before; the tests of an empty store and of a ``[security]``
setting make stations of their own. The same requests over mosquitto, one or two cases per
requirement, with the durability and the ``certs`` commands, are in tests/integration/test_certificates.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ocpp_station.app import Station
from ocpp_station.config import Config, Security

from ..certificate_cases import (
    INVALID,
    OPENSSL,
    V16,
    V21,
    V201,
    WHY,
    assert_rejected,
    delete,
    ec_key,
    get_variable,
    hash_data,
    install,
    installed,
    listed,
    listed_16,
    make_cert,
    openssl_hash_data,
    pem,
    root,
    rsa_key,
)
from ..seed_vectors import SEED_HASH_DATA, SEED_PEM
from ..support import InProcessOem


@pytest.fixture
def oem(module_oem: InProcessOem) -> InProcessOem:
    return module_oem


@pytest.mark.parametrize("version", [V201, V21])
def test_M05_M03_M04_seed_install_list_delete_2x(oem: InProcessOem, version: str) -> None:
    assert install(oem, SEED_PEM, "CSMSRootCertificate", version) == {"status": "Accepted"}
    answer = installed(oem, ["CSMSRootCertificate"], version)
    assert answer["status"] == "Accepted"
    seed = [c for c in answer["certificateHashDataChain"] if c["certificateHashData"]["serialNumber"] == "4"]
    assert seed == [{"certificateType": "CSMSRootCertificate", "certificateHashData": SEED_HASH_DATA}]
    assert delete(oem, SEED_HASH_DATA, version)["status"] == "Accepted"
    assert ("CSMSRootCertificate", SEED_HASH_DATA) not in listed(oem, ["CSMSRootCertificate"], version)
    assert delete(oem, SEED_HASH_DATA, version)["status"] == "NotFound"


def test_M05_M03_M04_seed_install_list_delete_16(oem: InProcessOem) -> None:
    answer = oem.result("InstallCertificate", {"certificateType": "CentralSystemRootCertificate",
                                               "certificate": SEED_PEM}, V16)
    assert answer == {"status": "Accepted"}
    assert SEED_HASH_DATA in listed_16(oem)
    # The 1.6 CentralSystemRootCertificate is the 2.x CSMSRootCertificate store.
    assert ("CSMSRootCertificate", SEED_HASH_DATA) in listed(oem, ["CSMSRootCertificate"])
    assert delete(oem, SEED_HASH_DATA, V16) == {"status": "Accepted"}
    assert SEED_HASH_DATA not in listed_16(oem)
    assert delete(oem, SEED_HASH_DATA, V16) == {"status": "NotFound"}


def test_M03_FR_02_seed_gone_is_not_found(local_oem: InProcessOem) -> None:
    """With only the seed root installed as ManufacturerRoot and then deleted, the type answers NotFound.

    On a station of its own: no other test's ManufacturerRoot can be there."""
    oem = local_oem
    assert install(oem, SEED_PEM, "ManufacturerRootCertificate") == {"status": "Accepted"}
    assert listed_16(oem, "ManufacturerRootCertificate") == [SEED_HASH_DATA]
    assert delete(oem, SEED_HASH_DATA)["status"] == "Accepted"
    assert installed(oem, ["ManufacturerRootCertificate"]) == {"status": "NotFound"}
    assert oem.result("GetInstalledCertificateIds", {"certificateType": "ManufacturerRootCertificate"}, V16) == {
        "status": "NotFound"}


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not available")
@pytest.mark.parametrize("algorithm", ["SHA256", "SHA384", "SHA512"])
@pytest.mark.parametrize("kind", ["ec", "rsa"])
def test_M03_FR_04_M04_FR_02_hash_data_matches_openssl_and_deletes(
        oem: InProcessOem, tmp_path: Path, kind: str, algorithm: str) -> None:
    key = ec_key() if kind == "ec" else rsa_key(2048, n=["SHA256", "SHA384", "SHA512"].index(algorithm))
    cert = root(f"{kind} root {algorithm}", key)
    assert install(oem, cert, "V2GRootCertificate") == {"status": "Accepted"}

    expected = openssl_hash_data(tmp_path, cert)
    assert ("V2GRootCertificate", expected) in listed(oem, ["V2GRootCertificate"])  # SHA256, lower case

    by_openssl = openssl_hash_data(tmp_path, cert, algorithm=algorithm)
    # A hash of another algorithm than the one named never matches.
    other = "SHA512" if algorithm != "SHA512" else "SHA384"
    assert delete(oem, {**by_openssl, "hashAlgorithm": other})["status"] == "NotFound"
    # Upper-case hex and leading zeros in the serial name the same certificate.
    shouted = {**by_openssl, "issuerNameHash": by_openssl["issuerNameHash"].upper(),
               "issuerKeyHash": by_openssl["issuerKeyHash"].upper(),
               "serialNumber": "00" + by_openssl["serialNumber"].upper()}
    assert delete(oem, shouted)["status"] == "Accepted"
    assert ("V2GRootCertificate", expected) not in listed(oem, ["V2GRootCertificate"])
    assert delete(oem, by_openssl)["status"] == "NotFound"


@pytest.mark.parametrize(("serial", "reported"), [(0xFF, "ff"), (0x80, "80"), ((1 << 158) + 5, "4" + "0" * 38 + "5")])
def test_M03_FR_04_serial_is_reported_without_leading_zeros(oem: InProcessOem, serial: int,
                                                            reported: str) -> None:
    """0xFF and 0x80 are encoded with a leading 00 octet in DER; a 159-bit serial takes all 40 characters."""
    cert = root(f"serial {serial:x}", serial=serial)
    assert install(oem, cert, "V2GRootCertificate") == {"status": "Accepted"}
    assert ("V2GRootCertificate", {**hash_data(cert), "serialNumber": reported}) in listed(oem, ["V2GRootCertificate"])
    padded = reported.rjust(40, "0")  # leading zeros up to the 40 characters the schema allows
    assert delete(oem, {**hash_data(cert), "serialNumber": padded})["status"] == "Accepted"


def test_M05_pem_with_crlf_line_ends_is_accepted(oem: InProcessOem) -> None:
    cert = root("CRLF")
    assert install(oem, pem(cert).replace("\n", "\r\n")) == {"status": "Accepted"}
    assert delete(oem, hash_data(cert))["status"] == "Accepted"


@pytest.mark.parametrize("version", [V201, V21, V16])
@pytest.mark.parametrize("case", list(INVALID))
def test_M05_FR_07_invalid_certificate_is_rejected_and_not_installed(
        oem: InProcessOem, station_log: Callable[[], str], case: str, version: str) -> None:
    text = INVALID[case]()
    use = "CentralSystemRootCertificate" if version == V16 else "CSMSRootCertificate"
    before = listed(oem, ["CSMSRootCertificate"])
    entries_before = get_variable(oem, "SecurityCtrlr", "CertificateEntries")
    answer = install(oem, text, use, version)
    assert_rejected(answer, version)
    if version != V16:
        assert WHY[case] in answer["statusInfo"]["additionalInfo"].lower(), answer
    assert listed(oem, ["CSMSRootCertificate"]) == before
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == entries_before
    if "PRIVATE KEY" in text:  # the answer never echoes what it was given
        body = text.splitlines()[1]
        assert body not in station_log()


@pytest.mark.parametrize("version", [V201, V21])
def test_M05_FR_17_reinstall_identical_is_accepted_once(oem: InProcessOem,
                                                        version: str) -> None:
    cert = root(f"reinstalled {version}")
    entries = int(get_variable(oem, "SecurityCtrlr", "CertificateEntries"))
    for _ in range(3):
        assert install(oem, cert, "MORootCertificate", version) == {"status": "Accepted"}
    assert listed(oem, ["MORootCertificate"], version).count(("MORootCertificate", hash_data(cert))) == 1
    assert int(get_variable(oem, "SecurityCtrlr", "CertificateEntries")) == entries + 1
    assert delete(oem, hash_data(cert), version)["status"] == "Accepted"


def test_M05_same_certificate_under_two_types_is_listed_under_both(oem: InProcessOem) -> None:
    cert = root("two uses")
    assert install(oem, cert, "CSMSRootCertificate") == {"status": "Accepted"}
    assert install(oem, cert, "ManufacturerRootCertificate") == {"status": "Accepted"}
    found = listed(oem, ["CSMSRootCertificate", "ManufacturerRootCertificate"])
    assert ("CSMSRootCertificate", hash_data(cert)) in found
    assert ("ManufacturerRootCertificate", hash_data(cert)) in found
    assert hash_data(cert) in listed_16(oem, "ManufacturerRootCertificate")
    assert hash_data(cert) in listed_16(oem, "CentralSystemRootCertificate")
    # M04.FR.02: DeleteCertificate deletes what the hash data names, i.e. both.
    assert delete(oem, hash_data(cert))["status"] == "Accepted"
    found = listed(oem, ["CSMSRootCertificate", "ManufacturerRootCertificate"])
    assert all(data != hash_data(cert) for _use, data in found)


def test_M03_FR_03_omitted_type_lists_all_types_and_a_list_filters(oem: InProcessOem) -> None:
    certs = {use: root(f"filter {use}") for use in ("V2GRootCertificate", "MORootCertificate", "CSMSRootCertificate",
                                                    "ManufacturerRootCertificate", "OEMRootCertificate")}
    for use, cert in certs.items():
        assert install(oem, cert, use, V21) == {"status": "Accepted"}
    try:
        everything_21 = listed(oem, None, V21)
        for use, cert in certs.items():
            assert (use, hash_data(cert)) in everything_21
        everything_201 = listed(oem, None, V201)
        for use, cert in certs.items():
            if use != "OEMRootCertificate":
                assert (use, hash_data(cert)) in everything_201
        # 2.0.1 has no OEMRootCertificate: a 2.0.1 request without filter never reports one.
        assert all(use != "OEMRootCertificate" for use, _ in everything_201)

        some = listed(oem, ["MORootCertificate", "OEMRootCertificate"], V21)
        assert {use for use, _ in some} == {"MORootCertificate", "OEMRootCertificate"}
        assert ("MORootCertificate", hash_data(certs["MORootCertificate"])) in some
        assert ("OEMRootCertificate", hash_data(certs["OEMRootCertificate"])) in some
        assert {use for use, _ in listed(oem, ["CSMSRootCertificate"])} == {"CSMSRootCertificate"}
    finally:
        for cert in certs.values():
            assert delete(oem, hash_data(cert), V21)["status"] == "Accepted"


def test_M03_a_type_asked_for_twice_is_reported_once(oem: InProcessOem) -> None:
    cert = root("asked twice")
    assert install(oem, cert, "MORootCertificate") == {"status": "Accepted"}
    try:
        assert listed(oem, ["MORootCertificate", "MORootCertificate"]).count(
            ("MORootCertificate", hash_data(cert))) == 1
    finally:
        assert delete(oem, hash_data(cert))["status"] == "Accepted"


@pytest.mark.parametrize("version", [V201, V21])
def test_M03_FR_02_type_with_nothing_installed_is_not_found_without_list(local_oem: InProcessOem,
                                                                         version: str) -> None:
    """On a station of its own: no other test's MO root can be there."""
    oem = local_oem
    assert installed(oem, ["MORootCertificate", "V2GCertificateChain"], version) == {"status": "NotFound"}


@pytest.mark.parametrize(("version", "limit"), [(V201, 5500), (V21, 10000), (V16, 5500)])
def test_M05_certificate_longer_than_the_schema_allows_is_a_property_constraint_violation(
        oem: InProcessOem, version: str, limit: int) -> None:
    use = "CentralSystemRootCertificate" if version == V16 else "CSMSRootCertificate"
    head, tail = "-----BEGIN CERTIFICATE-----\n", "\n-----END CERTIFICATE-----\n"

    def certificate(length: int) -> str:
        return head + "A" * (length - len(head) - len(tail)) + tail

    error = oem.error("InstallCertificate", {"certificateType": use, "certificate": certificate(limit + 1)}, version)
    assert error["error_code"] == "PropertyConstraintViolation", error
    # Exactly at the limit the request is valid: the (garbage) certificate is then Rejected, not an error.
    assert_rejected(install(oem, certificate(limit), use, version), version)


def test_M05_FR_06_store_full_is_rejected_out_of_storage(make_station: Callable[..., Station]) -> None:
    oem = InProcessOem(make_station(Config(security=Security(certificate_entries_max=2))))
    first, second, third = root("first"), root("second"), root("third")
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == "0"
    assert install(oem, first) == {"status": "Accepted"}
    assert install(oem, second, "V2GRootCertificate") == {"status": "Accepted"}
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == "2"

    assert_rejected(install(oem, third), V201, "OutOfStorage")
    assert_rejected(install(oem, third, "MORootCertificate", V21), V21, "OutOfStorage")
    assert_rejected(install(oem, pem(third), "CentralSystemRootCertificate", V16), V16)
    assert all(data != hash_data(third) for _use, data in listed(oem))
    # Installing one of the installed again is no new entry (M05.FR.17).
    assert install(oem, first) == {"status": "Accepted"}
    assert install(oem, second, "V2GRootCertificate", V21) == {"status": "Accepted"}
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == "2"
    assert len(listed(oem)) == 2

    # Room again after a delete.
    assert delete(oem, hash_data(second))["status"] == "Accepted"
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == "1"
    assert install(oem, third) == {"status": "Accepted"}
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == "2"
    assert sorted(data["serialNumber"] for _use, data in listed(oem)) == sorted(
        hash_data(c)["serialNumber"] for c in (first, third))


def test_M05_FR_09_to_12_additional_root_certificate_check(make_station: Callable[..., Station]) -> None:
    oem = InProcessOem(make_station(Config(security=Security(additional_root_certificate_check=True))))
    assert get_variable(oem, "SecurityCtrlr", "AdditionalRootCertificateCheck") == "true"
    old_key = ec_key()
    old = root("CSMS root 2025", old_key)
    assert install(oem, old) == {"status": "Accepted"}
    assert listed(oem, ["CSMSRootCertificate"]) == [("CSMSRootCertificate", hash_data(old))]

    # M05.FR.11: a root the installed one did not sign is refused, and not installed.
    assert_rejected(install(oem, root("unrelated root")), V201)
    assert listed(oem, ["CSMSRootCertificate"]) == [("CSMSRootCertificate", hash_data(old))]

    # M05.FR.12: the new root, signed by the old one, is installed and the old one kept as the fallback.
    new = make_cert(ec_key(), "CSMS root 2026", issuer=old, issuer_key=old_key)
    assert install(oem, new) == {"status": "Accepted"}
    found = listed(oem, ["CSMSRootCertificate"])
    assert len(found) == 2
    assert ("CSMSRootCertificate", hash_data(old)) in found
    assert ("CSMSRootCertificate", hash_data(new, issuer=old)) in found
    assert len(listed_16(oem)) == 2
    assert get_variable(oem, "SecurityCtrlr", "CertificateEntries") == "2"
    # Other root types are not subject to the check.
    assert install(oem, root("manufacturer"), "ManufacturerRootCertificate") == {"status": "Accepted"}


def test_M05_FR_17_reinstalling_the_current_cross_signed_root_is_accepted(
        make_station: Callable[..., Station]) -> None:
    oem = InProcessOem(make_station(Config(security=Security(additional_root_certificate_check=True))))
    old_key = ec_key()
    old = root("CSMS root A", old_key)
    new = make_cert(ec_key(), "CSMS root B", issuer=old, issuer_key=old_key)
    assert install(oem, old) == {"status": "Accepted"}
    assert install(oem, new) == {"status": "Accepted"}
    assert install(oem, new) == {"status": "Accepted"}  # the same certificate again: nothing changes
    found = listed(oem, ["CSMSRootCertificate"])
    assert sorted(found, key=str) == sorted([("CSMSRootCertificate", hash_data(old)),
                                             ("CSMSRootCertificate", hash_data(new, issuer=old))], key=str)


def test_M05_FR_06_a_root_replacement_does_not_overfill_the_store(make_station: Callable[..., Station]) -> None:
    oem = InProcessOem(make_station(Config(security=Security(additional_root_certificate_check=True,
                                                             certificate_entries_max=2))))
    old_key = ec_key()
    old = root("CSMS root A", old_key)
    assert install(oem, old) == {"status": "Accepted"}
    assert install(oem, root("manufacturer"), "ManufacturerRootCertificate") == {"status": "Accepted"}
    answer = install(oem, make_cert(ec_key(), "CSMS root B", issuer=old, issuer_key=old_key))
    if answer["status"] == "Rejected":
        assert answer["statusInfo"]["reasonCode"] == "OutOfStorage", answer
    assert int(get_variable(oem, "SecurityCtrlr", "CertificateEntries")) <= 2
    assert len(listed(oem)) <= 2
