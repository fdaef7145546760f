package dev.jevons.billing;

import java.util.Set;

/**
 * A {@link LedgerStore#write} found that another writer (another gateway node) changed one of the
 * batch's accounts since it was read; the store rolled the whole batch back.
 */
public final class LedgerConflictException extends RuntimeException {
  private final Set<String> accountIds;

  public LedgerConflictException(Set<String> accountIds) {
    super("accounts changed by another writer: " + accountIds);
    this.accountIds = Set.copyOf(accountIds);
  }

  public Set<String> accountIds() {
    return accountIds;
  }
}
