package dev.jevons.billing;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Where the ledger keeps its state; implemented by the store part ({@code SqlLedgerStore}). Times
 * are epoch milliseconds, money is nanos. Reads may run on any thread; {@link #write} is called by
 * one ledger writer thread per {@link Ledger}, but several ledgers (nodes) may share one store.
 */
public interface LedgerStore {

  /** The committed state of these accounts; an account never credited is absent from the map. */
  Map<String, AccountRow> load(Collection<String> accountIds);

  /** These reservations, in any state; unknown ids are absent. */
  Map<String, ReservationRow> findReservations(Collection<String> reservationIds);

  /** These journal entries by entry id ({@code c:<credit id>}, {@code x:<extension id>}, ...). */
  Map<String, EntryRow> findEntries(Collection<String> entryIds);

  /**
   * Up to {@code limit} accounts that have a pending reservation or an unspent grant whose expiry
   * is at or before {@code nowMillis}.
   */
  List<String> accountsWithDue(long nowMillis, int limit);

  /**
   * Writes the batch in one transaction, all or nothing: the account rows first, in account id
   * order, each inserted when {@code expectedVersion} is 0 and otherwise updated only where its
   * version still equals {@code expectedVersion}.
   *
   * @throws LedgerConflictException when some account was changed (or created) by another writer
   */
  void write(Batch batch);

  /**
   * Claims the store for a ledger in {@code mode} until the claim is closed: an exclusive claim
   * excludes every other claim on the same store, from any process; shared claims exclude only an
   * exclusive one. A store private to one process may claim nothing.
   *
   * @throws IllegalStateException when another ledger's claim excludes this one
   */
  default Claim claim(Ledger.Mode mode) {
    return () -> {};
  }

  /** A claim on a store; closing releases it. */
  interface Claim extends AutoCloseable {
    /** Whether the claim still holds (a database session can end under it). */
    default boolean held() {
      return true;
    }

    @Override
    void close();
  }

  record AccountRow(
      String accountId,
      long version,
      long toppedUpNanos,
      long creditLimitNanos,
      List<GrantRow> liveGrants,
      List<ReservationRow> pendingReservations) {}

  record GrantRow(String id, String accountId, long amountNanos, long remainingNanos, long expiresAtMillis, long createdAtMillis) {}

  record ReservationRow(
      String id,
      String accountId,
      ReservationState state,
      long originalHoldNanos,
      long holdNanos,
      long postedNanos,
      long originalExpiresAtMillis,
      long expiresAtMillis,
      long createdAtMillis,
      long updatedAtMillis) {}

  record EntryRow(
      String id,
      String accountId,
      long accountVersion,
      EntryKind kind,
      long amountNanos,
      @Nullable String reservationId,
      @Nullable String grantId,
      @Nullable Long expiresAtMillis,
      long createdAtMillis) {
    EntryRow withAccountVersion(long version) {
      return new EntryRow(id, accountId, version, kind, amountNanos, reservationId, grantId, expiresAtMillis, createdAtMillis);
    }
  }

  record AccountWrite(
      String accountId, long expectedVersion, long newVersion, long toppedUpNanos, long creditLimitNanos, long atMillis) {}

  /**
   * A usage record as written. With {@code accountVersion}, the record is also the journal's row
   * of its request's debit ({@link EntryKind#DEBIT_TOPPED_UP}, amount minus its cost, at that
   * version of its account) and no entry row is written for it; see {@code Changes#toBatch}.
   */
  record UsageRow(UsageRecord record, @Nullable Long accountVersion) {}

  /** Account writes sorted by id; grant and reservation rows split into new ones and changed ones. */
  record Batch(
      List<AccountWrite> accounts,
      List<GrantRow> newGrants,
      List<GrantRow> changedGrants,
      List<ReservationRow> newReservations,
      List<ReservationRow> changedReservations,
      List<EntryRow> entries,
      List<UsageRow> usage) {

    public boolean isEmpty() {
      return accounts.isEmpty() && entries.isEmpty();
    }
  }
}
