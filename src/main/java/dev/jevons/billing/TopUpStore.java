package dev.jevons.billing;

import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/** Persistence of redemption codes and handled payment events (see {@link TopUps}). */
public interface TopUpStore {

  /** A stored code: only its hash is known. Times are epoch milliseconds. */
  record CodeRow(
      String codeHash,
      long amountNanos,
      long createdAtMillis,
      @Nullable Long expiresAtMillis,
      @Nullable String redeemedBy,
      @Nullable Long redeemedAtMillis) {}

  /** Inserts all codes in one transaction. */
  void insertCodes(List<CodeRow> codes);

  Optional<CodeRow> code(String codeHash);

  /**
   * Marks the code redeemed by {@code accountId} only if no one has redeemed it yet; true if this
   * call did. The store must do it in one conditional statement, so concurrent callers cannot
   * both succeed.
   */
  boolean markRedeemed(String codeHash, String accountId, long atMillis);

  /** Whether a payment event with this id was already handled. */
  boolean eventSeen(String eventId);

  /** Records a handled payment event; a second record of the same id is ignored. */
  void recordEvent(String eventId, String provider, String type, @Nullable String accountId, @Nullable Long amountNanos, long atMillis);
}
