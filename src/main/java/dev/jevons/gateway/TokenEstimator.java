package dev.jevons.gateway;

/**
 * Token counts for text whose tokenizer Jevons does not know, used only when an upstream omits
 * usage. One token per four characters is the usual rule of thumb for BPE tokenizers on English;
 * it is an estimate, written down in docs/decisions.md, and never used where an upstream report
 * exists.
 */
final class TokenEstimator {
  private TokenEstimator() {}

  static long ofChars(long chars) {
    return chars <= 0 ? 0 : (chars + 3) / 4;
  }
}
