#!/usr/bin/python3
# The exactly-once check for one or several `run` instances (SPEC §7, §7a), from what
# kcat read back, against a single-instance replay of each tenant's events alone.
#   scale-check.py --audit A --events E --watermarks W --cmkguard BIN --rules DIR
#                  --work DIR [--state FILE]... [--master-key FILE] [--fenced]
# A: the audit topic, "PARTITION OFFSET VALUE" lines (kcat -f '%p %o %s\n').
# E: the events topic, "PARTITION<TAB>OFFSET<TAB>KEY<TAB>VALUE" lines; the key is the tenant.
# W: the events topic's high watermarks, "PARTITION HIGH" lines (kcat -Q).
# Checks:
#  1. per chain, one record per seq: a byte-identical repeat (a resend) counts once; a
#     different record at a seq already taken fails, unless --fenced (verification
#     handles fencing), when the chain is the one `audit verify` accepted (--verified:
#     its JSON output; each chain's head, followed back through prevhash), or without
#     it the branch the chain goes on from; the others are reported as fenced; the
#     chain has no gap from seq 1 and each prevhash is the hash before it;
#  2. every events message (partition, offset below the high watermark) is reflected by
#     exactly one decision record in its partition's chain: the records of one decision
#     (the decision, then its fan-out, SPEC §5) are consecutive in the chain and share
#     data.input, so a second run of records for one input is a second decision;
#  3. per tenant, (cause, subject, event type, outcome, findings' rules and results,
#     actions, state) of every record, in order, equal a `cmkguard replay` of that
#     tenant's events alone (chain, seq, prevhash, hash, sig, id, input, time differ);
#  4. with --state: the resources, vaults and keys of the given state files, merged,
#     equal the merged final states of the tenants' replays.
# Prints ok:/FAIL: lines; exits 1 when anything failed.
import argparse, json, os, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

ap = argparse.ArgumentParser()
ap.add_argument("--audit", required=True)
ap.add_argument("--events", required=True)
ap.add_argument("--watermarks", required=True)
ap.add_argument("--cmkguard", required=True)
ap.add_argument("--rules", required=True)
ap.add_argument("--work", required=True)
ap.add_argument("--state", action="append", default=[])
ap.add_argument("--master-key")
ap.add_argument("--events-topic", default="cmk.events")
ap.add_argument("--fenced", action="store_true")
ap.add_argument("--verified")
a = ap.parse_args()

fails = 0


def fail(msg, examples=()):
    global fails
    fails += 1
    ex = list(examples)[:5]
    print("FAIL: %s%s" % (msg, (": " + "; ".join(map(str, ex))) if ex else ""), flush=True)


def ok(msg):
    print("ok: " + msg, flush=True)


# ---- the audit topic: per chain, one record per seq ----
chains = {}  # chain -> seq -> {raw: record}
nmsg = unreadable = 0
with open(a.audit, "rb") as f:
    for line in f:
        parts = line.rstrip(b"\n").split(b" ", 2)
        if len(parts) < 3:
            continue
        nmsg += 1
        raw = parts[2]
        try:
            rec = json.loads(raw)
            chains.setdefault(rec["chain"], {}).setdefault(int(rec["seq"]), {})[raw] = rec
        except (ValueError, KeyError, TypeError):
            unreadable += 1
if unreadable:
    fail("%d audit messages are not records with a chain and a seq" % unreadable)
kept = {}  # chain -> [record] in seq order
forks = []
fenced = 0
heads = {}
if a.verified:
    with open(a.verified) as f:
        v = json.load(f)
    heads = {c["chain"]: c for c in v.get("chains", [])}
    if not v.get("verified"):
        fail("audit verify did not accept the trail it was given")
    odd = sorted(set(chains) - set(heads)) + sorted(c for c in set(heads) - set(chains) if heads[c].get("last_seq"))
    if odd:  # a chain with a changelog but no record yet is one at seq 0
        fail("the chains audit verify accepted are not the chains in the audit topic", odd)
