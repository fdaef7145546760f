package dev.jevons.sim;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Prefix cache over 64-token blocks, keyed by a hash chain (a block's hash covers every token
 * before it, so equal hashes mean equal prefixes), evicting the least recently used block. Only
 * full blocks are cached and hits count in whole blocks, as in vLLM's automatic prefix caching and
 * DeepSeek's context cache. Not thread-safe: owned by {@link EngineModel}.
 */
final class PrefixCache {
  static final int BLOCK_TOKENS = 64;

  private final LinkedHashMap<Long, Boolean> blocks;

  PrefixCache(int maxBlocks) {
    if (maxBlocks < 1) throw new IllegalArgumentException("maxBlocks must be >= 1");
    // Access order gives LRU; the eldest entry goes once the bound is passed.
    this.blocks =
        new LinkedHashMap<>(Math.min(maxBlocks, 1 << 16), 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<Long, Boolean> eldest) {
            return size() > maxBlocks;
          }
        };
  }

  /**
   * Hash chain of the blocks that may be cached for this prompt. The last prompt token is never
   * part of a cacheable block: the engine must compute at least one token to produce logits, so
   * a prompt that is an exact multiple of 64 tokens can hit at most all blocks but the last.
   */
  static long[] blockHashes(int[] promptTokenIds) {
    int n = (promptTokenIds.length - 1) / BLOCK_TOKENS;
    long[] hashes = new long[n];
    long h = 0x9E3779B97F4A7C15L;
    for (int b = 0; b < n; b++) {
      for (int i = b * BLOCK_TOKENS, end = i + BLOCK_TOKENS; i < end; i++) {
        h = mix(h * 31 + promptTokenIds[i]);
      }
      hashes[b] = h;
    }
    return hashes;
  }

  /** Number of leading blocks present (touching them), in blocks. */
  int lookup(long[] hashes) {
    int hit = 0;
    while (hit < hashes.length && blocks.get(hashes[hit]) != null) hit++;
    return hit;
  }

  void insert(long[] hashes) {
    for (long h : hashes) blocks.put(h, Boolean.TRUE);
  }

  int size() {
    return blocks.size();
  }

  static long mix(long z) {
    // SplitMix64 finalizer: cheap and well distributed, so chains of ints do not collide in practice.
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
