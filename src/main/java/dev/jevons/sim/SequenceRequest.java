package dev.jevons.sim;

/**
 * What a sequence asks of the engine.
 *
 * @param promptTokenIds the prompt, used for the prefix cache and prefill cost
 * @param outputTokens how many tokens it will actually generate (the caller decides EOS)
 * @param maxOutputTokens the most it could generate; reserved in the KV cache on admission
 */
public record SequenceRequest(int[] promptTokenIds, int outputTokens, int maxOutputTokens) {
  public SequenceRequest {
    if (promptTokenIds.length < 1) throw new IllegalArgumentException("empty prompt");
    if (outputTokens < 1 || outputTokens > maxOutputTokens) {
      throw new IllegalArgumentException(
          "need 1 <= outputTokens <= maxOutputTokens: " + outputTokens + ", " + maxOutputTokens);
    }
  }

  long kvTokensReserved() {
    return (long) promptTokenIds.length + maxOutputTokens;
  }
}
