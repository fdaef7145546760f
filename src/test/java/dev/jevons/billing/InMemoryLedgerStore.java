package dev.jevons.billing;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** A {@link LedgerStore} in maps, with the SQL store's all-or-nothing and version semantics. */
public final class InMemoryLedgerStore implements LedgerStore {
  private final Map<String, AccountWrite> accounts = new HashMap<>();
  private final Map<String, GrantRow> grants = new LinkedHashMap<>();
  private final Map<String, ReservationRow> reservations = new LinkedHashMap<>();
  final Map<String, EntryRow> entries = new LinkedHashMap<>();
  int writes;

  @Override
  public synchronized Map<String, AccountRow> load(Collection<String> accountIds) {
    Map<String, AccountRow> rows = new HashMap<>();
    for (String id : accountIds) {
      AccountWrite a = accounts.get(id);
      if (a != null) {
        rows.put(id, new AccountRow(id, a.newVersion(), a.toppedUpNanos(), a.creditLimitNanos(),
            grants.values().stream().filter(g -> g.accountId().equals(id) && g.remainingNanos() > 0).toList(),
            reservations.values().stream().filter(r -> r.accountId().equals(id) && r.state() == ReservationState.PENDING).toList()));
      }
    }
    return rows;
  }

  @Override
  public synchronized Map<String, ReservationRow> findReservations(Collection<String> ids) {
    Map<String, ReservationRow> found = new HashMap<>();
    for (String id : ids) {
      if (reservations.containsKey(id)) {
        found.put(id, reservations.get(id));
      }
    }
    return found;
  }

  @Override
  public synchronized Map<String, EntryRow> findEntries(Collection<String> ids) {
    Map<String, EntryRow> found = new HashMap<>();
    for (String id : ids) {
      if (entries.containsKey(id)) {
        found.put(id, entries.get(id));
      }
    }
    return found;
  }

  @Override
  public synchronized List<String> accountsWithDue(long nowMillis, int limit) {
    Set<String> due = new TreeSet<>();
    reservations.values().stream().filter(r -> r.state() == ReservationState.PENDING && r.expiresAtMillis() <= nowMillis)
        .forEach(r -> due.add(r.accountId()));
    grants.values().stream().filter(g -> g.remainingNanos() > 0 && g.expiresAtMillis() <= nowMillis)
        .forEach(g -> due.add(g.accountId()));
    return new ArrayList<>(due).subList(0, Math.min(limit, due.size()));
  }

  @Override
  public synchronized void write(Batch batch) {
    Set<String> conflicts = new TreeSet<>();
    for (AccountWrite a : batch.accounts()) {
      AccountWrite current = accounts.get(a.accountId());
      long version = current == null ? 0 : current.newVersion();
      if (version != a.expectedVersion()) {
        conflicts.add(a.accountId());
      }
    }
    if (!conflicts.isEmpty()) {
      throw new LedgerConflictException(conflicts);
    }
    for (ReservationRow r : batch.newReservations()) {
      if (reservations.containsKey(r.id())) {
        throw new IllegalStateException("duplicate reservation id " + r.id());
      }
    }
    for (EntryRow e : batch.entries()) {
      if (entries.containsKey(e.id())) {
        throw new IllegalStateException("duplicate entry id " + e.id());
      }
    }
    for (AccountWrite a : batch.accounts()) {
      accounts.put(a.accountId(), a);
    }
    batch.newGrants().forEach(g -> grants.put(g.id(), g));
    batch.changedGrants().forEach(g -> grants.put(g.id(), g));
    batch.newReservations().forEach(r -> reservations.put(r.id(), r));
    batch.changedReservations().forEach(r -> reservations.put(r.id(), r));
    batch.entries().forEach(e -> entries.put(e.id(), e));
    writes++;
  }

  synchronized List<EntryRow> journal() {
    return List.copyOf(entries.values());
  }
}
