package dev.jevons.billing;

import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One account's ledger state in memory and the rules that change it; only the ledger writer thread
 * touches it. See {@link Ledger} for the invariants these methods keep.
 */
final class AccountState {
  private static final Comparator<Grant> SPENDING_ORDER =
      Comparator.comparingLong((Grant g) -> g.expiresAtMillis).thenComparing(g -> g.id);

  final String accountId;
  /** The version the store holds (0: no row yet); the batch updates where the row still has it. */
  long storedVersion;
  long version;
  long toppedUpNanos;
  long creditLimitNanos;
  /** Unspent, unlapsed grants in spending order: earliest expiry first. */
  final List<Grant> grants = new ArrayList<>();
  final Map<String, Reservation> pending = new LinkedHashMap<>();
  long pendingNanos;
  /**
   * No hold expires and no grant lapses before this instant: a lower bound, lowered as holds and
   * grants are added and recomputed by each scan, so that a hot account with thousands of pending
   * holds is not scanned on every operation.
   */
  long nextDueMillis = Long.MIN_VALUE;

  AccountState(String accountId) {
    this.accountId = accountId;
  }

  static AccountState of(LedgerStore.AccountRow row) {
    AccountState a = new AccountState(row.accountId());
    a.storedVersion = row.version();
    a.version = row.version();
    a.toppedUpNanos = row.toppedUpNanos();
    a.creditLimitNanos = row.creditLimitNanos();
    for (LedgerStore.GrantRow g : row.liveGrants()) {
      a.grants.add(Grant.of(g));
    }
    a.grants.sort(SPENDING_ORDER);
    for (LedgerStore.ReservationRow r : row.pendingReservations()) {
      a.pending.put(r.id(), Reservation.of(r));
      a.pendingNanos = Math.addExact(a.pendingNanos, r.holdNanos());
    }
    return a;
  }

  /** Unspent granted credit that is still spendable at {@code millis}. */
  long grantedValidAfter(long millis) {
    long sum = 0;
    for (Grant g : grants) {
      if (g.validAt(millis)) {
        sum = Math.addExact(sum, g.remainingNanos);
      }
    }
    return sum;
  }

  /**
   * The most a new hold expiring at {@code expiresAtMillis} may take: the grants that stay valid
   * past that expiry, topped-up credit and the credit limit, less every pending hold.
   */
  long reservableNanos(long expiresAtMillis) {
    return Math.subtractExact(
        Math.addExact(Math.addExact(grantedValidAfter(expiresAtMillis), toppedUpNanos), creditLimitNanos), pendingNanos);
  }

  /**
   * Whether every pending hold can be posted in full at any time before its expiry, with credit
   * limit {@code limitNanos}: for every pending expiry T, the holds expiring at or after T fit in
   * the grants valid past T plus topped-up credit plus the limit (Hall's condition; the sets of
   * grants a hold may use are nested, so these checks suffice). The rules keep this true; tests and
   * credit-limit changes check it.
   */
  boolean holdsCoverable(long limitNanos) {
    List<Reservation> byExpiryDescending = new ArrayList<>(pending.values());
    byExpiryDescending.sort(Comparator.comparingLong((Reservation r) -> r.expiresAtMillis).reversed());
    long demand = 0;
    for (Reservation r : byExpiryDescending) {
      demand = Math.addExact(demand, r.holdNanos);
      long supply = Math.addExact(Math.addExact(grantedValidAfter(r.expiresAtMillis), toppedUpNanos), limitNanos);
      if (demand > supply) {
        return false;
      }
    }
    return Math.addExact(toppedUpNanos, limitNanos) >= 0;
  }

  /** Whether a pending hold or a grant is due at {@code nowMillis} (what {@link #expireOverdue} would end). */
  boolean hasDue(long nowMillis) {
    if (nowMillis < nextDueMillis) {
      return false;
    }
    for (Reservation r : pending.values()) {
      if (r.expiresAtMillis <= nowMillis) {
        return true;
      }
    }
    for (Grant g : grants) {
      if (!g.validAt(nowMillis)) {
        return true;
      }
    }
    return false;
  }

