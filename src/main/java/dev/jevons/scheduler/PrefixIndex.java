package dev.jevons.scheduler;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/*
 * Implementation note.
 *
 * What it is: an approximate picture of which prompt prefixes each replica holds in its KV cache,
 * per model and replica, in the style of llm-d's approximate prefix-cache scorer. It is learned
 * only from Jevons's own routing decisions (record() after a dispatch): no replica is asked what
 * it holds. It is therefore wrong in known ways, all harmless to correctness since a wrong guess
 * only costs a cache miss: a replica that restarted or evicted under memory pressure still appears
 * to hold its blocks here (until LRU pushes them out or forget() is called), another gateway node's
 * dispatches are not seen, and 64-bit hash collisions are ignored.
 *
 * Bound: each (model, replica) shard keeps at most blocksPerShard block hashes, evicting the least
 * recently recorded; the number of shards is capped too (replicas and models come from
 * configuration, so the cap is only a guard). A shard is a LongLruSet (flat primitive arrays,
 * about 24 bytes per block, grown on demand), so the default of 65,536 blocks (about 4M tokens of
 * prefix) costs ~1.5 MiB per full shard; the boxed LinkedHashMap it replaced cost ~80 bytes per block
 * and a pointer chase per lookup (docs/BENCHMARKS.md, "Scheduler decision cost").
 *
 * Eviction order: record() touches a prompt's blocks last to first, so a chain's root blocks are
 * always more recent than its tail and LRU drops tails first. This keeps the index's answer a
 * prefix (so matchBlocks can binary-search for the first missing block) and mirrors vLLM, which frees a sequence's
 * blocks in reverse order so shared system prompts outlive per-conversation tails.
 *
 * Concurrency: one monitor per shard; lookups (matchBlocks) use contains, which does not
 * change recency, so they never change what is evicted. Shards are created
 * through a ConcurrentHashMap; record and match on different replicas never contend.
 */

/** Approximate, LRU-bounded index of the prompt prefixes each replica likely holds. */
public final class PrefixIndex {
  public static final int DEFAULT_BLOCKS_PER_SHARD = 65_536;
  public static final int DEFAULT_MAX_SHARDS = 4_096;

  private final int blocksPerShard;
  private final int maxShards;
  private final ConcurrentHashMap<ShardKey, Shard> shards = new ConcurrentHashMap<>();
  private final LongAdder recordsRefused = new LongAdder();

  public PrefixIndex(int blocksPerShard, int maxShards) {
    if (blocksPerShard < 1 || maxShards < 1) {
      throw new IllegalArgumentException("blocksPerShard and maxShards must be >= 1: " + blocksPerShard + ", " + maxShards);
    }
    this.blocksPerShard = blocksPerShard;
    this.maxShards = maxShards;
  }

  public PrefixIndex() {
    this(DEFAULT_BLOCKS_PER_SHARD, DEFAULT_MAX_SHARDS);
  }

  private record ShardKey(String model, String replica) {}

  /** Notes that {@code replica} was sent {@code prefix} for {@code model} and so now likely holds it. */
  public void record(String model, String replica, PromptPrefix prefix) {
    if (prefix.blocks() == 0) {
      return;
    }
    ShardKey key = new ShardKey(model, replica);
    Shard shard = shards.get(key);
    if (shard == null) {
      if (shards.size() >= maxShards) {
        recordsRefused.increment();
        return;
      }
      shard = shards.computeIfAbsent(key, k -> new Shard(blocksPerShard));
    }
    shard.record(prefix);
  }

  /** How many leading blocks of {@code prefix} {@code replica} likely holds for {@code model}. */
  public int matchBlocks(String model, String replica, PromptPrefix prefix) {
    Shard shard = shards.get(new ShardKey(model, replica));
    return shard == null ? 0 : shard.match(prefix);
  }

  /** Drops what is known about {@code replica}, e.g. after it restarted and lost its cache. */
  public void forget(String replica) {
    shards.keySet().removeIf(k -> k.replica().equals(replica));
  }

  /** Blocks held for one model and replica. */
  public int blocks(String model, String replica) {
    Shard shard = shards.get(new ShardKey(model, replica));
    return shard == null ? 0 : shard.size();
  }

  /** Records ignored because the shard cap was reached; non-zero means the cap is too low. */
  public long recordsRefused() {
    return recordsRefused.sum();
  }

  private static final class Shard {
    private final LongLruSet lru;

    Shard(int capacity) {
      this.lru = new LongLruSet(capacity);
    }

    synchronized void record(PromptPrefix prefix) {
      for (int i = prefix.blocks() - 1; i >= 0; i--) {
        lru.record(prefix.hash(i));
      }
    }

    /**
     * The held prefix length by binary search: held blocks form a prefix of every recorded chain
     * (roots are touched last, tails evicted first), so "block i is held" is monotone in i and
     * O(log n) lookups replace one per block (a 1,000-block prompt: 10 instead of 1,000).
     */
    synchronized int match(PromptPrefix prefix) {
      int lo = 0;
      int hi = prefix.blocks();
      while (lo < hi) {
        int mid = (lo + hi + 1) >>> 1;
        if (lru.contains(prefix.hash(mid - 1))) {
          lo = mid;
        } else {
          hi = mid - 1;
        }
      }
      return lo;
    }

    synchronized int size() {
      return lru.size();
    }
  }
}
