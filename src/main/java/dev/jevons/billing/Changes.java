package dev.jevons.billing;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What one batch changed, gathered while its commands are applied in memory and turned into one
 * {@link LedgerStore.Batch} at the end. Rows are taken from the live objects when the batch is
 * built, so a reservation made and posted in the same batch is inserted once, already posted.
 *
 * <p>Journal versions: operations number themselves in memory as they are applied; the batch
 * renumbers each account's operations from the version the store holds, in the same order. With
 * every operation written that changes nothing; it matters when an exclusive ledger carries a
 * young hold over to the next batch ({@link #carryOverHoldsAppliedAfter}), so that the journal
 * as written (also after a crash) has no gap in any account's versions.
 */
final class Changes {
  final Map<String, AccountState> touched = new HashMap<>();
  private final Map<String, Grant> newGrants = new LinkedHashMap<>();
  private final Map<String, Grant> changedGrants = new LinkedHashMap<>();
  private final Map<String, Reservation> newReservations = new LinkedHashMap<>();
  /** System.nanoTime() when each new reservation was applied. */
  private final Map<String, Long> appliedNanos = new HashMap<>();
  private final Map<String, Reservation> changedReservations = new LinkedHashMap<>();
  private final List<LedgerStore.EntryRow> entries = new ArrayList<>();
  final Map<String, Reservation> settled = new LinkedHashMap<>();
  private final List<UsageRecord> usage = new ArrayList<>();
  /** Outcomes of this batch's operations by key ({@code c:<id>}, ...), for replays before it is durable. */
  final Map<String, Object> outcomes = new HashMap<>();

  void usage(UsageRecord record) {
    usage.add(record);
  }

  /** Starts an operation on {@code account}: bumps its version, which orders its journal. */
  void begin(AccountState account) {
    touched.put(account.accountId, account);
    account.version = Math.addExact(account.version, 1);
  }

  void entry(
      String id,
      AccountState account,
      EntryKind kind,
      long amountNanos,
      @Nullable String reservationId,
      @Nullable String grantId,
      @Nullable Long expiresAtMillis,
      long nowMillis) {
    entries.add(new LedgerStore.EntryRow(
        id, account.accountId, account.version, kind, amountNanos, reservationId, grantId, expiresAtMillis, nowMillis));
  }

  void newGrant(Grant grant) {
    newGrants.put(grant.id, grant);
  }

  void changedGrant(Grant grant) {
    if (!newGrants.containsKey(grant.id)) {
      changedGrants.put(grant.id, grant);
    }
  }

  void newReservation(Reservation reservation) {
    newReservations.put(reservation.id, reservation);
    appliedNanos.put(reservation.id, System.nanoTime());
  }

  /**
   * Takes out of this batch the holds applied after {@code appliedAfterNanos} that are still
   * pending, with their reserve and extension entries, and answers them as the start of the next
   * batch: a hold whose post is probably a moment away is then written once, already posted,
   * instead of inserted pending (and indexed as such) now and updated in the next batch. Only for
   * a ledger that is its store's only writer: no other node needs to see the hold.
   */
  Changes carryOverHoldsAppliedAfter(long appliedAfterNanos) {
    Changes next = new Changes();
    Set<String> carried = new HashSet<>();
    for (Iterator<Reservation> it = newReservations.values().iterator(); it.hasNext(); ) {
      Reservation r = it.next();
      long applied = appliedNanos.get(r.id);
      if (r.state == ReservationState.PENDING && applied - appliedAfterNanos > 0) {
        it.remove();
        appliedNanos.remove(r.id);
        carried.add(r.id);
        next.newReservations.put(r.id, r);
        next.appliedNanos.put(r.id, applied);
        next.touched.put(r.accountId, touched.get(r.accountId));
      }
    }
    if (carried.isEmpty()) {
      return next;
    }
    for (Iterator<LedgerStore.EntryRow> it = entries.iterator(); it.hasNext(); ) {
      LedgerStore.EntryRow e = it.next();
      if (e.reservationId() != null && carried.contains(e.reservationId())
          && (e.kind() == EntryKind.RESERVE || e.kind() == EntryKind.EXTEND)) {
        it.remove();
        next.entries.add(e);
        Object outcome = outcomes.get(e.id());
        if (outcome != null) {
          next.outcomes.put(e.id(), outcome);
        }
      }
    }
    return next;
  }

  /** System.nanoTime() of the earliest hold applied in this batch, or {@code fallback} when none. */
  long firstAppliedNanos(long fallback) {
    long first = fallback;
    for (long applied : appliedNanos.values()) {
      if (applied - first < 0) {
        first = applied;
      }
    }
    return first;
  }

  void changedReservation(Reservation reservation) {
    if (!newReservations.containsKey(reservation.id)) {
      changedReservations.put(reservation.id, reservation);
    }
    if (reservation.state != ReservationState.PENDING) {
      settled.put(reservation.id, reservation);
    }
  }

  int newReservationCount() {
    return newReservations.size();
  }

  boolean isEmpty() {
    return touched.isEmpty();
  }

  /** Whether the batch has rows to write (every change journals at least one entry). */
  boolean hasWrites() {
    return !entries.isEmpty();
  }

  /**
   * The batch to write. A hold made and settled within this batch has no reserve entry: its
   * settlement's entry (debit, void or expiry) and its reservation row, which keeps the amount
   * held, say all there is, and it is one journal row fewer for most requests (a hold and its
   * charge usually share a batch). A replayed reserve is answered from the reservation row.
   *
   * <p>A fresh hold ({@link Ledger#reserveNew}: a gateway request's) made and settled within
   * this batch has no reservation row either: nobody replays a reserve of an id that was never
   * used, its settlement entries and its usage record are its record (their ids derive from its
   * id, so a reused id still fails a batch on their unique keys, at the latest when the second
   * hold settles, provided both uses write the same kind of row: a gateway request always writes
   * a usage record; until it expires, that hold only keeps funds back), and the row was half of what
   * writing a reserve+post pair cost (`jevons bench ledger`, session 5). What is given up: the
   * amount it held, and a replay of its settlement once the ledger has forgotten it (after
   * {@link Ledger.Options#maxRememberedOutcomes} more, or a restart) answers NOT_FOUND instead of
   * its outcome; either way it changes nothing.
   *
   * <p>When such a hold was posted wholly from topped-up credit (one debit row, no grant spent)
   * and its usage record is in the batch, that record is written as the journal's debit row
   * ({@link LedgerStore.UsageRow#accountVersion}) and the debit entry is not: a billed request
   * is then one row, where the debit entry and the usage record said the same amount twice. One
   * row fewer per request cut the time a batch takes to write by a third (docs/BENCHMARKS.md, session 8).
   */
  LedgerStore.Batch toBatch(long nowMillis) {
    Set<String> heldAndSettled = new HashSet<>();
    Set<String> freshAndSettled = new HashSet<>();
    List<LedgerStore.ReservationRow> reservationRows = new ArrayList<>(newReservations.size());
    for (Reservation r : newReservations.values()) {
      if (r.state != ReservationState.PENDING) {
        heldAndSettled.add(r.id);
        if (r.fresh) {
          freshAndSettled.add(r.id);
          continue;
        }
      }
      reservationRows.add(r.row());
    }
    Map<String, Integer> usageIndex = new HashMap<>(usage.size() * 2);
    for (int i = 0; i < usage.size(); i++) {
      usageIndex.put(usage.get(i).id(), i);
    }
    @Nullable Long[] usageVersions = new Long[usage.size()];
    // Each account's operations, numbered on from the version the store holds.
    Map<String, long[]> versions = new LinkedHashMap<>(); // account -> {last version applied, last version written}
    List<LedgerStore.EntryRow> rows = new ArrayList<>(entries.size());
    for (LedgerStore.EntryRow e : entries) {
      if (e.kind() == EntryKind.RESERVE && heldAndSettled.contains(e.reservationId())) {
        continue;
      }
      long[] v = versions.computeIfAbsent(e.accountId(), id -> new long[] {Long.MIN_VALUE, touched.get(id).storedVersion});
      if (e.accountVersion() != v[0]) {
        v[0] = e.accountVersion();
        v[1] = Math.addExact(v[1], 1);
      }
      Integer carrier = chargeRecordOf(e, freshAndSettled, usageIndex);
      if (carrier != null) {
        usageVersions[carrier] = v[1]; // the usage record is this debit's journal row
        continue;
      }
      rows.add(e.accountVersion() == v[1] ? e : e.withAccountVersion(v[1]));
    }
    List<LedgerStore.UsageRow> usageRows = new ArrayList<>(usage.size());
    for (int i = 0; i < usage.size(); i++) {
      usageRows.add(new LedgerStore.UsageRow(usage.get(i), usageVersions[i]));
    }
    List<LedgerStore.AccountWrite> accounts = new ArrayList<>(versions.size());
    for (Map.Entry<String, long[]> v : versions.entrySet()) {
      AccountState a = touched.get(v.getKey());
      accounts.add(new LedgerStore.AccountWrite(
          a.accountId, a.storedVersion, v.getValue()[1], a.toppedUpNanos, a.creditLimitNanos, nowMillis));
    }
    // One lock order for every writer, so that two nodes' batches cannot deadlock on PostgreSQL.
    accounts.sort(Comparator.comparing(LedgerStore.AccountWrite::accountId));
    return new LedgerStore.Batch(
        accounts,
        newGrants.values().stream().map(Grant::row).toList(),
        changedGrants.values().stream().map(Grant::row).toList(),
        reservationRows,
        changedReservations.values().stream().map(Reservation::row).toList(),
        rows,
        usageRows);
  }

  /**
   * The index of the usage record that journals {@code e}, or null when {@code e} keeps a row of
   * its own: only the one debit row of a fresh hold made and posted in this batch wholly from
   * topped-up credit (leg 0, so no grant was spent), whose usage record is in the batch.
   */
  private @Nullable Integer chargeRecordOf(LedgerStore.EntryRow e, Set<String> freshAndSettled, Map<String, Integer> usageIndex) {
    String reservationId = e.reservationId();
    if (e.kind() != EntryKind.DEBIT_TOPPED_UP || reservationId == null || !freshAndSettled.contains(reservationId)
        || !e.id().endsWith(":0")) {
      return null;
    }
    Integer index = usageIndex.get(reservationId);
    if (index == null) {
      return null;
    }
    UsageRecord record = usage.get(index);
    // The record must say what the entry says, or the journal would move money between accounts.
    return record.accountId().equals(e.accountId()) && record.costNanos() == -e.amountNanos() ? index : null;
  }
}
