/* The scale-out protocol of SPEC §7a: several `run` instances, one events partition,
 * its `state` partition (the changelog) and the audit topic, on a broker with no
 * transactions, no fencing and no compaction. docs/ARCHITECTURE.md ("Scale-out: the
 * protocol, model-checked") says it in prose; `make model` checks it with spin
 * (scripts/model.sh).
 *
 * Instances 0 and 1 run at once and may crash beside any step another process can see
 * (their produce requests in flight then land later, or never); either is a zombie
 * whenever the other claims while it still runs: interleaving pauses it for as long
 * as a schedule wants, then it wakes and writes. Instance 2 starts once both have
 * stopped and never crashes: it restores whatever they left and finishes the input,
 * so the final check can ask that every input is decided exactly once.
 *
 * Abstractions: one event per batch; a partition's state is the set of input offsets
 * applied (a bit mask); a decision record is (chain seq, epoch, cause) and its hash
 * is its content; one chain. The producer is idempotent (no duplicates within a
 * session, order kept): a produce request is a message in the instance's FIFO queue,
 * appended by the broker whenever it likes; the broker's delivery report gives the
 * offset. Input is redelivered by resuming from the restored offset.
 *
 * Bounds (set by scripts/model.sh): NEV events, MAXCRASH crashes over instances 0
 * and 1, MAXSNAP snapshots. Broken variants, each expected to fail: NOFENCE (readers
 * ignore epochs), RESTORE_BEFORE_CLAIM (a restore reads only up to the end seen
 * before claiming), RECONCILE_BY_SEQ (reconciliation takes any record of the same seq
 * for the one it looks for), STRICT_ONCE (asks that no record lands twice in the
 * audit topic, which a broker without fencing cannot give). */

#ifndef NEV
#define NEV 2 /* input events in the partition */
#endif
#ifndef MAXCRASH
#define MAXCRASH 1 /* crashes, over instances 0 and 1 */
#endif
#ifndef MAXSNAP
#define MAXSNAP 1 /* snapshots written */
#endif
#define NI 3      /* instances */
#define SMAX 24   /* state partition: records */
#define AMAX 12   /* audit partition: records */
#define OMAX 4    /* a restore's outbox: commits since its snapshot (NEV + 1) */

#define CLAIM 1   /* {epoch, owner} */
#define CHANGES 2 /* {epoch, owner, batch seq, delta: the offset applied} */
#define COMMIT 3  /* {epoch, owner, batch seq, last input offset, chain head, outbox} */
#define SNAP 4    /* {epoch, owner, batch seq, next input offset, chain head, state} */

/* A state record. `mask` in a COMMIT is not part of the protocol: it is the writer's
 * state after the batch, for the restore to be checked against. A COMMIT's outbox is
 * the one decision record of its batch: (head, ep, off). */
typedef SRec {
	byte t;
	byte ep;
	byte own;
	byte bseq;
	byte off;
	byte head;
	byte mask
};

/* An audit record; `cur` is ghost: appended by the current owner's live session. */
typedef ARec {
	byte seq;
	byte ep;
	byte cause;
	bit cur
};

SRec slog[SMAX];
byte slen;   /* end of the state partition */
byte sstart; /* its first offset still held: the broker trims the head */
ARec alog[AMAX];
byte alen;

chan sq[NI] = [4] of { byte, byte, byte, byte, byte, byte, byte };
chan aq[NI] = [6] of { byte, byte, byte, byte };  /* seq, ep, cause, session */

byte cpos[NI];    /* delivery report: offset of each instance's claim, till read */

/* Ghost state, read by assertions only. */
byte gmax;        /* epoch of the latest valid claim, every claim seen */
byte gown;        /* its owner */
byte life[NI];    /* session number of each instance */
byte sep[NI];     /* epoch of each instance's session once it owns, else 0 */
bit done[NI];
byte ncrash;
byte nsnap;

/* A reader's rule (restore and verification alike): a claim is valid when its epoch
 * is above every epoch read before it; any other record when its epoch is that of
 * the latest valid claim. `b` is the highest epoch read so far; after a trimmed head
 * it is a lower bound, exact again from the first snapshot on. */
#ifdef NOFENCE
#define VALID(r, b) true
#else
#define VALID(r, b) ((r.t == CLAIM && r.ep > b) || (r.t != CLAIM && r.ep >= b))
#endif

