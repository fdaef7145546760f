package dev.jevons.billing;

import java.util.Collection;
import java.util.List;
import java.util.Map;

/** A store that tests wrap to inject delays, failures and other writers. */
public class ForwardingStore implements LedgerStore {
  private final LedgerStore delegate;

  public ForwardingStore(LedgerStore delegate) {
    this.delegate = delegate;
  }

  @Override
  public Map<String, AccountRow> load(Collection<String> accountIds) {
    return delegate.load(accountIds);
  }

  @Override
  public Map<String, ReservationRow> findReservations(Collection<String> reservationIds) {
    return delegate.findReservations(reservationIds);
  }

  @Override
  public Map<String, EntryRow> findEntries(Collection<String> entryIds) {
    return delegate.findEntries(entryIds);
  }

  @Override
  public List<String> accountsWithDue(long nowMillis, int limit) {
    return delegate.accountsWithDue(nowMillis, limit);
  }

  @Override
  public void write(Batch batch) {
    delegate.write(batch);
  }
}