  /** Expires overdue holds and lapses expired grants; returns how many of both. */
  int expireOverdue(long nowMillis, Changes changes) {
    if (nowMillis < nextDueMillis) {
      return 0;
    }
    long nextDue = Long.MAX_VALUE;
    int count = 0;
    for (Iterator<Reservation> it = pending.values().iterator(); it.hasNext(); ) {
      Reservation r = it.next();
      if (r.expiresAtMillis <= nowMillis) {
        it.remove();
        changes.begin(this);
        settle(r, ReservationState.EXPIRED, 0, nowMillis, changes);
        changes.entry("e:" + r.id, this, EntryKind.EXPIRE, r.holdNanos, r.id, null, null, nowMillis);
        count++;
      } else {
        nextDue = Math.min(nextDue, r.expiresAtMillis);
      }
    }
    for (Iterator<Grant> it = grants.iterator(); it.hasNext(); ) {
      Grant g = it.next();
      if (!g.validAt(nowMillis)) {
        it.remove();
        changes.begin(this);
        changes.entry("l:" + g.id, this, EntryKind.GRANT_LAPSE, -g.remainingNanos, null, g.id, null, nowMillis);
        g.remainingNanos = 0;
        changes.changedGrant(g);
        count++;
      } else {
        nextDue = Math.min(nextDue, g.expiresAtMillis);
      }
    }
    nextDueMillis = nextDue;
    return count;
  }

  CreditResult credit(String entryId, CreditKind kind, long amountNanos, long expiresAtMillis, long nowMillis, Changes changes) {
    // Amounts are checked before anything changes, so that an overflow leaves the account as it was.
    long toppedUp = kind == CreditKind.TOPPED_UP ? Math.addExact(toppedUpNanos, amountNanos) : toppedUpNanos;
    changes.begin(this);
    if (kind == CreditKind.TOPPED_UP) {
      toppedUpNanos = toppedUp;
      changes.entry("c:" + entryId, this, EntryKind.TOP_UP, amountNanos, null, null, null, nowMillis);
      return new CreditResult(entryId, accountId, kind, amountNanos, null);
    }
    Grant grant = new Grant(entryId, accountId, amountNanos, amountNanos, expiresAtMillis, nowMillis);
    grants.add(grant);
    grants.sort(SPENDING_ORDER);
    nextDueMillis = Math.min(nextDueMillis, expiresAtMillis);
    changes.newGrant(grant);
    changes.entry("c:" + entryId, this, EntryKind.GRANT, amountNanos, null, entryId, expiresAtMillis, nowMillis);
    return new CreditResult(entryId, accountId, kind, amountNanos, Instant.ofEpochMilli(expiresAtMillis));
  }

  CreditLimitResult setCreditLimit(String changeId, long limitNanos, long nowMillis, Changes changes) {
    if (limitNanos < creditLimitNanos && !holdsCoverable(limitNanos)) {
      return new CreditLimitResult(CreditLimitResult.Status.REFUSED, accountId, limitNanos);
    }
    changes.begin(this);
    creditLimitNanos = limitNanos;
    changes.entry("k:" + changeId, this, EntryKind.CREDIT_LIMIT, limitNanos, null, null, null, nowMillis);
    return new CreditLimitResult(CreditLimitResult.Status.APPLIED, accountId, limitNanos);
  }

  /** Holds {@code amountNanos} until {@code expiresAtMillis} if it fits; see {@link #reservableNanos}. */
  ReserveResult reserve(
      String reservationId, long amountNanos, long expiresAtMillis, boolean fresh, long nowMillis, Changes changes,
      Map<String, AccountState> pendingIndex) {
    long reservable = reservableNanos(expiresAtMillis);
    if (amountNanos > reservable) {
      return new ReserveResult(ReserveResult.Status.INSUFFICIENT, reservationId, 0, Math.max(0, reservable), null);
    }
    long pendingAfter = Math.addExact(pendingNanos, amountNanos);
    changes.begin(this);
    Reservation r = new Reservation(reservationId, accountId, amountNanos, expiresAtMillis, nowMillis);
    r.fresh = fresh;
    pending.put(reservationId, r);
    nextDueMillis = Math.min(nextDueMillis, expiresAtMillis);
    pendingIndex.put(reservationId, this);
    pendingNanos = pendingAfter;
    changes.newReservation(r);
    changes.entry("r:" + reservationId, this, EntryKind.RESERVE, amountNanos, reservationId, null, expiresAtMillis, nowMillis);
    return r.reserveResult();
  }

