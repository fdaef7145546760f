package dev.jevons.billing;

/**
 * What a journal row records. The posted balance of an account is the sum of the amounts of the
 * kinds for which {@link #posted()} holds, counting each usage record that carries an account
 * version as a {@link #DEBIT_TOPPED_UP} of minus its cost ({@link LedgerStore.UsageRow}); the
 * other kinds record holds and settings.
 */
public enum EntryKind {
  TOP_UP(true),
  GRANT(true),
  /** The unspent rest of a grant that expired; negative. */
  GRANT_LAPSE(true),
  /** The new credit limit (the amount is the limit, not a change). */
  CREDIT_LIMIT(false),
  RESERVE(false),
  EXTEND(false),
  /** Part of a post paid from one grant; negative. */
  DEBIT_GRANT(true),
  /** Part of a post paid from topped-up credit; negative. */
  DEBIT_TOPPED_UP(true),
  VOID(false),
  EXPIRE(false);

  private final boolean posted;

  EntryKind(boolean posted) {
    this.posted = posted;
  }

  public boolean posted() {
    return posted;
  }
}