/* Reads slog[from, to) as a restore does: the latest valid snapshot, then each
 * batch whose CHANGES are followed by its COMMIT (same epoch and batch seq). Leaves
 * the state (m, h, o, q), the bound b and the outbox of the commits after the
 * snapshot (oseq, oep, ocs; no of them). */
inline restore(from, to)
{
	j = from; b = 0; pm = 0; pe = 0; pb = 0; pd = 0;
	m = 0; h = 0; o = 0; q = 0; no = 0;
	do
	:: j < to ->
		if
		:: VALID(slog[j], b) ->
			b = slog[j].ep;
			if
			:: slog[j].t == CLAIM -> pm = 0
			:: slog[j].t == SNAP ->
				m = slog[j].mask; h = slog[j].head; o = slog[j].off; q = slog[j].bseq;
				no = 0; pm = 0
			:: slog[j].t == CHANGES ->
				pm = 1; pe = slog[j].ep; pb = slog[j].bseq; pd = slog[j].off
			:: slog[j].t == COMMIT ->
				if
				:: pm && pe == slog[j].ep && pb == slog[j].bseq ->
					m = m | (1 << pd); h = slog[j].head; o = slog[j].off + 1;
					q = slog[j].bseq;
					/* the state restored is the state its writer committed */
					assert(m == slog[j].mask);
					assert(no < OMAX);
					oseq[no] = h; oep[no] = slog[j].ep; ocs[no] = slog[j].off; no++
				:: else -> skip /* no CHANGES before it: the protocol writes none such */
				fi;
				pm = 0
			fi
		:: else -> skip /* fenced: a late write of an older epoch */
		fi;
		j++
	:: else -> break
	od
}

inline scratch_clear()
{
	j = 0; b = 0; pm = 0; pe = 0; pb = 0; pd = 0; no = 0; k = 0;
	oseq[0] = 0; oseq[1] = 0; oseq[2] = 0; oseq[3] = 0;
	oep[0] = 0; oep[1] = 0; oep[2] = 0; oep[3] = 0;
	ocs[0] = 0; ocs[1] = 0; ocs[2] = 0; ocs[3] = 0;
	xm = 0; xh = 0; xo = 0; xq = 0; xb = 0; xno = 0
}

/* The audit topic holds the outbox's record k: the same seq, epoch and cause. */
#ifdef RECONCILE_BY_SEQ
#define SAME(a, k) (a.seq == oseq[k])
#else
#define SAME(a, k) (a.seq == oseq[k] && a.ep == oep[k] && a.cause == ocs[k])
#endif

/* A crash is a choice beside each step of instances 0 and 1 that another process
 * can see: the step happens, or the instance crashes there, losing its memory. */
#define CRASH :: ncrash < MAXCRASH && me != 2 -> ncrash++; goto crashed

