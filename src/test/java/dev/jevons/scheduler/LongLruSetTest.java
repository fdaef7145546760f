package dev.jevons.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class LongLruSetTest {
  @Test
  void evicts_the_least_recently_recorded_once_full() {
    LongLruSet set = new LongLruSet(3);
    set.record(1);
    set.record(2);
    set.record(3);
    set.record(1); // 2 is now the least recent
    set.record(4);
    assertThat(set.contains(2)).isFalse();
    assertThat(List.of(set.contains(1), set.contains(3), set.contains(4))).containsOnly(true);
    assertThat(set.size()).isEqualTo(3);
  }

  @Test
  void looking_up_does_not_refresh() {
    LongLruSet set = new LongLruSet(2);
    set.record(1);
    set.record(2);
    assertThat(set.contains(1)).isTrue();
    set.record(3);
    assertThat(set.contains(1)).isFalse();
  }

  @Test
  void keys_that_collide_in_the_table_survive_removals_between_them() {
    // Multiples of 2^40 share their low bits, so many land in one probe run; evicting from the
    // middle of the run must keep the later ones reachable.
    LongLruSet set = new LongLruSet(8);
    for (long k = 1; k <= 64; k++) {
      set.record(k << 40);
      for (long j = Math.max(1, k - 7); j <= k; j++) {
        assertThat(set.contains(j << 40)).as("key %d after recording %d", j, k).isTrue();
      }
      assertThat(set.contains((k - 8) << 40)).as("evicted (or never recorded)").isFalse();
    }
  }

  @Provide
  Arbitrary<List<Long>> keys() {
    // A small key space, so keys repeat (refreshes) and the set fills and evicts.
    return Arbitraries.longs().between(0, 300).map(k -> k * 0x1_0000_0001L).list().ofMaxSize(3_000);
  }

  @Property(tries = 200)
  void behaves_like_an_access_ordered_linked_hash_map(@ForAll("keys") List<Long> keys, @ForAll @IntRange(min = 1, max = 700) int capacity) {
    LongLruSet set = new LongLruSet(capacity);
    Map<Long, Boolean> model =
        new LinkedHashMap<>(16, 0.75f, true) {
          @Override
          protected boolean removeEldestEntry(Map.Entry<Long, Boolean> eldest) {
            return size() > capacity;
          }
        };
    for (long k : keys) {
      set.record(k);
      model.put(k, Boolean.TRUE);
      assertThat(set.size()).isEqualTo(model.size());
    }
    for (long k = 0; k <= 300; k++) {
      long key = k * 0x1_0000_0001L;
      assertThat(set.contains(key)).isEqualTo(model.containsKey(key));
    }
  }
}
