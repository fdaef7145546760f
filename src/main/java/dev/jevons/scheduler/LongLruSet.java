package dev.jevons.scheduler;

/*
 * Implementation note.
 *
 * A bounded set of longs that evicts the least recently recorded, in flat primitive arrays: the
 * PrefixIndex's shard. It replaces an access-ordered LinkedHashMap<Long, Boolean>, which costs a
 * boxed Long and a 40-byte entry per block (about 80 bytes with the table), and a pointer chase
 * per lookup; here a block costs 8 (key) + 8 (list links) + 8 (table, at most half full) = 24
 * bytes and a lookup probes one int array and one long array.
 *
 * Layout. Entries live in slots 0..allocated-1 of keys/prev/next; prev/next form the recency list
 * (head = least recent, tail = most recent). `table` is an open-addressing index (linear probing)
 * from a key's hash to its slot + 1 (0 = empty), kept at most half full so probes stay short.
 * Removal uses backward-shift deletion (Knuth's Algorithm R), so there are no tombstones and the
 * table never needs cleaning. Once full, the head's slot is reused for the new key.
 *
 * Growth: arrays start small and double up to the capacity, so a shard that holds few blocks costs
 * little (the PrefixIndex may have hundreds of shards, most of them small).
 *
 * Not thread-safe; the shard that owns it synchronizes.
 */

/** A bounded LRU set of longs in primitive arrays; see the note above. */
final class LongLruSet {
  private static final int NIL = -1;
  private static final int INITIAL = 256;

  private final int capacity;
  private long[] keys;
  private int[] prev;
  private int[] next;
  private int[] table;
  private int mask;
  private int size;
  private int head = NIL;
  private int tail = NIL;

  LongLruSet(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("capacity must be >= 1: " + capacity);
    }
    this.capacity = capacity;
    allocate(Math.min(capacity, INITIAL));
  }

  int size() {
    return size;
  }

  boolean contains(long key) {
    return find(key) != NIL;
  }

  /** Adds {@code key} as the most recent, or makes it the most recent if present. */
  void record(long key) {
    int slot = find(key);
    if (slot != NIL) {
      if (slot != tail) {
        unlink(slot);
        linkLast(slot);
      }
      return;
    }
    if (size == capacity) {
      slot = head;
      unlink(slot);
      removeFromTable(slot);
      size--;
    } else {
      if (size == keys.length) {
        allocate(Math.min(capacity, keys.length * 2));
      }
      slot = size;
    }
    keys[slot] = key;
    linkLast(slot);
    insertIntoTable(slot);
    size++;
  }

  private static int hash(long key) {
    // Fibonacci hashing: the keys are already hashes, but their low bits need not be well mixed.
    return (int) ((key * 0x9E3779B97F4A7C15L) >>> 32);
  }

  private int find(long key) {
    for (int i = hash(key) & mask; ; i = (i + 1) & mask) {
      int e = table[i];
      if (e == 0) {
        return NIL;
      }
      if (keys[e - 1] == key) {
        return e - 1;
      }
    }
  }

  private void insertIntoTable(int slot) {
    int i = hash(keys[slot]) & mask;
    while (table[i] != 0) {
      i = (i + 1) & mask;
    }
    table[i] = slot + 1;
  }

  private void removeFromTable(int slot) {
    int hole = hash(keys[slot]) & mask;
    while (table[hole] != slot + 1) {
      hole = (hole + 1) & mask;
    }
    table[hole] = 0;
    // Shift back every later entry of the probe run that could not otherwise be found.
    for (int j = (hole + 1) & mask; table[j] != 0; j = (j + 1) & mask) {
      int home = hash(keys[table[j] - 1]) & mask;
      boolean reachable = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (!reachable) {
        table[hole] = table[j];
        table[j] = 0;
        hole = j;
      }
    }
  }

  private void unlink(int slot) {
    int p = prev[slot];
    int n = next[slot];
    if (p == NIL) {
      head = n;
    } else {
      next[p] = n;
    }
    if (n == NIL) {
      tail = p;
    } else {
      prev[n] = p;
    }
  }

  private void linkLast(int slot) {
    prev[slot] = tail;
    next[slot] = NIL;
    if (tail == NIL) {
      head = slot;
    } else {
      next[tail] = slot;
    }
    tail = slot;
  }

  private void allocate(int slots) {
    long[] oldKeys = keys;
    int[] oldPrev = prev;
    int[] oldNext = next;
    keys = new long[slots];
    prev = new int[slots];
    next = new int[slots];
    if (oldKeys != null) {
      System.arraycopy(oldKeys, 0, keys, 0, size);
      System.arraycopy(oldPrev, 0, prev, 0, size);
      System.arraycopy(oldNext, 0, next, 0, size);
    }
    table = new int[Integer.highestOneBit(Math.max(2, slots) * 2 - 1) << 1];
    mask = table.length - 1;
    for (int s = 0; s < size; s++) {
      insertIntoTable(s);
    }
  }
}