proctype Inst(byte me)
{
	byte ep, m, h, o, q; /* owned: epoch, state, chain head, next input offset, batch seq */
	byte cut, c;         /* end read before claiming; offset of the claim */
	byte j, b, pm, pe, pb, pd, no, k, xm, xh, xo, xq, xb, xno;
	byte oseq[OMAX], oep[OMAX], ocs[OMAX];

start:
	/* Read the partition to its end; claim the next epoch. (Steps that touch nothing
	 * another process reads are merged into the step after them.) */
	if
	:: d_step {
		restore(sstart, slen);
		cut = slen; ep = b + 1;
		scratch_clear(); m = 0; h = 0; o = 0; q = 0;
		sq[me]!CLAIM, ep, me, 0, 0, 0, 0
	   }
	fi;
	/* Its delivery report gives the claim's offset. Read back to it: owner only if
	 * the claim is valid there. Restore what the log holds before it, checked
	 * against a reader that saw no trimming. */
	if
	:: d_step {
		empty(sq[me]);
		c = cpos[me]; cpos[me] = 0;
		if
		:: sstart <= c ->
			restore(0, c);
			xm = m; xh = h; xo = o; xq = q; xb = b; xno = no;
			restore(sstart, c);
			assert(m == xm && h == xh && o == xo && q == xq && no == xno);
			assert(b == xb);
#ifdef RESTORE_BEFORE_CLAIM
			restore(sstart, cut);
#endif
			if
#ifdef NOFENCE
			:: true ->
#else
			:: ep > xb ->
#endif
				sep[me] = ep; printf("owner %d epoch %d\n", me, ep)
			:: else -> skip
			fi
		:: else -> skip /* trimmed away: a later owner snapshotted after it */
		fi;
		xm = 0; xh = 0; xo = 0; xq = 0; xb = 0; xno = 0; cut = 0; c = 0;
		if
		:: sep[me] == 0 -> scratch_clear(); ep = 0; m = 0; h = 0; o = 0; q = 0
		:: else -> skip
		fi
	   }
	fi;
	if
	:: sep[me] == 0 -> /* another claim came first: not the owner */
		assert(me != 2);
		goto stop
	:: else -> skip
	fi;

	/* Reconcile: each record of the commits since the snapshot that the audit topic
	 * does not hold (the same record: seq, epoch and cause) is produced. */
	if
	CRASH;
	:: d_step {
		k = 0;
		do
		:: k < no ->
			j = 0;
			do
			:: j < alen && SAME(alog[j], k) -> break
			:: j < alen && !SAME(alog[j], k) -> j++
			:: else ->
				printf("reconcile %d: seq %d\n", me, oseq[k]);
				aq[me]!oseq[k], oep[k], ocs[k], life[me];
				break
			od;
			k++
		:: else -> break
		od;
		scratch_clear()
	   }
	fi;

	/* Process: one event per batch; CHANGES, then COMMIT; once the commit is
	 * durable, its outbox is produced. */
	do
	:: o < NEV ->
		if
		CRASH;
		:: d_step {
			q++; h++; m = m | (1 << o);
			sq[me]!CHANGES, ep, me, q, o, 0, 0;
			sq[me]!COMMIT, ep, me, q, o, h, m
		   }
		fi;
		if
		CRASH;
		:: d_step { empty(sq[me]) -> aq[me]!h, ep, o, life[me]; o++ }
		fi;
		if
		:: nsnap < MAXSNAP ->
			/* a snapshot once the outbox is delivered: it carries none */
			if
			CRASH;
			:: d_step { empty(aq[me]) -> nsnap++; sq[me]!SNAP, ep, me, q, o, h, m }
			fi
		:: else -> skip
		fi
	:: else -> break
	od;
	empty(sq[me]);
	empty(aq[me]);
stop:
	done[me] = 1;
	goto end;

crashed:
	if /* what it had in flight lands later, or never */
	:: d_step {
		printf("crash %d\n", me);
		life[me]++; sep[me] = 0;
		scratch_clear(); ep = 0; m = 0; h = 0; o = 0; q = 0; cut = 0; c = 0
	   }
	:: d_step {
		printf("crash %d, its requests in flight lost\n", me);
		life[me]++; sep[me] = 0;
		scratch_clear(); ep = 0; m = 0; h = 0; o = 0; q = 0; cut = 0; c = 0;
		do
		:: sq[me]?_, _, _, _, _, _, _
		:: empty(sq[me]) -> break
		od;
		do
		:: aq[me]?_, _, _, _
		:: empty(aq[me]) -> break
		od;
		c = 0
	   }
	fi;
	goto start;
end:
	skip
}

/* The broker appends each instance's requests in order, and trims the state
 * partition's head up to each valid snapshot as it appends it: as far as it may
 * (the protocol's one demand on trimming is that it never passes the latest valid
 * snapshot). Every restore is also checked against a reader of the untrimmed log. */
