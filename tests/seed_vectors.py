"""The seed document's certificate test vector, shared by the tests that use it.

The seed's InstallCertificate example (OCTT Root CA 2: EC P-256, serial 4, valid 2024-05-30 to
2064-05-20; a public OCTT test certificate) and the hash data of the seed's DeleteCertificate
example, which names that very certificate.
"""

SEED_PEM = (
    "-----BEGIN CERTIFICATE-----\nMIIB6TCCAY+gAwIBAgIBBDAKBggqhkjOPQQDAjBbMRcwFQYDVQQDDA5PQ1RUIFJv\n"
    "b3QgQ0EgMjEdMBsGA1UECgwUT3BlbiBDaGFyZ2UgQWxsaWFuY2UxCzAJBgNVBAYT\n"
    "Ak5MMRQwEgYKCZImiZPyLGQBGRYET0NUVDAgFw0yNDA1MzAxMzE3MjBaGA8yMDY0\n"
    "MDUyMDEzMTcyMFowWzEXMBUGA1UEAwwOT0NUVCBSb290IENBIDIxHTAbBgNVBAoM\n"
    "FE9wZW4gQ2hhcmdlIEFsbGlhbmNlMQswCQYDVQQGEwJOTDEUMBIGCgmSJomT8ixk\n"
    "ARkWBE9DVFQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATuV4ikq+qqgURL2m4g\n"
    "cWRNHvUffxvZQVf2W66PIMAcIUShWQBGxeoTh4dA50lppIZ9VnCGqqUPuzp9o76K\n"
    "Zh0jo0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4E\n"
    "FgQUofbdHSg6eZ0gV58pJ9cGYcj9AgEwCgYIKoZIzj0EAwIDSAAwRQIgMxFfJo32\n"
    "XJMda8wNqIa5InptZd1uqBT6RUgItUBEi7QCIQDZywzquLFUV2xWPzm4vV2jWUlZ\n"
    "yS1DpSC11DclzOkvUw==\n-----END CERTIFICATE-----\n"
)
SEED_HASH_DATA = {
    "hashAlgorithm": "SHA256",
    "issuerKeyHash": "6fb6606900c9143982873363e815ae67163667c5792cd919afd37783bbff3095",
    "issuerNameHash": "d1c53ae0a9d11dda803bf38fc580dc9869ffb234b561fa624a20e618ce4bb656",
    "serialNumber": "4",
}
