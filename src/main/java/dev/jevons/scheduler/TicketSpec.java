package dev.jevons.scheduler;

/**
 * What the queue needs to know of a request.
 *
 * @param weight the account's share in fair queueing (2 = twice the service of weight 1)
 * @param band strict priority band, 0 highest; a lower band is served only when no higher band
 *     waits for the same capacity
 * @param maxWaitNanos how long the request may wait before it must have started
 * @param prefix block hashes of the prompt, for prefix-cache-aware routing
 */
public record TicketSpec(
    String accountId,
    double weight,
    int band,
    String model,
    long promptTokens,
    long maxOutputTokens,
    long maxWaitNanos,
    PromptPrefix prefix) {
  private static final PromptPrefix NO_PREFIX = PromptPrefix.ofHashes();

  public TicketSpec(String accountId, double weight, int band, String model, long promptTokens, long maxOutputTokens, long maxWaitNanos) {
    this(accountId, weight, band, model, promptTokens, maxOutputTokens, maxWaitNanos, NO_PREFIX);
  }

  public TicketSpec {
    if (!(weight > 0) || weight > 1_000_000) {
      throw new IllegalArgumentException("weight must be in (0, 1e6]: " + weight);
    }
    if (band < 0 || band >= FairQueue.MAX_BANDS) {
      throw new IllegalArgumentException("band must be in [0, " + FairQueue.MAX_BANDS + "): " + band);
    }
    if (promptTokens < 0 || maxOutputTokens < 0 || maxWaitNanos < 0) {
      throw new IllegalArgumentException("token counts and the wait must not be negative");
    }
  }
}
