package dev.jevons.billing;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * What one batch changed, gathered while its commands are applied in memory and turned into one
 * {@link LedgerStore.Batch} at the end. Rows are taken from the live objects when the batch is
 * built, so a reservation made and posted in the same batch is inserted once, already posted.
 */
final class Changes {
  final Map<String, AccountState> touched = new HashMap<>();
  private final Map<String, Grant> newGrants = new LinkedHashMap<>();
  private final Map<String, Grant> changedGrants = new LinkedHashMap<>();
  private final Map<String, Reservation> newReservations = new LinkedHashMap<>();
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

  LedgerStore.Batch toBatch(long nowMillis) {
    List<LedgerStore.AccountWrite> accounts = new ArrayList<>(touched.size());
    for (AccountState a : touched.values()) {
      accounts.add(new LedgerStore.AccountWrite(
          a.accountId, a.storedVersion, a.version, a.toppedUpNanos, a.creditLimitNanos, nowMillis));
    }
    // One lock order for every writer, so that two nodes' batches cannot deadlock on PostgreSQL.
    accounts.sort(Comparator.comparing(LedgerStore.AccountWrite::accountId));
    return new LedgerStore.Batch(
        accounts,
        newGrants.values().stream().map(Grant::row).toList(),
        changedGrants.values().stream().map(Grant::row).toList(),
        newReservations.values().stream().map(Reservation::row).toList(),
        changedReservations.values().stream().map(Reservation::row).toList(),
        List.copyOf(entries),
        List.copyOf(usage));
  }
}