for name, byseq in sorted(chains.items()):
    if name in heads:  # the chain verification accepted: back from its head
        byhash = {r.get("hash"): r for c in byseq.values() for r in c.values()}
        out, h = [], heads[name]["head"]
        while h != "0" * 64 and h in byhash:
            out.append(byhash[h])
            h = byhash[h].get("prevhash")
        out.reverse()
        if h != "0" * 64 or [r["seq"] for r in out] != list(range(1, len(out) + 1)) \
                or len(out) != heads[name]["last_seq"]:
            fail("chain %s: the verified head does not lead back to seq 1 through these records" % name)
        for s in byseq:
            if len(byseq[s]) > 1:
                forks.append("%s seq %d (%d versions)" % (name, s, len(byseq[s])))
        fenced += sum(len(c) for c in byseq.values()) - len(out)
        if max(byseq) > len(out):
            forks.append("%s: records past the verified head, up to seq %d" % (name, max(byseq)))
        kept[name] = out
        continue
    top = max(byseq)
    depth = {}  # hash -> how far the chain goes on from this record

    def cands(s):
        return list(byseq.get(s, {}).values())
    for s in range(top, 0, -1):
        for r in cands(s):
            nxt = [depth.get(d["hash"], 0) for d in cands(s + 1) if d.get("prevhash") == r.get("hash")]
            depth[r["hash"]] = 1 + max(nxt, default=0)
    out, prev = [], "0" * 64
    for s in range(1, top + 1):
        c = cands(s)
        if not c:
            fail("chain %s: no record at seq %d (%d records up to %d)" % (name, s, len(byseq), top))
            break
        if len(c) > 1:
            forks.append("%s seq %d (%d versions)" % (name, s, len(c)))
        link = [r for r in c if r.get("prevhash") == prev]
        if not link:
            fail("chain %s: seq %d does not follow from the record before it" % (name, s))
            break
        link.sort(key=lambda r: -depth[r["hash"]])
        if len(link) > 1 and depth[link[0]["hash"]] == depth[link[1]["hash"]]:
            fail("chain %s forks at seq %d and neither branch goes further" % (name, s))
            break
        fenced += len(c) - 1
        out.append(link[0])
        prev = link[0]["hash"]
    kept[name] = out
total = sum(len(v) for v in kept.values())
if forks and not a.fenced:
    fail("%d seq(s) hold different records (a fork; fencing not expected here)" % len(forks), forks)
elif forks:
    ok("%d record(s) at a seq another record holds, fenced: the chains go on from one branch" % fenced)
ok("%d audit messages: %d chains, %d records once each" % (nmsg, len(kept), total))

# ---- the events topic ----
high = {}
with open(a.watermarks) as f:
    for line in f:
        p, h = line.split()
        high[int(p)] = int(h)
events = {}  # (p, o) -> (key, value)
with open(a.events, "rb") as f:
    for line in f:
        p, o, k, v = line.rstrip(b"\n").split(b"\t", 3)
        events[(int(p), int(o))] = (k.decode(), v)
want = {(p, o) for p, h in high.items() for o in range(h)}
if set(events) != want:
    fail("the events read back are not every offset below the high watermarks",
         sorted(want ^ set(events))[:5])
else:
    ok("%d events messages in %d partitions" % (len(want), len(high)))

# ---- every input: exactly one decision ----
decisions = {}  # (p, o) -> count
tenant_recs = {}  # tenant -> [record] in chain order
wrong_chain, noinput = [], []
prefix = a.events_topic + "/"
for name, recs in sorted(kept.items()):
    last = None
    for r in recs:
        inp = r.get("data", {}).get("input")
        if inp is None:
            if r.get("type") != "cmkguard.audit.checkpoint":
                noinput.append("%s seq %d" % (name, r["seq"]))
            continue
        if not inp.startswith(prefix) or inp.rsplit("/", 1)[0] != name:
            wrong_chain.append("%s in chain %s" % (inp, name))
            continue
        p, o = (int(x) for x in inp[len(prefix):].split("/"))
        if inp != last:
            decisions[(p, o)] = decisions.get((p, o), 0) + 1
        last = inp
        key = events.get((p, o), ("?",))[0]
        tenant_recs.setdefault(key, []).append(r)
if noinput:
    fail("%d records name no input" % len(noinput), noinput)
if wrong_chain:
    fail("%d records name an input outside their partition's chain" % len(wrong_chain), wrong_chain)
twice = sorted(k for k, n in decisions.items() if n > 1)
missing = sorted(want - set(decisions))
extra = sorted(set(decisions) - want)
if twice:
    fail("%d events messages have more than one decision record" % len(twice),
         ["%s%d/%d x%d" % (prefix, p, o, decisions[(p, o)]) for p, o in twice])
if missing:
    fail("%d events messages have no decision record" % len(missing), ["%s%d/%d" % (prefix, p, o) for p, o in missing])
if extra:
    fail("%d decision records name offsets past the high watermark" % len(extra), extra)
if not (twice or missing or extra):
    ok("each of the %d events messages has exactly one decision record (%d fan-out records)"
       % (len(want), total - len(want)))

# ---- per tenant: the same as a replay of its events alone ----
os.makedirs(a.work, exist_ok=True)
bytenant = {}
for (p, o) in sorted(events):
    k, v = events[(p, o)]
    bytenant.setdefault(k, []).append(v)
