package dev.jevons.sim;

import java.util.List;

/**
 * A deterministic stand-in for a BPE tokenizer, close enough in counts for English (roughly one
 * token per word) and cheap. Rules: a word (letters/digits) together with the whitespace run before
 * it is one token, and words longer than 6 characters split every 6 characters; every other
 * non-whitespace character is its own token; whitespace not followed by a word (trailing, or before
 * punctuation) is one token. A token's id is a stable hash of its text, so equal texts give equal
 * ids in every process.
 *
 * <p>Chat prompts are tokenized from a rendered template: per message a start marker, the role, a
 * newline, the content and an end marker, then a start marker and the assistant role. Messages that
 * are equal produce equal tokens, so requests sharing a long system prompt share a token prefix and
 * hit the prefix cache.
 */
final class Tokenizer {
  static final int MAX_WORD_PIECE = 6;
  private static final int IM_START = 100_001;
  private static final int IM_END = 100_002;
  private static final int NEWLINE = tokenId("\n");

  record Message(String role, String content) {}

  private Tokenizer() {}

  /** Token count and ids of plain text, appended to {@code out}. */
  static void tokenize(String text, IntList out) {
    int n = text.length();
    int i = 0;
    while (i < n) {
      int start = i;
      while (i < n && Character.isWhitespace(text.charAt(i))) i++;
      if (i < n && Character.isLetterOrDigit(text.charAt(i))) {
        int wordStart = i;
        while (i < n && Character.isLetterOrDigit(text.charAt(i))) i++;
        // The whitespace rides on the first piece; later pieces of a long word stand alone.
        int pieceStart = start;
        for (int p = wordStart; p < i; p += MAX_WORD_PIECE) {
          int end = Math.min(i, p + MAX_WORD_PIECE);
          out.add(hash(text, pieceStart, end));
          pieceStart = end;
        }
      } else if (i > start) {
        out.add(hash(text, start, i));
      } else {
        out.add(hash(text, i, i + 1));
        i++;
      }
    }
  }

  static int[] tokenize(String text) {
    IntList out = new IntList(Math.max(16, text.length() / 4));
    tokenize(text, out);
    return out.toArray();
  }

  static int[] renderChat(List<Message> messages) {
    IntList out = new IntList(64);
    for (Message m : messages) {
      out.add(IM_START);
      tokenize(m.role(), out);
      out.add(NEWLINE);
      tokenize(m.content(), out);
      out.add(IM_END);
    }
    out.add(IM_START);
    tokenize("assistant", out);
    out.add(NEWLINE);
    return out.toArray();
  }

  static int tokenId(String text) {
    return hash(text, 0, text.length());
  }

  private static int hash(String s, int from, int to) {
    // FNV-1a over UTF-16 units: stable across JVMs, unlike String.hashCode mixing choices.
    int h = 0x811C9DC5;
    for (int i = from; i < to; i++) {
      h ^= s.charAt(i);
      h *= 0x01000193;
    }
    return h & 0x7FFF_FFFF;
  }

  /** Growable int array, so tokenizing a long prompt does not box every id. */
  static final class IntList {
    private int[] a;
    private int size;

    IntList(int capacity) {
      a = new int[capacity];
    }

    void add(int v) {
      if (size == a.length) a = java.util.Arrays.copyOf(a, a.length * 2);
      a[size++] = v;
    }

    int[] toArray() {
      return java.util.Arrays.copyOf(a, size);
    }
  }
}
