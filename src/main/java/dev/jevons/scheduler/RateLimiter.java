package dev.jevons.scheduler;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Per-account and per-key limits on requests per minute, tokens per minute and concurrent
 * requests, checked before a request may queue.
 *
 * <p>A request is admitted only if every limit of both its account and its key has room; it then
 * counts against all of them at once. The token count is the request's estimate (prompt plus
 * maximum output, the same figure the ledger reserves) and is corrected by {@link
 * Permit#settleTokens} when the request ends. {@link LocalRateLimiter} keeps the state in this
 * process; a Redis implementation shares it across gateway nodes behind the same interface.
 */
public interface RateLimiter {

  /**
   * Admits the request and counts it against every limit, or counts it against none and says which
   * limit stopped it. {@code estimatedTokens} must be >= 0.
   */
  Decision tryAcquire(LimitKeys keys, Limits accountLimits, Limits keyLimits, long estimatedTokens);

  /** The state behind the {@code x-ratelimit-*} headers, without counting anything. */
  Snapshot snapshot(LimitKeys keys, Limits accountLimits, Limits keyLimits);

  enum Scope {
    ACCOUNT,
    KEY;

    String label() {
      return this == ACCOUNT ? "account" : "key";
    }
  }

  enum Kind {
    REQUESTS_PER_MINUTE("requests per minute"),
    TOKENS_PER_MINUTE("tokens per minute"),
    CONCURRENT_REQUESTS("concurrent requests");

    private final String label;

    Kind(String label) {
      this.label = label;
    }

    public String label() {
      return label;
    }
  }

  sealed interface Decision permits Admitted, Rejected {
    /** For the response headers, after this decision. */
    Snapshot snapshot();
  }

  /** The request counts against every limit until its permit is released. */
  record Admitted(Permit permit, Snapshot snapshot) implements Decision {}

  /**
   * The request was not counted anywhere. When several limits are exceeded this names the one
   * that frees last, so retrying after {@code retryAfterNanos} is not refused by another.
   *
   * @param remaining what the limit has left now (requests, tokens or free concurrent slots)
   * @param requested what this request asked of it (1 request, its estimated tokens, 1 slot)
   * @param retryAfterNanos when the request would fit, if nothing else changes; for concurrency,
   *     which frees when some request ends, a configured hint
   */
  record Rejected(
      Scope scope, Kind kind, long limit, long remaining, long requested, long retryAfterNanos, Snapshot snapshot)
      implements Decision {

    /** A token estimate larger than the whole per-minute limit: waiting will not help. */
    public boolean neverFits() {
      return requested > limit;
    }

    /** Whole seconds for {@code Retry-After}, rounded up, at least 1. */
    public long retryAfterSeconds() {
      return Math.max(1, (retryAfterNanos + 999_999_999L) / 1_000_000_000L);
    }

    public String message() {
      String who = scope.label();
      if (neverFits()) {
        return String.format(Locale.ROOT,
            "rate limit exceeded: this request needs %,d tokens, more than the %s limit of %,d %s",
            requested, who, limit, kind.label());
      }
      return String.format(Locale.ROOT,
          "rate limit exceeded: %s limit of %,d %s, %,d remaining, this request needs %,d; retry after %s",
          who, limit, kind.label(), remaining, requested, Snapshot.formatDuration(retryAfterNanos));
    }
  }

  /**
   * A request's hold on its limits. {@link #release} when the request ends, however it ends;
   * {@link #settleTokens} once with the tokens it really used. Both are idempotent: only the first
   * call counts.
   */
  interface Permit {
    void settleTokens(long actualTokens);

    void release();
  }

  /**
   * One limit as OpenAI's headers report it: the limit, what is left, and how long until it is
   * back to full.
   */
  record Window(long limit, long remaining, long resetNanos) {}

  /**
   * The tighter (less remaining) of the account's and the key's windows, for requests and for
   * tokens; null where neither is limited.
   */
  record Snapshot(@Nullable Window requests, @Nullable Window tokens) {
    public static final Snapshot NONE = new Snapshot(null, null);

    /**
     * OpenAI's {@code x-ratelimit-*} headers, in a stable order, empty when nothing is limited.
     * Reset times are written like Go durations ("1s", "6m0s", "250ms"), as OpenAI does.
     */
    public Map<String, String> headers() {
      Map<String, String> h = new LinkedHashMap<>();
      if (requests != null) {
        h.put("x-ratelimit-limit-requests", Long.toString(requests.limit()));
        h.put("x-ratelimit-remaining-requests", Long.toString(requests.remaining()));
        h.put("x-ratelimit-reset-requests", formatDuration(requests.resetNanos()));
      }
      if (tokens != null) {
        h.put("x-ratelimit-limit-tokens", Long.toString(tokens.limit()));
        h.put("x-ratelimit-remaining-tokens", Long.toString(tokens.remaining()));
        h.put("x-ratelimit-reset-tokens", formatDuration(tokens.resetNanos()));
      }
      return h;
    }

    /**
     * Go's {@code Duration.String} after rounding up to whole milliseconds (a client that waits
     * the printed time is never early): "0s", "17ms", "1s", "1.5s", "6m0s", "1h0m0s".
     */
    public static String formatDuration(long nanos) {
      if (nanos <= 0) {
        return "0s";
      }
      long millis = (nanos + 999_999L) / 1_000_000L;
      if (millis < 1000) {
        return millis + "ms";
      }
      long hours = millis / 3_600_000L;
      long minutes = millis / 60_000L % 60;
      long seconds = millis / 1000 % 60;
      long fraction = millis % 1000;
      StringBuilder b = new StringBuilder();
      if (hours > 0) {
        b.append(hours).append('h');
      }
      if (hours > 0 || minutes > 0) {
        b.append(minutes).append('m');
      }
      b.append(seconds);
      if (fraction > 0) {
        String digits = String.format(Locale.ROOT, "%03d", fraction);
        int end = digits.length();
        while (digits.charAt(end - 1) == '0') {
          end--;
        }
        b.append('.').append(digits, 0, end);
      }
      return b.append('s').toString();
    }
  }
}
