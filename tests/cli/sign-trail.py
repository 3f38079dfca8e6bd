#!/usr/bin/python3
# Turns records without their chain members into a signed audit trail, as the writer
# lays it out (SPEC §5): id, seq and prevhash per chain, hash over the RFC 8785 form,
# Ed25519 signature by openssl. For tests that need records replay does not make.
#   sign-trail.py KEY.key KEY.pub < IN.jsonl > OUT.jsonl
import base64, hashlib, json, subprocess, sys, tempfile

key, pub = sys.argv[1], sys.argv[2]
der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pub, "-outform", "DER"],
                     check=True, capture_output=True).stdout
kid = hashlib.sha256(der).hexdigest()[:16]


def canon(o):  # RFC 8785 for what these records hold: ASCII keys, integers, strings
    return json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


heads = {}
for line in sys.stdin:
    if not line.strip():
        continue
    r = json.loads(line)
    chain = r["chain"]
    seq, prev = heads.get(chain, (0, "0" * 64))
    seq += 1
    r.update({"specversion": "1.0", "id": "%s:%d" % (chain, seq), "source": "cmkguard",
              "datacontenttype": "application/json", "seq": seq, "prevhash": prev, "kid": kid})
    r.setdefault("type", "cmkguard.audit.decision")
    h = hashlib.sha256(canon(r).encode()).digest()
    with tempfile.NamedTemporaryFile() as t:
        t.write(h)
        t.flush()
        sig = subprocess.run(["openssl", "pkeyutl", "-sign", "-inkey", key, "-rawin", "-in", t.name],
                             check=True, capture_output=True).stdout
    r["hash"] = h.hex()
    r["sig"] = base64.b64encode(sig).decode()
    heads[chain] = (seq, r["hash"])
    sys.stdout.write(canon(r) + "\n")
