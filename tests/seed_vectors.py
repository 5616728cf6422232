# ruff: noqa: E501
"""The seed document's test vectors, shared by the tests that use them.

The seed's InstallCertificate example (OCTT Root CA 2: EC P-256, serial 4, valid 2024-05-30 to
2064-05-20; a public OCTT test certificate) and the hash data of the seed's DeleteCertificate
example, which names that very certificate; and the seed's seven request examples as the document
prints them.
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

SEED_ID = "2b0aa109-21a1-4f2f-bdbd-6cdf139e7bb1"
"""The one id all the seed's examples share."""

# The seed's seven OcppMessageRequest examples, each the exact JSON text of the document (indentation
# included, from "{" to "}": the "message = " before them is Python in the document, not the message), in
# the document's order: the GetVariables example under "OcppMessageRequest", then the six under
# "OcppMessageRequest message examples". An OEM who pastes them into a client sends these very bytes.
# (Kept verbatim, long lines included: hence the noqa at the top of the file.)
SEED_REQUEST_EXAMPLES: list[tuple[str, str]] = [
    ("GetVariables(TxStartPoint)", r"""{
    "id": "2b0aa109-21a1-4f2f-bdbd-6cdf139e7bb1",
    "name": "ocpp_message",
    "type": "request",
    "data": {
       "ocpp_version": "ocpp2.0.1",
        "message_name": "GetVariables",
        "payload": {
            "getVariableData": [
                {"component": {"name": "TxCtrlr"}, "variable": {"name": "TxStartPoint"}}
            ]
        }
    }
}"""),
    ("GetVariables(multiple)", r"""{
  "id":"2b0aa109-21a1-4f2f-bdbd-6cdf139e7bb1",
  "name":"ocpp_message",
  "type":"request",
  "data":{
    "ocpp_version":"ocpp2.0.1",
    "message_name":"GetVariables",
    "payload":{
      "getVariableData":[
        {
          "attributeType":"Actual",
          "component":{
            "name":"OCPPCommCtrlr"
          },
          "variable":{
            "name":"OfflineThreshold"
          }
        },
        {
          "attributeType":"Actual",
          "component":{
            "name":"AuthCtrlr"
          },
          "variable":{
            "name":"LocalAuthorizeOffline"
          }
        }
      ]
    }
  }
}"""),
    ("GetInstalledCertificateIds", r"""{
  "id":"2b0aa109-21a1-4f2f-bdbd-6cdf139e7bb1",
  "name":"ocpp_message",
  "type":"request",
  "data":{
    "ocpp_version":"ocpp2.0.1",
    "message_name":"GetInstalledCertificateIds",
    "payload":{
      "certificateType": [
      "CSMSRootCertificate"
      ]
    }
  }
}"""),
    ("SetVariables", r"""{
  "id": "2b0aa109-21a1-4f2f-bdbd-6cdf139e7bb1",
  "name": "ocpp_message",
  "type": "request",
  "data": {
    "ocpp_version": "ocpp2.0.1",
    "message_name": "SetVariables",
    "payload": {
      "setVariableData": [
        {
          "attributeType": "Actual",
          "attributeValue": "300",
          "component": {
            "name": "OCPPCommCtrlr"
          },
          "variable": {
            "name": "OfflineThreshold"
          }
        },
        {
          "attributeType": "Actual",
          "attributeValue": "true",
          "component": {
            "name": "AuthCtrlr"
          },
          "variable": {
            "name": "LocalAuthorizeOffline"
          }
        }
      ]
    }
  }
}"""),
    ("InstallCertificate", r"""{
  "id": "2b0aa109-21a1-4f2f-bdbd-6cdf139e7bb1",
  "name": "ocpp_message",
  "type": "request",
  "data": {
    "ocpp_version": "ocpp2.0.1",
    "message_name": "InstallCertificate",
    "payload": {
      "certificate": "-----BEGIN CERTIFICATE-----\nMIIB6TCCAY+gAwIBAgIBBDAKBggqhkjOPQQDAjBbMRcwFQYDVQQDDA5PQ1RUIFJv\nb3QgQ0EgMjEdMBsGA1UECgwUT3BlbiBDaGFyZ2UgQWxsaWFuY2UxCzAJBgNVBAYT\nAk5MMRQwEgYKCZImiZPyLGQBGRYET0NUVDAgFw0yNDA1MzAxMzE3MjBaGA8yMDY0\nMDUyMDEzMTcyMFowWzEXMBUGA1UEAwwOT0NUVCBSb290IENBIDIxHTAbBgNVBAoM\nFE9wZW4gQ2hhcmdlIEFsbGlhbmNlMQswCQYDVQQGEwJOTDEUMBIGCgmSJomT8ixk\nARkWBE9DVFQwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATuV4ikq+qqgURL2m4g\ncWRNHvUffxvZQVf2W66PIMAcIUShWQBGxeoTh4dA50lppIZ9VnCGqqUPuzp9o76K\nZh0jo0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4E\nFgQUofbdHSg6eZ0gV58pJ9cGYcj9AgEwCgYIKoZIzj0EAwIDSAAwRQIgMxFfJo32\nXJMda8wNqIa5InptZd1uqBT6RUgItUBEi7QCIQDZywzquLFUV2xWPzm4vV2jWUlZ\nyS1DpSC11DclzOkvUw==\n-----END CERTIFICATE-----\n",
      "certificateType": "CSMSRootCertificate"
    }
  }
}"""),
    ("DeleteCertificate", r"""{
  "id": "2b0aa109-21a1-4f2f-bdbd-6cdf139e7bb1",
  "name": "ocpp_message",
  "type": "request",
  "data": {
    "ocpp_version": "ocpp2.0.1",
    "message_name": "DeleteCertificate",
    "payload": {
      "certificateHashData": {
        "hashAlgorithm": "SHA256",
        "issuerKeyHash": "6fb6606900c9143982873363e815ae67163667c5792cd919afd37783bbff3095",
        "issuerNameHash": "d1c53ae0a9d11dda803bf38fc580dc9869ffb234b561fa624a20e618ce4bb656",
        "serialNumber": "4"
      }
    }
  }
}"""),
    ("SetNetworkProfile", r"""{
  "id": "2b0aa109-21a1-4f2f-bdbd-6cdf139e7bb1",
  "name": "ocpp_message",
  "type": "request",
  "data": {
    "ocpp_version": "ocpp2.0.1",
    "message_name": "SetNetworkProfile",
    "payload": {
      "configurationSlot": 2,
      "connectionData": {
        "messageTimeout": 75,
        "ocppCsmsUrl": "wss://324595e6999a17ae.octt.openchargealliance.org:18603",
        "ocppInterface": "Wired0",
        "ocppTransport": "JSON",
        "ocppVersion": "OCPP20",
        "securityProfile": 2
      }
    }
  }
}"""),
]
