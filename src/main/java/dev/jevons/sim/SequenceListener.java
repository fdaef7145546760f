package dev.jevons.sim;

/**
 * Receives one sequence's events from {@link EngineModel}. Called on whichever thread advances the
 * engine, while the engine is being advanced: implementations must be quick and must not call back
 * into the engine. Times are engine nanos (the clock the caller passes in).
 */
public interface SequenceListener {

  /** The sequence got a slot; {@code cachedPromptTokens} of its prompt hit the prefix cache. */
  default void onAdmitted(long nanos, int cachedPromptTokens) {}

  /** Output token {@code index} (0-based; 0 is the first token, produced by prefill). */
  void onToken(long nanos, int index);

  /** The last output token was produced; the slot and KV blocks are free again. */
  void onFinished(long nanos, int outputTokens);

  /** The sequence was cancelled by {@link EngineModel#cancel}; called from within cancel. */
  default void onCancelled(long nanos, int outputTokens) {}
}
