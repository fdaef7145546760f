package dev.jevons.sim;

import java.util.List;

/**
 * Deterministic output text: token i of a completion is a word chosen by hashing (seed, prompt,
 * i), one token per word (" word"). The natural length (where the model would emit EOS) is
 * 20..200 tokens, also from (seed, prompt); max_tokens caps it and min_tokens / ignore_eos stretch
 * it, as vLLM does.
 */
final class TextGenerator {
  static final int MIN_NATURAL_TOKENS = 20;
  static final int MAX_NATURAL_TOKENS = 200;

  private static final List<String> WORDS =
      List.of(
          "the", "model", "token", "cache", "prefix", "batch", "decode", "prefill", "request",
          "stream", "server", "latency", "capacity", "queue", "fair", "price", "balance", "ledger",
          "credit", "node", "gpu", "memory", "kernel", "attention", "layer", "expert", "router",
          "answer", "question", "simple", "quick", "steady", "bright", "calm", "clear", "green",
          "river", "mountain", "cloud", "signal", "pattern", "window", "night", "morning", "light",
          "sound", "paper", "number", "value", "world", "and", "of", "to", "in", "is", "that",
          "with", "for", "on", "as", "by", "at", "from", "it");

  private final long seed;

  /** {@code seed} mixes the request's seed with the prompt so different prompts diverge. */
  TextGenerator(long requestSeed, int[] promptTokenIds) {
    long h = PrefixCache.mix(requestSeed ^ 0x5DEECE66DL);
    for (int id : promptTokenIds) h = PrefixCache.mix(h * 31 + id);
    this.seed = h;
  }

  int naturalLength() {
    long r = PrefixCache.mix(seed ^ 0x1234_5678L);
    return MIN_NATURAL_TOKENS + (int) Long.remainderUnsigned(r, MAX_NATURAL_TOKENS - MIN_NATURAL_TOKENS + 1);
  }

  String token(int index) {
    long r = PrefixCache.mix(seed + 0x9E3779B97F4A7C15L * (index + 1));
    return " " + WORDS.get((int) Long.remainderUnsigned(r, WORDS.size()));
  }
}
