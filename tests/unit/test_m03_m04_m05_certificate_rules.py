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
    additional_root_certificate_check,
    certificate_longer_than_the_schema_allows_is_a_property_constraint_violation,
    delete,
    ec_key,
    get_variable,
    hash_data,
    hash_data_matches_openssl_and_deletes,
    install,
    installed,
    invalid_certificate_is_rejected_and_not_installed,
    listed,
    listed_16,
    make_cert,
    omitted_type_lists_all_types_and_a_list_filters,
    pem,
    reinstall_identical_is_accepted_once,
    root,
    seed_install_list_delete_2x,
    seed_install_list_delete_16,
    serial_is_reported_without_leading_zeros,
    store_full_is_rejected_out_of_storage,
)
from ..seed_vectors import SEED_HASH_DATA, SEED_PEM
from ..support import InProcessOem


@pytest.fixture
def oem(module_oem: InProcessOem) -> InProcessOem:
    return module_oem


@pytest.mark.parametrize("version", [V201, V21])
def test_M05_M03_M04_seed_install_list_delete_2x(oem: InProcessOem, version: str) -> None:
    seed_install_list_delete_2x(oem, version)


def test_M05_M03_M04_seed_install_list_delete_16(oem: InProcessOem) -> None:
    seed_install_list_delete_16(oem)


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
    hash_data_matches_openssl_and_deletes(oem, tmp_path, kind, algorithm)


@pytest.mark.parametrize(("serial", "reported"), [(0xFF, "ff"), (0x80, "80"), ((1 << 158) + 5, "4" + "0" * 38 + "5")])
def test_M03_FR_04_serial_is_reported_without_leading_zeros(oem: InProcessOem, serial: int,
                                                            reported: str) -> None:
    """0xFF and 0x80 are encoded with a leading 00 octet in DER; a 159-bit serial takes all 40 characters."""
    serial_is_reported_without_leading_zeros(oem, serial, reported)


def test_M05_pem_with_crlf_line_ends_is_accepted(oem: InProcessOem) -> None:
    cert = root("CRLF")
    assert install(oem, pem(cert).replace("\n", "\r\n")) == {"status": "Accepted"}
    assert delete(oem, hash_data(cert))["status"] == "Accepted"


@pytest.mark.parametrize("version", [V201, V21, V16])
@pytest.mark.parametrize("case", list(INVALID))
def test_M05_FR_07_invalid_certificate_is_rejected_and_not_installed(
        oem: InProcessOem, station_log: Callable[[], str], case: str, version: str) -> None:
    invalid_certificate_is_rejected_and_not_installed(oem, station_log, case, version)


@pytest.mark.parametrize("version", [V201, V21])
def test_M05_FR_17_reinstall_identical_is_accepted_once(oem: InProcessOem,
                                                        version: str) -> None:
    reinstall_identical_is_accepted_once(oem, version)


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
    omitted_type_lists_all_types_and_a_list_filters(oem)


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
    certificate_longer_than_the_schema_allows_is_a_property_constraint_violation(oem, version, limit)


def test_M05_FR_06_store_full_is_rejected_out_of_storage(make_station: Callable[..., Station]) -> None:
    oem = InProcessOem(make_station(Config(security=Security(certificate_entries_max=2))))
    store_full_is_rejected_out_of_storage(oem)


def test_M05_FR_09_to_12_additional_root_certificate_check(make_station: Callable[..., Station]) -> None:
    oem = InProcessOem(make_station(Config(security=Security(additional_root_certificate_check=True))))
    additional_root_certificate_check(oem)


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
