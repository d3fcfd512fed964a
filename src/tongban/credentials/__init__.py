"""Electronic certificates (电子证照): verifiable credentials, compact QR form, status lists, trust lists.

The modules in this package are pure Python (no Django, no database) so that the Django layer and
the offline verifier (``tongban credential verify FILE --trust TRUSTLIST``) share one implementation:

* ``keys``       issuer keys (Ed25519 by default; SM2 with SM3 as a private national-crypto profile),
                 JWK import/export and the JOSE algorithm registry; ``CredentialError`` (a package).
* ``vc``         W3C VC Data Model 2.0 credentials secured as VC-JOSE (``application/vc+jwt``).
* ``qr``         the compact QR text ``TB1:`` (CBOR claims, COSE_Sign1, zlib, base45) and QR images.
* ``statuslist`` W3C Bitstring Status List v1.0 (revocation and suspension).
* ``trustlist``  signed trust lists of a region's issuers (and status origins), pinned root keys.
* ``truststore`` the ``TrustStore`` of the local and imported regions' lists.
* ``verify``     ``verify_credential``: every check reported separately, with Chinese and English reasons.
* ``fetch``      another region's status list credential over HTTP(S), bounded in time and size.

The Django side: ``models``, ``services`` (a package of use cases), ``api``, ``views``, ``demo`` and
the ``credential`` management command; ``issuer_keys`` keeps the node's keys in the keystore.
"""