  ExtendResult extend(Reservation r, String extensionId, long additionalNanos, long newExpiresAtMillis, long nowMillis, Changes changes) {
    long expiresAt = Math.max(r.expiresAtMillis, newExpiresAtMillis);
    // Taking r out and putting it back bigger is a new reserve, checked the same way.
    long reservable = reservableNanos(expiresAt);
    if (additionalNanos > reservable) {
      return new ExtendResult(ExtendResult.Status.INSUFFICIENT, r.id, r.holdNanos, Math.max(0, reservable),
          Instant.ofEpochMilli(r.expiresAtMillis), ReservationState.PENDING);
    }
    long holdAfter = Math.addExact(r.holdNanos, additionalNanos);
    long pendingAfter = Math.addExact(pendingNanos, additionalNanos);
    changes.begin(this);
    r.holdNanos = holdAfter;
    r.expiresAtMillis = expiresAt;
    r.updatedAtMillis = nowMillis;
    pendingNanos = pendingAfter;
    changes.changedReservation(r);
    changes.entry("x:" + extensionId, this, EntryKind.EXTEND, additionalNanos, r.id, null, expiresAt, nowMillis);
    return new ExtendResult(ExtendResult.Status.EXTENDED, r.id, r.holdNanos, 0, Instant.ofEpochMilli(expiresAt), ReservationState.PENDING);
  }

  /**
   * Posts {@code actualNanos} of pending {@code r} (at most its hold) and releases the rest:
   * grants valid now, earliest expiry first, then topped-up credit. A post always journals at
   * least one debit (of 0 when nothing was spent), so every post is in the journal; a gateway
   * request's one topped-up debit may be written as its usage record ({@link Changes#toBatch}).
   */
  SettleResult post(Reservation r, long actualNanos, long nowMillis, Changes changes) {
    if (actualNanos > r.holdNanos) {
      return new SettleResult(SettleResult.Status.EXCEEDS_HOLD, r.id, r.holdNanos, 0);
    }
    changes.begin(this);
    pending.remove(r.id);
    long left = actualNanos;
    int leg = 0;
    for (Iterator<Grant> it = grants.iterator(); it.hasNext() && left > 0; ) {
      Grant g = it.next();
      if (!g.validAt(nowMillis)) {
        continue;
      }
      long take = Math.min(left, g.remainingNanos);
      g.remainingNanos -= take;
      left -= take;
      changes.changedGrant(g);
      changes.entry("p:" + r.id + ":" + leg++, this, EntryKind.DEBIT_GRANT, -take, r.id, g.id, null, nowMillis);
      if (g.remainingNanos == 0) {
        it.remove();
      }
    }
    if (left > 0 || leg == 0) {
      toppedUpNanos = Math.subtractExact(toppedUpNanos, left);
      changes.entry("p:" + r.id + ":" + leg, this, EntryKind.DEBIT_TOPPED_UP, -left, r.id, null, null, nowMillis);
    }
    if (toppedUpNanos < -creditLimitNanos) {
      // Unreachable while holdsCoverable() holds: fail the batch (fail closed) rather than overdraw.
      throw new IllegalStateException("ledger invariant broken: posting " + r.id + " overdraws account " + accountId);
    }
    settle(r, ReservationState.POSTED, actualNanos, nowMillis, changes);
    return r.settleResult();
  }

  SettleResult voidReservation(Reservation r, long nowMillis, Changes changes) {
    changes.begin(this);
    pending.remove(r.id);
    settle(r, ReservationState.VOIDED, 0, nowMillis, changes);
    changes.entry("v:" + r.id, this, EntryKind.VOID, r.holdNanos, r.id, null, null, nowMillis);
    return r.settleResult();
  }

  private void settle(Reservation r, ReservationState state, long postedNanos, long nowMillis, Changes changes) {
    pendingNanos = Math.subtractExact(pendingNanos, r.holdNanos);
    r.state = state;
    r.postedNanos = postedNanos;
    r.updatedAtMillis = nowMillis;
    changes.changedReservation(r);
  }

  /**
   * The balance at {@code nowMillis}. Holds past their expiry are left out like expired grants:
   * they can no longer be posted, and the grants that backed them may have lapsed meanwhile.
   */
  Balance balance(long nowMillis) {
    long reserved = 0;
    for (Reservation r : pending.values()) {
      if (r.expiresAtMillis > nowMillis) {
        reserved = Math.addExact(reserved, r.holdNanos);
      }
    }
    return new Balance(accountId, grantedValidAfter(nowMillis), toppedUpNanos, reserved, creditLimitNanos);
  }
}
