package dev.jevons.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class IdealPrefixCacheTest {
  static final String SYSTEM = "word ".repeat(300);

  @Test
  void a_repeated_prefix_hits_in_whole_blocks_from_the_second_time_on() {
    IdealPrefixCache cache = new IdealPrefixCache();
    List<IdealPrefixCache.Message> first = List.of(new IdealPrefixCache.Message("system", SYSTEM), new IdealPrefixCache.Message("user", "one"));
    List<IdealPrefixCache.Message> second = List.of(new IdealPrefixCache.Message("system", SYSTEM), new IdealPrefixCache.Message("user", "two"));
    assertThat(cache.offer(first)).isZero();
    int hit = cache.offer(second);
    // The system prompt is ~300 tokens: its whole 64-token blocks hit, the block where the
    // messages differ does not.
    assertThat(hit).isBetween(192, 320);
    assertThat(hit % 64).isZero();
    int again = cache.offer(second);
    assertThat(again).as("the same prompt again hits all but its last block").isGreaterThanOrEqualTo(hit);
    assertThat(cache.hitTokens()).isEqualTo(hit + again);
  }

  @Test
  void counts_what_the_engine_counts_for_the_same_prompts() {
    // The engine, with a cache large enough for everything, hits exactly what the ideal does.
    EngineModel engine = new EngineModel(EngineProfile.small());
    IdealPrefixCache ideal = new IdealPrefixCache();
    long t = 0;
    for (String user : List.of("alpha", "beta", "alpha", "gamma delta")) {
      List<IdealPrefixCache.Message> prompt = List.of(new IdealPrefixCache.Message("system", SYSTEM), new IdealPrefixCache.Message("user", user));
      ideal.offer(prompt);
      int[] ids = Tokenizer.renderChat(List.of(new Tokenizer.Message("system", SYSTEM), new Tokenizer.Message("user", user)));
      engine.submit(new SequenceRequest(ids, 1, 1), new SequenceListener() {
        @Override
        public void onToken(long nanos, int index) {}

        @Override
        public void onFinished(long nanos, int outputTokens) {}
      }, t);
      t += 10_000_000_000L;
      engine.advanceTo(t);
    }
    assertThat(engine.stats().prefixCacheHitsTokens()).isEqualTo(ideal.hitTokens());
    assertThat(engine.stats().prefixCacheQueriesTokens()).isEqualTo(ideal.promptTokens());
  }
}