split = [k for k in bytenant if len({p for (p, o) in events if events[(p, o)][0] == k}) > 1]
if split:
    fail("tenants found in more than one partition (the key must pick the partition)", split)


def replay(tenant):
    base = os.path.join(a.work, "t-" + tenant)
    body = b"".join(v + b"\n" for v in bytenant[tenant])
    try:  # the same events replayed before in this work folder: that replay stands
        with open(base + ".jsonl", "rb") as f, open(base + ".audit") as g:
            if f.read() == body and os.path.exists(base + ".done"):
                return tenant, 0, [json.loads(l) for l in g if l.strip()]
    except OSError:
        pass
    for ext in (".done", ".db", ".db.mkey", ".db-wal", ".db-shm", ".audit"):
        if os.path.exists(base + ext):
            os.unlink(base + ext)
    with open(base + ".jsonl", "wb") as f:
        f.write(body)
    rc = subprocess.run([a.cmkguard, "replay", "--rules", a.rules, "--state", base + ".db",
                         "--out", base + ".audit", base + ".jsonl"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
    recs = []
    if rc == 0:
        with open(base + ".audit") as f:
            recs = [json.loads(l) for l in f if l.strip()]
        open(base + ".done", "w").close()
    return tenant, rc, recs


def essence(r):
    d = r.get("data", {})
    return (d.get("cause"), r.get("subject"), d.get("event_type"), d.get("outcome"),
            tuple((x.get("rule"), x.get("result"), x.get("resource")) for x in d.get("findings", [])),
            tuple((x.get("op"), x.get("status"), x.get("from"), x.get("to")) for x in d.get("actions", [])),
            json.dumps(d.get("state"), sort_keys=True))


with ThreadPoolExecutor(max_workers=2) as ex:
    replays = dict((t, (rc, recs)) for t, rc, recs in ex.map(replay, sorted(bytenant)))
differ = []
for t in sorted(bytenant):
    rc, recs = replays[t]
    if rc:
        differ.append("%s: replay exit %d" % (t, rc))
        continue
    got = [essence(r) for r in tenant_recs.get(t, [])]
    exp = [essence(r) for r in recs]
    if got != exp:
        i = next((i for i, (x, y) in enumerate(zip(got, exp)) if x != y), min(len(got), len(exp)))
        differ.append("%s: %d records vs %d replayed, first difference at %d: %s vs %s"
                      % (t, len(got), len(exp), i, got[i] if i < len(got) else None, exp[i] if i < len(exp) else None))
if differ:
    fail("%d tenant(s) decided otherwise than a replay of their events alone" % len(differ), differ)
else:
    outs = {}
    for t in replays:
        for r in replays[t][1]:
            o = r["data"]["outcome"]
            outs[o] = outs.get(o, 0) + 1
    ok("each of %d tenants decided as a replay of its events alone (%s)"
       % (len(bytenant), ", ".join("%d %s" % (n, o) for o, n in sorted(outs.items()))))


# ---- the final state ----
def show(path, master=None):
    cmd = [a.cmkguard, "state", "show", "--state", path]
    if master:
        cmd += ["--master-key", master]
    p = subprocess.run(cmd, capture_output=True)
    if p.returncode:
        fail("state show --state %s: exit %d: %s" % (path, p.returncode, p.stderr.decode().strip()[:200]))
        return {}
    return json.loads(p.stdout)


IDS = {"resources": "id", "vaults": "uri", "keys": "uri"}


def merge(docs, what):
    m, clash = {}, []
    for name, d in docs:
        for part, idf in IDS.items():
            for x in d.get(part, []):
                k = (part, x.get(idf))
                if k in m and m[k] != x:
                    clash.append("%s %s in %s" % (part, k[1], name))
                m[k] = x
    if clash:
        fail("%s: the same thing in two states, differently" % what, clash)
    return m


if a.state:
    got = merge([(s, show(s, a.master_key)) for s in a.state], "the instances' states")
    exp = merge([(t, show(os.path.join(a.work, "t-%s.db" % t))) for t in sorted(bytenant)], "the replays' states")
    diff = sorted(set(got) ^ set(exp)) + sorted(k for k in set(got) & set(exp) if got[k] != exp[k])
    if diff:
        fail("the final state differs from the replays' (%d of %d things)" % (len(diff), len(exp)), diff)
    else:
        ok("the final state equals the replays': %d resources, %d vaults, %d keys"
           % tuple(sum(1 for k in exp if k[0] == p) for p in IDS))

sys.exit(1 if fails else 0)
