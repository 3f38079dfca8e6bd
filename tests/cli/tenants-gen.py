#!/usr/bin/python3
# Many tenants' CMK estates as a stream of events, keyed by tenant (SPEC §7: producers
# key by tenant), one "KEY<TAB>JSON" line per Kafka message, for `produce`.
#   tenants-gen.py --seed N --events N --tenants N [--spread PARTITIONS]
# Each tenant has its own vaults (a good one, one without purge protection, one in
# another region), keys (RSA 2048, EC, RSA 1024), resources with identities, access
# grants and revocations, CMK bindings (allowed and denied), rotations that fan out,
# key updates, disables, moves inside the tenant, deletions, a few events the producer
# really sent twice, and a few bad inputs for the dead-letter topic. A tenant's events
# only name the tenant's own vaults, keys and resources. The same seed gives the same
# bytes; tenants' events are interleaved at random, each tenant's in its own order.
# --spread P names the tenants so that librdkafka's default partitioner (CRC-32 of the
# key) spreads them evenly over P partitions.
import argparse, json, random, sys, zlib

ap = argparse.ArgumentParser()
ap.add_argument("--seed", type=int, required=True)
ap.add_argument("--events", type=int, required=True)
ap.add_argument("--tenants", type=int, required=True)
ap.add_argument("--spread", type=int, default=0)
a = ap.parse_args()


def tenant_names(n, spread):
    if not spread:
        return ["t%02d" % i for i in range(n)]
    names, i = [], 0
    while len(names) < n:  # the next name that lands on the next partition round-robin
        want = len(names) % spread
        name = "t%03d" % i
        i += 1
        if zlib.crc32(name.encode()) % spread == want:
            names.append(name)
    return names


RG = "/subscriptions/%s/resourceGroups/rg-%s/providers/Microsoft.CognitiveServices/accounts/%s"


