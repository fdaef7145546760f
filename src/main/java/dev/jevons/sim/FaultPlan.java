package dev.jevons.sim;

/**
 * Faults a simulated server injects, each drawn per request from a deterministic sequence seeded
 * by {@link SimConfig#seed()} (so a sequential client sees the same faults on every run).
 *
 * @param errorRate share of requests answered 500 with an OpenAI-shaped error before any output
 * @param slowFirstByteRate share of requests whose first byte is delayed
 * @param slowFirstByteMillis that delay (divided by the time scale like every other duration)
 * @param disconnectRate share of requests whose connection is closed abruptly mid-response
 * @param disconnectAfterTokens tokens written before such a close (streams; see SimServer)
 */
public record FaultPlan(
    double errorRate,
    double slowFirstByteRate,
    long slowFirstByteMillis,
    double disconnectRate,
    int disconnectAfterTokens) {

  public FaultPlan {
    requireRate("errorRate", errorRate);
    requireRate("slowFirstByteRate", slowFirstByteRate);
    requireRate("disconnectRate", disconnectRate);
    if (slowFirstByteMillis < 0 || slowFirstByteMillis > 600_000) {
      throw new IllegalArgumentException(
          "slowFirstByteMillis must be in [0, 600000]: " + slowFirstByteMillis);
    }
    if (disconnectAfterTokens < 0) {
      throw new IllegalArgumentException("disconnectAfterTokens must be >= 0: " + disconnectAfterTokens);
    }
  }

  public static FaultPlan none() {
    return new FaultPlan(0, 0, 0, 0, 0);
  }

  private static void requireRate(String name, double rate) {
    if (!(rate >= 0 && rate <= 1)) {
      throw new IllegalArgumentException(name + " must be in [0, 1]: " + rate);
    }
  }
}
