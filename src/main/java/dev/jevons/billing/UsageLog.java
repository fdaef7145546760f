package dev.jevons.billing;

import java.util.List;

/** Reads usage records back for customers and operators; implemented by the store. */
public interface UsageLog {
  /** Records of the account created in [fromMillis, toMillis), oldest first, at most {@code limit}. */
  List<UsageRecord> between(String accountId, long fromMillis, long toMillis, int limit);
}
