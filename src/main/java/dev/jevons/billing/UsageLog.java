package dev.jevons.billing;

import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/** Reads usage records back for customers and operators; implemented by the store. */
public interface UsageLog {
  /** Where a record stands in the order records are listed: by creation, then id. */
  record Position(long createdAtMillis, String id) {}

  /**
   * Records of the account created in [fromMillis, toMillis), oldest first (ties by id), at most
   * {@code limit}; with {@code after}, only those that come after it in that order (keyset paging).
   */
  List<UsageRecord> between(String accountId, long fromMillis, long toMillis, @Nullable Position after, int limit);

  /** The position of the account's record {@code id}, if it has one by that id. */
  Optional<Position> position(String accountId, String id);
}
