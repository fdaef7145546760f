package dev.jevons.sim;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The prefix-cache hits a single replica with an unbounded cache would get for a sequence of chat
 * prompts, tokenized and cut into blocks exactly as the simulator does ({@link Tokenizer}, 64-token
 * blocks, the block holding the last prompt token never cached). The ceiling a router can approach:
 * every prefix is computed once and found by every later prompt that shares it. Benchmarks compare
 * a fleet's measured hit rate with it. Not thread-safe.
 */
public final class IdealPrefixCache {
  /** One chat message, as sent in {@code messages}. */
  public record Message(String role, String content) {}

  private final Set<Long> held = new HashSet<>();
  private long promptTokens;
  private long hitTokens;

  /** Offers a prompt in arrival order; returns the prompt tokens it would find cached. */
  public int offer(List<Message> messages) {
    List<Tokenizer.Message> rendered = new ArrayList<>(messages.size());
    for (Message m : messages) {
      rendered.add(new Tokenizer.Message(m.role(), m.content()));
    }
    int[] ids = Tokenizer.renderChat(rendered);
    long[] blocks = PrefixCache.blockHashes(ids);
    int hit = 0;
    while (hit < blocks.length && held.contains(blocks[hit])) {
      hit++;
    }
    for (long b : blocks) {
      held.add(b);
    }
    promptTokens += ids.length;
    hitTokens += (long) hit * PrefixCache.BLOCK_TOKENS;
    return hit * PrefixCache.BLOCK_TOKENS;
  }

  /** Prompt tokens offered so far. */
  public long promptTokens() {
    return promptTokens;
  }

  /** Of those, tokens an unbounded cache would have hit. */
  public long hitTokens() {
    return hitTokens;
  }
}
