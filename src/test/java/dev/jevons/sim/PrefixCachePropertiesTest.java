package dev.jevons.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class PrefixCachePropertiesTest {

  /**
   * Prompts built from a few shared stems: cached tokens are whole blocks, never the whole prompt,
   * and never more than the longest prefix shared with an earlier prompt.
   */
  @Property(tries = 200)
  void hits_are_whole_blocks_of_a_prefix_seen_before(
      @ForAll @Size(min = 1, max = 30) List<@IntRange(min = 0, max = 3) Integer> stems,
      @ForAll @Size(min = 30, max = 30) List<@IntRange(min = 1, max = 400) Integer> lengths) {
    EngineModel e = new EngineModel(new EngineProfile("p", 8, 4_096, 1e6, 1_000, 0, 1 << 20, 100, 1_024));
    List<int[]> seen = new ArrayList<>();
    long t = 0;
    for (int i = 0; i < stems.size(); i++) {
      int[] prompt = new int[lengths.get(i)];
      for (int j = 0; j < prompt.length; j++) prompt[j] = stems.get(i) * 10_000 + j;
      int[] cached = {-1};
      e.submit(new SequenceRequest(prompt, 1, 1), new SequenceListener() {
        @Override public void onAdmitted(long nanos, int c) { cached[0] = c; }
        @Override public void onToken(long nanos, int index) {}
        @Override public void onFinished(long nanos, int n) {}
      }, t);
      e.advanceTo(t += 1_000_000_000L);
      int longestShared = 0;
      for (int[] earlier : seen) {
        int k = 0;
        while (k < earlier.length && k < prompt.length && earlier[k] == prompt[k]) k++;
        longestShared = Math.max(longestShared, k);
      }
      assertThat(cached[0]).isNotNegative().isLessThan(prompt.length).isLessThanOrEqualTo(longestShared);
      assertThat(cached[0] % PrefixCache.BLOCK_TOKENS).isZero();
      seen.add(prompt);
    }
    EngineModel.Stats s = e.stats();
    assertThat(s.prefixCacheHitsTokens()).isLessThanOrEqualTo(s.prefixCacheQueriesTokens());
  }
}
