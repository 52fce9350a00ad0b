"""Signed, tamper-evident evidence: an append-only log in the catalog whose records form an
RFC 6962 Merkle tree under signed checkpoints, exported as bundles an auditor verifies
offline.

    EvidenceLog(catalog, key_path).append(kind, fields) -> EvidenceRecord   (log.py)
    export(catalog, out_dir, key_path=..., since=..., until=..., from_checkpoint=...)
    verify(bundle_dir, public_key_pem_path) -> VerifyResult                  (bundle.py)
"""
