package dev.jevons.gateway;

import org.jspecify.annotations.Nullable;

/**
 * What one request did, filled in as it goes through the pipeline and read once at the end for
 * the access log and the metrics. Confined to the request's own thread.
 */
public final class RequestRecord {
  private final String requestId;
  private final long startNanos;
  private @Nullable String accountId;
  private @Nullable String keyPrefix;
  private @Nullable String model;
  private @Nullable String upstream;
  private boolean stream;
  private Usage usage = Usage.NONE;
  private long firstTokenNanos;
  private @Nullable Runnable onFirstToken;
  private int attempts;
  private long queuedNanos;
  private long costNanos;
  private String outcome = "ok";

  public RequestRecord(String requestId, long startNanos) {
    this.requestId = requestId;
    this.startNanos = startNanos;
  }

  public String requestId() {
    return requestId;
  }

  public long startNanos() {
    return startNanos;
  }

  public @Nullable String accountId() {
    return accountId;
  }

  public @Nullable String keyPrefix() {
    return keyPrefix;
  }

  public void caller(String accountId, String keyPrefix) {
    this.accountId = accountId;
    this.keyPrefix = keyPrefix;
  }

  public @Nullable String model() {
    return model;
  }

  void model(String model) {
    this.model = model;
  }

  public @Nullable String upstream() {
    return upstream;
  }

  void upstream(String upstream) {
    this.upstream = upstream;
  }

  public boolean stream() {
    return stream;
  }

  void stream(boolean stream) {
    this.stream = stream;
  }

  public Usage usage() {
    return usage;
  }

  void usage(Usage usage) {
    this.usage = usage;
  }

  /** Nanos from start to the first token sent to the client; 0 if none was. */
  public long firstTokenNanos() {
    return firstTokenNanos;
  }

  void firstToken(long nowNanos) {
    if (firstTokenNanos == 0) {
      firstTokenNanos = Math.max(1, nowNanos - startNanos);
      Runnable hook = onFirstToken;
      if (hook != null) {
        hook.run();
      }
    }
  }

  /** Runs once when the first token reaches the client (the server finished the prefill). */
  void onFirstToken(Runnable hook) {
    this.onFirstToken = hook;
  }

  /** What the request was charged, in nanos of the currency; 0 when free or voided. */
  public long costNanos() {
    return costNanos;
  }

  void cost(long nanos) {
    this.costNanos = nanos;
  }

  /** Time spent waiting in the fair queue for capacity. */
  public long queuedNanos() {
    return queuedNanos;
  }

  void queued(long nanos) {
    this.queuedNanos = nanos;
  }

  public int attempts() {
    return attempts;
  }

  void attempt() {
    attempts++;
  }

  /**
   * {@code ok}; what ended it early ({@code client_gone}, {@code upstream_failed},
   * {@code insufficient_balance}, ...); or, for a request answered with an error, that error's code.
   */
  public String outcome() {
    return outcome;
  }

  public void outcome(String outcome) {
    this.outcome = outcome;
  }

  /** The request was answered with an error: its code, unless a more specific outcome is known. */
  public void failedWith(String errorCode) {
    if (outcome.equals("ok")) {
      outcome = errorCode;
    }
  }
}
