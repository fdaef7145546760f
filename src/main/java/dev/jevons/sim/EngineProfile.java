package dev.jevons.sim;

import java.util.List;

/**
 * The performance envelope of one simulated inference server (one replica). Immutable; see the
 * implementation note on {@link EngineModel} for how each number is used and how {@code h800} was
 * calibrated.
 *
 * @param maxNumSeqs continuous-batching cap (vLLM's {@code max_num_seqs})
 * @param kvCapacityTokens KV-cache capacity; a running sequence holds prompt + max output tokens
 * @param prefillTokensPerSecond prefill throughput for uncached prompt tokens; infinite = free
 * @param decodeBaseNanos fixed cost of one decode step
 * @param decodePerSeqNanos extra cost of a decode step per sequence in the batch
 * @param maxPrefillTokensPerStep prefill budget per step (vLLM's {@code max_num_batched_tokens});
 *     a step always admits at least one waiting sequence if slots and KV allow
 * @param maxWaitingSequences bound on the engine's waiting queue; beyond it submissions are refused
 * @param maxModelLenTokens prompt + output limit of one sequence
 */
public record EngineProfile(
    String name,
    int maxNumSeqs,
    long kvCapacityTokens,
    double prefillTokensPerSecond,
    long decodeBaseNanos,
    long decodePerSeqNanos,
    int maxPrefillTokensPerStep,
    int maxWaitingSequences,
    int maxModelLenTokens) {

  public static final List<String> NAMES = List.of("instant", "h800", "small");

  public EngineProfile {
    if (maxNumSeqs < 1) throw new IllegalArgumentException("maxNumSeqs must be >= 1: " + maxNumSeqs);
    if (kvCapacityTokens < 1) throw new IllegalArgumentException("kvCapacityTokens must be >= 1");
    if (!(prefillTokensPerSecond > 0)) {
      throw new IllegalArgumentException("prefillTokensPerSecond must be > 0");
    }
    if (decodeBaseNanos < 0 || decodePerSeqNanos < 0) {
      throw new IllegalArgumentException("decode step times must be >= 0");
    }
    if (maxPrefillTokensPerStep < 1 || maxWaitingSequences < 0 || maxModelLenTokens < 2) {
      throw new IllegalArgumentException("invalid limits in profile " + name);
    }
    if (maxModelLenTokens > kvCapacityTokens) {
      throw new IllegalArgumentException(
          "maxModelLenTokens " + maxModelLenTokens + " exceeds kvCapacityTokens " + kvCapacityTokens
              + ": such a sequence could never be admitted");
    }
  }

  /** No delays at all: measures gateway overhead, not inference. */
  public static EngineProfile instant() {
    return new EngineProfile(
        "instant", 65_536, 1L << 40, Double.POSITIVE_INFINITY, 0, 0, Integer.MAX_VALUE, 65_536,
        131_072);
  }

  /**
   * One 8-GPU H800 node, calibrated to DeepSeek's published figures (arithmetic in the note on
   * {@link EngineModel}).
   */
  public static EngineProfile h800() {
    return new EngineProfile(
        "h800", 704, 4L << 20, 73_700.0, 15_000_000L, 46_260L, 16_384, 4_096, 65_536);
  }

  /** Four slots at tens of tokens per second: a laptop can overload it. */
  public static EngineProfile small() {
    return new EngineProfile("small", 4, 32_768, 2_000.0, 40_000_000L, 5_000_000L, 4_096, 64, 8_192);
  }

  public static EngineProfile byName(String name) {
    return switch (name) {
      case "instant" -> instant();
      case "h800" -> h800();
      case "small" -> small();
      default ->
          throw new IllegalArgumentException(
              "unknown sim profile '" + name + "'; accepted: " + String.join(", ", NAMES));
    };
  }

  /** Duration of a decode step with {@code batchSize} sequences. */
  public long decodeStepNanos(int batchSize) {
    return decodeBaseNanos + decodePerSeqNanos * batchSize;
  }

  /** Duration of prefilling {@code tokens} uncached prompt tokens. */
  public long prefillNanos(long tokens) {
    return Math.round(tokens * 1e9 / prefillTokensPerSecond);
  }

  /** True when every step takes zero time, so a submission completes within the same call. */
  public boolean isInstant() {
    return decodeBaseNanos == 0 && decodePerSeqNanos == 0 && Double.isInfinite(prefillTokensPerSecond);
  }
}
