package dev.jevons.scheduler;

import org.jspecify.annotations.Nullable;

/**
 * The rate limits of one account or one API key. A null value means no limit of that kind.
 *
 * @param requestsPerMinute requests admitted per minute, in [1, {@link #MAX_PER_MINUTE}]
 * @param tokensPerMinute estimated (then settled) tokens per minute, in [1, {@link #MAX_PER_MINUTE}]
 * @param concurrentRequests requests in flight at once, in [1, {@link #MAX_CONCURRENT}]
 */
public record Limits(
    @Nullable Long requestsPerMinute, @Nullable Long tokensPerMinute, @Nullable Integer concurrentRequests) {

  /**
   * Per-minute limits stop here so the limiter's exact integer arithmetic (limit x window nanos)
   * stays inside a long; a tenant that needs more is configured unlimited.
   */
  public static final long MAX_PER_MINUTE = 100_000_000L;

  public static final int MAX_CONCURRENT = 1_000_000;

  public static final Limits UNLIMITED = new Limits(null, null, null);

  public Limits {
    if (requestsPerMinute != null && (requestsPerMinute < 1 || requestsPerMinute > MAX_PER_MINUTE)) {
      throw new IllegalArgumentException("requests per minute must be in [1, " + MAX_PER_MINUTE + "] or unlimited: " + requestsPerMinute);
    }
    if (tokensPerMinute != null && (tokensPerMinute < 1 || tokensPerMinute > MAX_PER_MINUTE)) {
      throw new IllegalArgumentException("tokens per minute must be in [1, " + MAX_PER_MINUTE + "] or unlimited: " + tokensPerMinute);
    }
    if (concurrentRequests != null && (concurrentRequests < 1 || concurrentRequests > MAX_CONCURRENT)) {
      throw new IllegalArgumentException("concurrent requests must be in [1, " + MAX_CONCURRENT + "] or unlimited: " + concurrentRequests);
    }
  }

  public boolean unlimited() {
    return requestsPerMinute == null && tokensPerMinute == null && concurrentRequests == null;
  }
}
