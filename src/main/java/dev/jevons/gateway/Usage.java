package dev.jevons.gateway;

/**
 * Token counts of one request. {@code cachedPromptTokens} are the prompt tokens served from the
 * inference server's prefix cache. {@code counted} is true when the upstream reported no usage and
 * the gateway counted what it delivered instead.
 */
public record Usage(long promptTokens, long completionTokens, long cachedPromptTokens, boolean counted) {
  public static final Usage NONE = new Usage(0, 0, 0, true);

  public long totalTokens() {
    return promptTokens + completionTokens;
  }

  public long missPromptTokens() {
    return Math.max(0, promptTokens - cachedPromptTokens);
  }
}