class Tenant:
    def __init__(self, name, rnd):
        self.t, self.r, self.n, self.out, self.sent = name, rnd, 0, [], []
        self.vault = {v: "https://kv-%s-%s.vault.azure.net" % (name, v) for v in "abc"}
        self.keys = [self.vault["a"] + "/keys/k1"]  # one RSA 2048 key: key pairs cost time
        self.version = {k: 1 for k in self.keys}
        self.bad_keys = [self.vault["a"] + "/keys/ec", self.vault["a"] + "/keys/small",
                         self.vault["b"] + "/keys/k1", self.vault["c"] + "/keys/k1"]
        self.res = {}  # id -> {"identity": bool}
        self.made = 0

    def ev(self, typ, subject, data):
        self.n += 1
        e = {"specversion": "1.0", "id": "%s-%05d" % (self.t, self.n), "source": "/tenants/" + self.t,
             "type": typ, "subject": subject,
             "time": "2026-11-02T%02d:%02d:%02dZ" % (self.n // 3600 % 24, self.n // 60 % 60, self.n % 60),
             "data": data}
        line = json.dumps(e, separators=(",", ":"))
        self.out.append(line)
        self.sent.append(line)

    def raw(self, line):
        self.out.append(line)

    def estate(self):
        sub = "sub-" + self.t
        for v, region, pp in (("a", "westeurope", True), ("b", "westeurope", False), ("c", "eastus", True)):
            self.ev("vault.upserted", self.vault[v], {"tenant": self.t, "region": region, "subscription": sub,
                                                     "soft_delete": True, "purge_protection": pp,
                                                     "retention_days": 90})
        for k in self.keys:
            self.ev("key.created", k, {"version": "v1", "kty": "RSA", "size": 2048})
        self.ev("key.created", self.bad_keys[0], {"version": "v1", "kty": "EC"})
        # RSA key pairs are made for real: the keys of the vaults that rules refuse are
        # EC, the key of the wrong size is small.
        self.ev("key.created", self.bad_keys[1], {"version": "v1", "kty": "RSA", "size": 1024})
        self.ev("key.created", self.bad_keys[2], {"version": "v1", "kty": "EC"})
        self.ev("key.created", self.bad_keys[3], {"version": "v1", "kty": "EC"})

    def new_resource(self):
        self.made += 1
        rid = RG % ("sub-" + self.t, self.t, "%s-r%d" % (self.t, self.made))
        kind = self.r.choice(["ContentSafety", "Face"])
        data = {"kind": kind, "tenant": self.t, "region": "westeurope", "subscription": "sub-" + self.t}
        if self.r.random() < 0.05:  # CMK asked for at creation: denied, never exists
            data["key_uri"] = self.keys[0]
            self.ev("resource.created", rid, data)
            return
        self.ev("resource.created", rid, data)
        self.res[rid] = {"identity": False}
        if self.r.random() < 0.9:
            self.ev("resource.identity.enabled", rid, {"principal": "mi-%s-%d" % (self.t, self.made), "tenant": self.t})
            self.res[rid]["identity"] = True
            for v in "abc":
                if v == "a" or self.r.random() < 0.5:
                    self.ev("vault.access.granted", self.vault[v],
                            {"principal": "mi-%s-%d" % (self.t, self.made), "permissions": ["get", "wrapKey", "unwrapKey"]})

    def principal(self, rid):
        return "mi-%s-%s" % (self.t, rid.rsplit("-r", 1)[1])

    def step(self):
        r = self.r
        if not self.res or r.random() < 0.12:
            return self.new_resource()
        rid = r.choice(sorted(self.res))
        x = r.random()
        if x < 0.30:  # bind: mostly a good key, sometimes one a rule refuses
            k = r.choice(self.keys) if r.random() < 0.75 else r.choice(self.bad_keys)
            if r.random() < 0.2:
                k += "/v%d" % self.version.get(k, 1)
            self.ev("resource.cmk.enabled", rid, {"key_uri": k})
        elif x < 0.38:
            k = r.choice(self.keys)  # versionless, or pinned to the version now latest
            self.ev("resource.key.updated", rid, {"key_uri": r.choice([k, k + "/v%d" % self.version[k]])})
        elif x < 0.395:  # a rotation fans out to every resource bound to the key (rare: a new RSA key pair each)
            k = r.choice(self.keys)
            self.version[k] += 1
            self.ev("key.rotated", k, {"version": "v%d" % self.version[k]})
        elif x < 0.52:
            self.ev("resource.cmk.disabled", rid, {})
        elif x < 0.58:
            self.ev("vault.access.revoked", self.vault["a"], {"principal": self.principal(rid)})
        elif x < 0.66:
            self.ev("vault.access.granted", self.vault["a"],
                    {"principal": self.principal(rid), "permissions": r.choice([["get", "wrapKey", "unwrapKey"], ["all"], ["get"]])})
        elif x < 0.72:
            if self.res[rid]["identity"]:
                self.ev("resource.identity.disabled", rid, {})
            else:
                self.ev("resource.identity.enabled", rid, {"principal": self.principal(rid), "tenant": self.t})
            self.res[rid]["identity"] = not self.res[rid]["identity"]
        elif x < 0.76:
            k = r.choice(self.keys)
            self.ev(r.choice(["key.disabled", "key.enabled"]), k, {"version": "v%d" % self.version[k]})
        elif x < 0.80:  # moves stay inside the tenant: no cross-tenant effect
            self.ev("resource.moved", rid, {"tenant": self.t, "subscription": r.choice(["sub-%s" % self.t, "sub-%s-2" % self.t])})
        elif x < 0.83:
            self.ev("resource.deleted", rid, {})
            del self.res[rid]
        elif x < 0.86:
            self.ev("vault.upserted", self.vault["a"], {"tenant": self.t, "region": "westeurope", "subscription": "sub-" + self.t,
                                                        "soft_delete": True, "purge_protection": r.random() < 0.8,
                                                        "retention_days": 90})
        elif x < 0.88 and self.sent:  # the producer sends an earlier event again
            self.raw(r.choice(self.sent))
        elif x < 0.90:  # bad input: the dead-letter topic's
            b = r.randrange(4)
            if b == 0:
                self.raw('{"specversion":"1.0","id":"%s-bad-%d"' % (self.t, self.n))
            elif b == 1:
                self.ev("resource.exploded", rid, {})
            elif b == 2:
                self.ev("resource.identity.enabled", RG % ("sub-" + self.t, self.t, "ghost"), {"principal": "p", "tenant": self.t})
            else:
                self.ev("vault.upserted", self.vault["a"], {"tenant": self.t, "purge_protection": "yes"})
        else:
            self.ev("resource.cmk.enabled", rid, {"key_uri": self.keys[0]})


names = tenant_names(a.tenants, a.spread)
per = a.events // a.tenants
tenants = []
for i, name in enumerate(names):
    t = Tenant(name, random.Random("%d/%s" % (a.seed, name)))
    t.estate()
    while len(t.out) < per:
        t.step()
    del t.out[per:]
    tenants.append(t)
rnd = random.Random(a.seed)
pos = [0] * len(tenants)
left = [i for i, t in enumerate(tenants) for _ in t.out]
rnd.shuffle(left)  # a random interleaving; each tenant's events stay in order
w = sys.stdout.write
for i in left:
    t = tenants[i]
    w("%s\t%s\n" % (t.t, t.out[pos[i]]))
    pos[i] += 1