#define TRIM sstart = slen; printf("trim to %d\n", slen)
active proctype Broker()
{
	byte i, t, ep, own, bs, off, hd, mk;
end:
	do
	:: d_step {
		if
		:: sq[0]?t, ep, own, bs, off, hd, mk -> i = 0
		:: sq[1]?t, ep, own, bs, off, hd, mk -> i = 1
		:: sq[2]?t, ep, own, bs, off, hd, mk -> i = 2
		fi;
		assert(slen < SMAX);
		slog[slen].t = t; slog[slen].ep = ep; slog[slen].own = own;
		slog[slen].bseq = bs; slog[slen].off = off; slog[slen].head = hd;
		slog[slen].mask = mk;
		if
		:: t == CLAIM ->
			cpos[i] = slen;
			if
			:: ep > gmax -> gmax = ep; gown = own
			:: else -> skip
			fi
		:: t != CLAIM && ep == gmax ->
			/* at most one owner extends the changelog, as readers see it */
			assert(own == gown);
			if
			:: t == SNAP -> TRIM
			:: else -> skip
			fi
		:: else -> /* fenced, and no reader takes it */
#ifdef NOFENCE
			assert(t == CLAIM || own == gown); /* these readers take it */
			if
			:: t == SNAP -> TRIM
			:: else -> skip
			fi
#else
			skip
#endif
		fi;
		printf("state[%d] %d: type %d epoch %d owner %d batch %d off %d head %d\n",
		       slen, i, t, ep, own, bs, off, hd);
		slen++;
		i = 0; t = 0; ep = 0; own = 0; bs = 0; off = 0; hd = 0; mk = 0
	   }
	:: d_step {
		if
		:: aq[0]?hd, ep, off, mk -> i = 0
		:: aq[1]?hd, ep, off, mk -> i = 1
		:: aq[2]?hd, ep, off, mk -> i = 2
		fi;
		assert(alen < AMAX);
		alog[alen].seq = hd; alog[alen].ep = ep; alog[alen].cause = off;
		alog[alen].cur = (mk == life[i] && sep[i] != 0 && sep[i] == gmax);
		printf("audit[%d] %d: seq %d epoch %d cause %d cur %d\n", alen, i, hd, ep, off, alog[alen].cur);
		alen++;
		i = 0; ep = 0; off = 0; hd = 0; mk = 0
	   }
	od
}

/* Once everything stopped and landed, the trail as verification reads it: the valid
 * commits in order (chain seq 1, 2, ..., input offset 0, 1, ..., each once), each
 * decision in the audit topic, and nothing else there that a reader would take. */
init
{
	byte j, b, pm, pe, pb, pd, n, k, cnt;
	byte cseq[NEV], cep[NEV], ccs[NEV];
	run Inst(0);
	run Inst(1);
	(done[0] && done[1]);
	run Inst(2);
	done[2];
	empty(sq[0]); empty(sq[1]); empty(sq[2]);
	empty(aq[0]); empty(aq[1]); empty(aq[2]);
	d_step {
		j = 0; b = 0; pm = 0; n = 0;
		do
		:: j < slen ->
			if
			:: VALID(slog[j], b) ->
				b = slog[j].ep;
				if
				:: slog[j].t == CHANGES -> pm = 1; pe = slog[j].ep; pb = slog[j].bseq
				:: slog[j].t == COMMIT && pm && pe == slog[j].ep && pb == slog[j].bseq ->
					/* the chain continues without a gap or a fork; each input once */
					assert(n < NEV);
					assert(slog[j].head == n + 1 && slog[j].off == n);
					cseq[n] = slog[j].head; cep[n] = slog[j].ep; ccs[n] = slog[j].off;
					n++; pm = 0
				:: else -> pm = 0
				fi
			:: else -> skip
			fi;
			j++
		:: else -> break
		od;
		/* every input is reflected by a committed decision */
		assert(n == NEV);
		k = 0;
		do
		:: k < n ->
			j = 0; cnt = 0; pm = 0;
			do
			:: j < alen ->
				if
				:: alog[j].seq == cseq[k] && alog[j].ep == cep[k] ->
					/* one epoch writes one record per seq: no fork */
					assert(alog[j].cause == ccs[k]);
					pm++;
					if
					:: alog[j].cur -> cnt++
					:: else -> skip
					fi
				:: alog[j].seq == cseq[k] ->
					/* another epoch's record at this seq: fenced, rejected */
					skip
				:: else -> skip
				fi;
				j++
			:: else -> break
			od;
			/* no committed decision is lost */
			assert(pm >= 1);
			/* none is produced twice by an owner; other copies are late writes
			 * of sessions that lost the partition */
			assert(cnt <= 1);
#ifdef STRICT_ONCE
			assert(pm == 1);
#endif
			k++
		:: else -> break
		od;
		/* every audit record is one of these, or one from a fenced epoch */
		j = 0;
		do
		:: j < alen ->
			assert(alog[j].seq >= 1 && alog[j].seq <= NEV);
			j++
		:: else -> break
		od
	}
}
