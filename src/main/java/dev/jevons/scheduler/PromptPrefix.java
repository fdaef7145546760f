package dev.jevons.scheduler;

import java.util.Arrays;
import java.util.List;

/**
 * A prompt as a chain of block hashes, the key of the {@link PrefixIndex}: block i's hash covers
 * the block's text and, through the previous hash, everything before it, so two prompts share
 * block i's hash exactly when they share their first i + 1 blocks (up to 64-bit collisions).
 *
 * <p>What is approximate, on purpose: a block is {@value #BLOCK_CHARS} UTF-16 characters of the
 * rendered prompt, about {@value #BLOCK_TOKENS} tokens of English at the usual four characters per
 * token (inference servers cache 16- or 64-token blocks of real tokens, which Jevons cannot see
 * without the model's tokenizer). Chat messages are rendered as role, a NUL, the content and a
 * SOH, not through the model's chat template; the rendering only has to be stable and
 * prefix-preserving, which it is: a conversation that grows by appending messages keeps its blocks.
 * Only whole blocks are hashed, as servers cache only full blocks. Hashing reads each character
 * once and allocates one array; no JSON is touched here.
 */
public final class PromptPrefix {
  public static final int BLOCK_CHARS = 256;
  public static final int BLOCK_TOKENS = 64;
  /** Bound on blocks hashed per prompt (about 65k tokens); longer prompts are indexed by their head. */
  public static final int MAX_BLOCKS = 1024;

  private static final PromptPrefix EMPTY = new PromptPrefix(new long[0]);

  private final long[] hashes;

  private PromptPrefix(long[] hashes) {
    this.hashes = hashes;
  }

  /** One chat message as the gateway parsed it; {@code content} is its text parts joined. */
  public record Message(String role, String content) {}

  public static PromptPrefix ofPrompt(String prompt) {
    Chain chain = new Chain(prompt.length() / BLOCK_CHARS);
    chain.append(prompt);
    return chain.finish();
  }

  public static PromptPrefix ofMessages(List<Message> messages) {
    long chars = 0;
    for (Message m : messages) {
      chars += m.role().length() + m.content().length() + 2L;
    }
    Chain chain = new Chain(chars / BLOCK_CHARS);
    for (Message m : messages) {
      if (chain.full()) {
        break;
      }
      chain.append(m.role());
      chain.append('\u0000');
      chain.append(m.content());
      chain.append('\u0001');
    }
    return chain.finish();
  }

  /** For tests and callers that keep hashes elsewhere (a shared index, say). */
  public static PromptPrefix ofHashes(long... hashes) {
    return hashes.length == 0 ? EMPTY : new PromptPrefix(Arrays.copyOf(hashes, Math.min(hashes.length, MAX_BLOCKS)));
  }

  public int blocks() {
    return hashes.length;
  }

  public long hash(int block) {
    return hashes[block];
  }

  /** Estimated prompt tokens the first {@code blocks} blocks cover. */
  public static long tokensOf(int blocks) {
    return (long) blocks * BLOCK_TOKENS;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof PromptPrefix p && Arrays.equals(hashes, p.hashes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(hashes);
  }

  @Override
  public String toString() {
    return "PromptPrefix[" + hashes.length + " blocks]";
  }

  /** FNV-1a over the characters of a block, seeded by the previous block's hash, then a 64-bit finaliser. */
  private static final class Chain {
    private static final long FNV_OFFSET = 0xcbf29ce484222325L;
    private static final long FNV_PRIME = 0x100000001b3L;

    private final long[] out;
    private int blocks;
    private int inBlock;
    private long previous = 0x9E3779B97F4A7C15L;
    private long state = seed(previous);

    Chain(long expectedBlocks) {
      out = new long[(int) Math.min(expectedBlocks, MAX_BLOCKS)];
    }

    boolean full() {
      return blocks == out.length;
    }

    void append(String s) {
      for (int i = 0, n = s.length(); i < n && blocks < out.length; i++) {
        append(s.charAt(i));
      }
    }

    void append(char c) {
      if (blocks == out.length) {
        return;
      }
      state = (state ^ c) * FNV_PRIME;
      if (++inBlock == BLOCK_CHARS) {
        previous = mix(state);
        out[blocks++] = previous;
        state = seed(previous);
        inBlock = 0;
      }
    }

    PromptPrefix finish() {
      return blocks == 0 ? EMPTY : new PromptPrefix(blocks == out.length ? out : Arrays.copyOf(out, blocks));
    }

    private static long seed(long previous) {
      return FNV_OFFSET ^ mix(previous + 0x632BE59BD9B4E019L);
    }

    /** MurmurHash3's fmix64. */
    private static long mix(long h) {
      h ^= h >>> 33;
      h *= 0xff51afd7ed558ccdL;
      h ^= h >>> 33;
      h *= 0xc4ceb9fe1a85ec53L;
      h ^= h >>> 33;
      return h;
    }
  }
}
