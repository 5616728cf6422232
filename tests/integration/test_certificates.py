"""M03 GetInstalledCertificateIds, M04 DeleteCertificate, M05 InstallCertificate against a running station.

The wiring: one or two cases of each requirement over mosquitto, the durability of installed roots
(kill -9, the PEM bundles derived from the database), ``[security]`` read from station.toml, and
the ``certs`` commands. Every case of the rules (every refusal reason, key kind, hash algorithm,
serial, schema limit, the AdditionalRootCertificateCheck sequences) runs in process, in
tests/unit/test_m03_m04_m05_certificate_rules.py, under the same names.

Certificates are made here with ``cryptography``; the hash data the station reports is checked against an
independent computation by the ``openssl ocsp`` CLI (RFC 6960 CertID). Most tests share the module's station
and keep to certificates of their own (each made with a fresh key), so they do not depend on one another;
the stations with a special ``[security]`` configuration run on brokers of their own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

from ..certificate_cases import (
    OPENSSL,
    V16,
    V21,
    V201,
    additional_root_certificate_check,
    certificate_longer_than_the_schema_allows_is_a_property_constraint_violation,
    delete,
    ec_key,
    fingerprint,
    hash_data,
    hash_data_matches_openssl_and_deletes,
    install,
    installed,
    invalid_certificate_is_rejected_and_not_installed,
    key_pem,
    listed,
    make_cert,
    omitted_type_lists_all_types_and_a_list_filters,
    openssl_hash_data,
    pem,
    reinstall_identical_is_accepted_once,
    root,
    rsa_key,
    seed_install_list_delete_2x,
    seed_install_list_delete_16,
    serial_is_reported_without_leading_zeros,
    store_full_is_rejected_out_of_storage,
)
from ..support import Mosquitto, OemClient, StationProcess

# --------------------------------------------------------------------------------------------------------------
# Certificate factories
# --------------------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------------------
# Hash data computed independently, by the openssl CLI
# --------------------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------------------------


def ocpp_station(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocpp_station", *args], capture_output=True, text=True, timeout=30)


def configured_station(broker: Mosquitto, tmp_path: Path, security: str) -> StationProcess:
    config = tmp_path / "station.toml"
    config.write_text(f"[security]\n{security}\n")
    return StationProcess(broker.url, tmp_path / "data", ["--config", str(config)]).start()


# --------------------------------------------------------------------------------------------------------------
# 1. The seed vectors (M05 → M03 → M04), in every version
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [V201, V21])
def test_M05_M03_M04_seed_install_list_delete_2x(station: StationProcess, oem: OemClient, version: str) -> None:
    seed_install_list_delete_2x(oem, version)


def test_M05_M03_M04_seed_install_list_delete_16(station: StationProcess, oem: OemClient) -> None:
    seed_install_list_delete_16(oem)


# --------------------------------------------------------------------------------------------------------------
# 2. Hash data against openssl; deletion by every algorithm, case-insensitive, leading zeros tolerated
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not available")
@pytest.mark.parametrize(("kind", "algorithm"), [("ec", "SHA384")])  # every key kind and algorithm in process
def test_M03_FR_04_M04_FR_02_hash_data_matches_openssl_and_deletes(
        station: StationProcess, oem: OemClient, tmp_path: Path, kind: str, algorithm: str) -> None:
    hash_data_matches_openssl_and_deletes(oem, tmp_path, kind, algorithm)


@pytest.mark.parametrize(("serial", "reported"), [(0x80, "80")])  # and 0xFF, a 159-bit serial: in process
def test_M03_FR_04_serial_is_reported_without_leading_zeros(station: StationProcess, oem: OemClient, serial: int,
                                                            reported: str) -> None:
    """0xFF and 0x80 are encoded with a leading 00 octet in DER; a 159-bit serial takes all 40 characters."""
    serial_is_reported_without_leading_zeros(oem, serial, reported)


# --------------------------------------------------------------------------------------------------------------
# 3. M05.FR.07: invalid certificates are Rejected and not installed
# --------------------------------------------------------------------------------------------------------------


# A word of the additionalInfo (2.x) showing the certificate was refused for the reason the case is about.


@pytest.mark.parametrize(("case", "version"), [("expired", V21), ("private_key", V16)])  # all of them in process
def test_M05_FR_07_invalid_certificate_is_rejected_and_not_installed(
        station: StationProcess, oem: OemClient, case: str, version: str) -> None:
    invalid_certificate_is_rejected_and_not_installed(oem, station.log_text, case, version)


# --------------------------------------------------------------------------------------------------------------
# 5. M05.FR.17: installing again is idempotent; one certificate may serve several uses
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [V201])  # 2.1 in process
def test_M05_FR_17_reinstall_identical_is_accepted_once(station: StationProcess, oem: OemClient,
                                                        version: str) -> None:
    reinstall_identical_is_accepted_once(oem, version)


# --------------------------------------------------------------------------------------------------------------
# 6. M03 filtering
# --------------------------------------------------------------------------------------------------------------


def test_M03_FR_03_omitted_type_lists_all_types_and_a_list_filters(station: StationProcess, oem: OemClient) -> None:
    omitted_type_lists_all_types_and_a_list_filters(oem)


@pytest.mark.parametrize("version", [V201, V21])
def test_M03_FR_02_type_with_nothing_installed_is_not_found_without_list(station: StationProcess, oem: OemClient,
                                                                         version: str) -> None:
    """No test gives the module's station a V2G chain (only the station of the ``certs import`` test has one),
    whatever ran before; an MO root, which other tests install and delete, is asked for on a station of
    its own in process."""
    assert installed(oem, ["V2GCertificateChain"], version) == {"status": "NotFound"}


# --------------------------------------------------------------------------------------------------------------
# 10. Schema limits
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "limit"), [(V21, 10000)])  # 2.0.1 and 1.6 (5500) in process
def test_M05_certificate_longer_than_the_schema_allows_is_a_property_constraint_violation(
        station: StationProcess, oem: OemClient, version: str, limit: int) -> None:
    certificate_longer_than_the_schema_allows_is_a_property_constraint_violation(oem, version, limit)


# --------------------------------------------------------------------------------------------------------------
# 4. M05.FR.06: the store is full
# --------------------------------------------------------------------------------------------------------------


def test_M05_FR_06_store_full_is_rejected_out_of_storage(broker: Mosquitto, tmp_path: Path) -> None:
    station = configured_station(broker, tmp_path, "certificate_entries_max = 2")
    oem = OemClient(broker.port)
    try:
        store_full_is_rejected_out_of_storage(oem)
    finally:
        oem.close()
        station.terminate()


# --------------------------------------------------------------------------------------------------------------
# 8. M05.FR.09–12: AdditionalRootCertificateCheck
# --------------------------------------------------------------------------------------------------------------


def test_M05_FR_09_to_12_additional_root_certificate_check(broker: Mosquitto, tmp_path: Path) -> None:
    station = configured_station(broker, tmp_path, "additional_root_certificate_check = true")
    oem = OemClient(broker.port)
    try:
        additional_root_certificate_check(oem)
    finally:
        oem.close()
        station.terminate()


# --------------------------------------------------------------------------------------------------------------
# 9. Durability: the database is the truth, the PEM bundles derive from it
# --------------------------------------------------------------------------------------------------------------


def _bundle(data_dir: Path, use: str = "CSMSRootCertificate") -> set[bytes]:
    return {fingerprint(c) for c in x509.load_pem_x509_certificates((data_dir / "certs" / f"{use}.pem").read_bytes())}


def test_M05_FR_02_installed_roots_survive_kill_9_and_bundles_derive_from_the_database(
        broker: Mosquitto, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    station = StationProcess(broker.url, data_dir).start()
    oem = OemClient(broker.port)
    try:
        first, second = root("durable one"), root("durable two", rsa_key(2048, n=7))
        assert install(oem, first) == {"status": "Accepted"}
        assert install(oem, second) == {"status": "Accepted"}
        station.kill()  # right after the Accepted answer
        station.start()
        found = listed(oem, ["CSMSRootCertificate"])
        assert sorted(found, key=str) == sorted([("CSMSRootCertificate", hash_data(c)) for c in (first, second)],
                                                key=str)
        assert _bundle(data_dir) == {fingerprint(first), fingerprint(second)}

        # The bundle is rewritten from the database at start.
        assert station.terminate() == 0
        (data_dir / "certs" / "CSMSRootCertificate.pem").unlink()
        station.start()
        assert _bundle(data_dir) == {fingerprint(first), fingerprint(second)}

        # A delete rewrites it; deleting the last one removes it.
        assert delete(oem, hash_data(first))["status"] == "Accepted"
        assert _bundle(data_dir) == {fingerprint(second)}
        assert delete(oem, hash_data(second))["status"] == "Accepted"
        assert not (data_dir / "certs" / "CSMSRootCertificate.pem").exists()
        station.kill()
        station.start()
        assert installed(oem, ["CSMSRootCertificate"]) == {"status": "NotFound"}
    finally:
        oem.close()
        station.terminate()


# --------------------------------------------------------------------------------------------------------------
# 7. The station's own certificates (imported with the CLI): M03.FR.05, M04.FR.06
# --------------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(OPENSSL is None, reason="openssl CLI not available")
def test_M03_FR_05_M04_FR_06_own_certificates_imported_with_the_cli(broker: Mosquitto, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    station = StationProcess(broker.url, data_dir).start()
    oem = OemClient(broker.port)
    files = tmp_path / "files"
    files.mkdir()
    try:
        # ChargingStationCertificate: the leaf alone, signed by a CSMS root installed beforehand.
        csms_key = ec_key()
        csms_root = root("CSMS root for the client certificate", csms_key)
        assert install(oem, csms_root) == {"status": "Accepted"}
        cs_key = ec_key()
        cs_leaf = make_cert(cs_key, "CS0000000001", issuer=csms_root, issuer_key=csms_key, ca=False)
        (files / "cs.pem").write_text(pem(cs_leaf))
        (files / "cs.key").write_text(key_pem(cs_key))

        # V2GCertificateChain: leaf + 2 sub-CAs + the V2G root, all in the file.
        v2g_root_key, sub1_key, sub2_key, leaf_key = ec_key(), ec_key(), ec_key(), ec_key()
        v2g_root = root("V2G root", v2g_root_key)
        sub1 = make_cert(sub1_key, "V2G sub-CA 1", issuer=v2g_root, issuer_key=v2g_root_key)
        sub2 = make_cert(sub2_key, "V2G sub-CA 2", issuer=sub1, issuer_key=sub1_key)
        v2g_leaf = make_cert(leaf_key, "SECC", issuer=sub2, issuer_key=sub2_key, ca=False)
        (files / "v2g.pem").write_text("".join(pem(c) for c in (v2g_leaf, sub2, sub1, v2g_root)))
        (files / "v2g.key").write_text(key_pem(leaf_key))

        outputs = []
        for use, name in (("ChargingStationCertificate", "cs"), ("V2GCertificateChain", "v2g")):
            done = ocpp_station("certs", "import", "--type", use, str(files / f"{name}.pem"),
                                "--key", str(files / f"{name}.key"), "--data-dir", str(data_dir))
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout + done.stderr)

        # A key that does not belong to the certificate: exit status 1 and a clear message; nothing replaced.
        done = ocpp_station("certs", "import", "--type", "ChargingStationCertificate", str(files / "cs.pem"),
                            "--key", str(files / "v2g.key"), "--data-dir", str(data_dir))
        assert done.returncode == 1
        assert "private key does not belong" in done.stderr
        outputs.append(done.stdout + done.stderr)

        for use in ("ChargingStationCertificate", "V2GCertificateChain"):
            key_file = data_dir / "private" / f"{use}.key.pem"
            assert key_file.stat().st_mode & 0o777 == 0o600
            assert (data_dir / "certs" / f"{use}.pem").exists()
        assert (data_dir / "private" / "ChargingStationCertificate.key.pem").read_text() == key_pem(cs_key)

        done = ocpp_station("certs", "list", "--data-dir", str(data_dir))
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout + done.stderr)
        for text in ("ChargingStationCertificate", "V2GCertificateChain", "CSMSRootCertificate",
                     "'CS0000000001'", "'SECC'", "(+2 sub-CA)"):
            assert text in done.stdout

        # M03.FR.05: the V2G leaf with its sub-CAs as children, the root not part of the chain.
        leaf_data = openssl_hash_data(tmp_path, v2g_leaf, sub2)
        children = [openssl_hash_data(tmp_path, sub2, sub1), openssl_hash_data(tmp_path, sub1, v2g_root)]
        for version in (V201, V21):
            answer = installed(oem, ["V2GCertificateChain"], version)
            assert answer["status"] == "Accepted"
            [chain] = answer["certificateHashDataChain"]
            assert chain["certificateType"] == "V2GCertificateChain"
            assert chain["certificateHashData"] == leaf_data
            assert len(chain["childCertificateHashData"]) == 2
            assert sorted(chain["childCertificateHashData"], key=str) == sorted(children, key=str)
        everything = installed(oem)["certificateHashDataChain"]
        assert {c["certificateType"] for c in everything} == {"CSMSRootCertificate", "V2GCertificateChain"}
        assert [c for c in everything if c["certificateType"] == "CSMSRootCertificate"] == [
            {"certificateType": "CSMSRootCertificate", "certificateHashData": hash_data(csms_root)}]

        # M04.FR.06: the station's own certificates cannot be deleted.
        cs_data = openssl_hash_data(tmp_path, cs_leaf, csms_root)
        for version in (V201, V21, V16):
            assert delete(oem, cs_data, version)["status"] == "Failed"
            assert delete(oem, leaf_data, version)["status"] == "Failed"
            assert delete(oem, children[0], version)["status"] == "Failed"
        assert (data_dir / "private" / "ChargingStationCertificate.key.pem").exists()
        assert installed(oem, ["V2GCertificateChain"])["certificateHashDataChain"][0]["certificateHashData"] == \
            leaf_data
        # The CSMS root that issued the client certificate is still an ordinary root.
        assert delete(oem, hash_data(csms_root))["status"] == "Accepted"
        assert (data_dir / "certs" / "ChargingStationCertificate.pem").exists()

        # Private key material never shows in the CLI output or the station log.
        log = station.log_text()
        for key in (cs_key, leaf_key):
            for line in key_pem(key).splitlines()[1:-1]:
                assert line not in log
                assert all(line not in output for output in outputs)
        assert "PRIVATE KEY" not in log
    finally:
        oem.close()
        station.terminate()


def test_cli_certs_list_without_certificates(tmp_path: Path) -> None:
    done = ocpp_station("certs", "list", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    assert "no certificates installed" in done.stdout
