package dev.jevons.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class EngineModelTest {
  private static final long MS = 1_000_000L;

  /** Records events as text, so runs can be compared and timings read back. */
  static final class Recorder implements SequenceListener {
    /** Pass as the log to skip text building where a million events would make the test slow. */
    static final List<String> QUIET = List.of();
    final String name;
    final List<String> log;
    final List<Long> tokenNanos = new ArrayList<>();
    int cached = -1;
    boolean finished;
    boolean cancelled;

    Recorder(String name, List<String> log) {
      this.name = name;
      this.log = log;
    }

    @Override
    public void onAdmitted(long nanos, int cachedPromptTokens) {
      cached = cachedPromptTokens;
      if (log != QUIET) log.add(nanos + " " + name + " admitted cached=" + cachedPromptTokens);
    }

    @Override
    public void onToken(long nanos, int index) {
      tokenNanos.add(nanos);
      if (log != QUIET) log.add(nanos + " " + name + " token " + index);
    }

    @Override
    public void onFinished(long nanos, int outputTokens) {
      finished = true;
      if (log != QUIET) log.add(nanos + " " + name + " finished " + outputTokens);
    }

    @Override
    public void onCancelled(long nanos, int outputTokens) {
      cancelled = true;
      log.add(nanos + " " + name + " cancelled " + outputTokens);
    }
  }

  static int[] prompt(int firstId, int length) {
    return IntStream.range(firstId, firstId + length).toArray();
  }

  static EngineProfile profile(int maxSeqs, long kvTokens, long baseNanos, long perSeqNanos) {
    return new EngineProfile("test", maxSeqs, kvTokens, 1_000_000.0, baseNanos, perSeqNanos,
        1 << 20, 100, (int) Math.min(kvTokens, 1 << 20));
  }

  private final List<String> log = new ArrayList<>();

  private Recorder submit(EngineModel e, String name, int[] prompt, int out, int maxOut, long at) {
    Recorder r = new Recorder(name, log);
    e.submit(new SequenceRequest(prompt, out, maxOut), r, at);
    return r;
  }

  @Test
  void admits_at_most_max_num_seqs_and_queues_the_rest() {
    EngineModel e = new EngineModel(EngineProfile.small());
    for (int i = 0; i < 6; i++) submit(e, "s" + i, prompt(i * 1000, 10), 50, 50, 0);
    // The first arrival starts a step alone; the others are admitted when it ends.
    assertThat(e.stats().running()).isEqualTo(1);
    e.advanceTo(e.nextEventNanos().orElseThrow());
    assertThat(e.stats().running()).isEqualTo(4);
    assertThat(e.stats().waiting()).isEqualTo(2);
    e.advanceTo(60_000 * MS);
    assertThat(e.stats().running()).isZero();
    assertThat(e.stats().waiting()).isZero();
    assertThat(e.stats().finished()).isEqualTo(6);
    assertThat(e.stats().generationTokens()).isEqualTo(300);
  }

  @Test
  void admits_only_what_the_kv_cache_can_hold_then_admits_on_release() {
    EngineModel e = new EngineModel(profile(10, 1_000, MS, 0));
    Recorder a = submit(e, "a", prompt(0, 100), 5, 300, 0);
    submit(e, "b", prompt(1000, 100), 5, 300, 0);
    Recorder c = submit(e, "c", prompt(2000, 100), 5, 300, 0);
    e.advanceTo(e.nextEventNanos().orElseThrow());
    assertThat(e.stats().running()).isEqualTo(2);
    assertThat(e.stats().waiting()).isEqualTo(1);
    assertThat(e.stats().kvCacheUsage()).isCloseTo(0.8, within(1e-9));
    assertThat(c.cached).isEqualTo(-1);
    e.advanceTo(1_000 * MS);
    assertThat(a.finished).isTrue();
    assertThat(c.finished).isTrue();
    assertThat(e.stats().kvCacheUsage()).isZero();
  }

  @Test
  void decode_step_time_grows_with_batch_size() {
    EngineModel alone = new EngineModel(profile(10, 100_000, 10 * MS, MS));
    Recorder one = submit(alone, "one", prompt(0, 10), 5, 5, 0);
    alone.advanceTo(1_000 * MS);
    assertThat(one.tokenNanos.get(2) - one.tokenNanos.get(1)).isEqualTo(11 * MS);

    EngineModel crowded = new EngineModel(profile(10, 100_000, 10 * MS, MS));
    Recorder first = submit(crowded, "first", prompt(0, 10), 5, 5, 0);
    submit(crowded, "second", prompt(100, 10), 5, 5, 0);
    submit(crowded, "third", prompt(200, 10), 5, 5, 0);
    crowded.advanceTo(1_000 * MS);
    assertThat(first.tokenNanos.get(2) - first.tokenNanos.get(1)).isEqualTo(13 * MS);
  }

  @Test
  void prefill_takes_uncached_tokens_over_throughput_and_yields_the_first_token() {
    EngineModel e = new EngineModel(profile(10, 100_000, 10 * MS, MS)); // 1M tok/s prefill
    Recorder r = submit(e, "r", prompt(0, 5_000), 1, 1, 0);
    assertThat(e.nextEventNanos()).hasValue(5 * MS);
    e.advanceTo(5 * MS);
    assertThat(r.tokenNanos).containsExactly(5 * MS);
    assertThat(r.finished).isTrue();
  }

  @Test
  void prefix_cache_hits_count_in_whole_64_token_blocks() {
    EngineModel e = new EngineModel(profile(10, 100_000, MS, 0));
    Recorder first = submit(e, "first", prompt(0, 200), 1, 1, 0);
    e.advanceTo(100 * MS);
    assertThat(first.cached).isZero();

    Recorder same = submit(e, "same", prompt(0, 200), 1, 1, 100 * MS);
    assertThat(same.cached).isEqualTo(192); // 3 full blocks of 64; the 8-token tail never caches

    int[] shared = prompt(0, 200);
    shared[130] = -1; // diverges inside the third block
    Recorder partial = submit(e, "partial", shared, 1, 1, 200 * MS);
    assertThat(partial.cached).isEqualTo(128);

    Recorder exact = submit(e, "exact", prompt(0, 192), 1, 1, 300 * MS);
    assertThat(exact.cached).as("the last token must be computed").isEqualTo(128);

    EngineModel.Stats s = e.stats();
    assertThat(s.prefixCacheQueriesTokens()).isEqualTo(200 + 200 + 200 + 192);
    assertThat(s.prefixCacheHitsTokens()).isEqualTo(192 + 128 + 128);
  }

  @Test
  void prefix_cache_evicts_the_least_recently_used_blocks() {
    // KV of 256 tokens -> the cache holds 4 blocks; each prompt below fills 2.
    EngineModel e = new EngineModel(profile(10, 256, MS, 0));
    long t = 0;
    submit(e, "a", prompt(0, 129), 1, 1, t += MS);
    submit(e, "b", prompt(1000, 129), 1, 1, t += MS);
    e.advanceTo(t += MS);
    assertThat(submit(e, "a again", prompt(0, 129), 1, 1, t += MS).cached).isEqualTo(128);
    e.advanceTo(t += MS);
    submit(e, "c", prompt(2000, 129), 1, 1, t += MS); // evicts b, the least recently used
    e.advanceTo(t += MS);
    assertThat(e.prefixCacheBlocks()).isEqualTo(4);
    assertThat(submit(e, "a third", prompt(0, 129), 1, 1, t += MS).cached).isEqualTo(128);
    e.advanceTo(t += MS);
    assertThat(submit(e, "b again", prompt(1000, 129), 1, 1, t += MS).cached).isZero();
  }

  @Test
  void cancel_frees_the_slot_for_a_waiting_sequence() {
    EngineModel e = new EngineModel(EngineProfile.small());
    List<Recorder> rs = new ArrayList<>();
    List<EngineModel.Handle> hs = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Recorder r = new Recorder("s" + i, log);
      rs.add(r);
      hs.add(e.submit(new SequenceRequest(prompt(i * 1000, 10), 100, 100), r, 0));
    }
    assertThat(rs.get(4).cached).isEqualTo(-1);
    e.advanceTo(500 * MS);
    assertThat(e.cancel(hs.get(1))).isTrue();
    assertThat(e.cancel(hs.get(1))).isFalse();
    assertThat(rs.get(1).cancelled).isTrue();
    assertThat(e.stats().running()).isEqualTo(3);
    assertThat(e.stats().cancelled()).isEqualTo(1);
    e.advanceTo(e.nextEventNanos().orElseThrow());
    assertThat(rs.get(4).cached).as("admitted at the next step").isZero();
    assertThat(e.stats().running()).isEqualTo(4);
    int tokensAtCancel = rs.get(1).tokenNanos.size();
    e.advanceTo(100_000 * MS);
    assertThat(rs.get(1).tokenNanos).hasSize(tokensAtCancel);
    assertThat(rs.get(1).finished).isFalse();
  }

  @Test
  void rejects_when_the_waiting_queue_is_full_and_sequences_that_can_never_fit() {
    EngineProfile p = new EngineProfile("tiny", 1, 1_000, 1_000.0, MS, 0, 1_000, 2, 1_000);
    EngineModel e = new EngineModel(p);
    for (int i = 0; i < 3; i++) submit(e, "s" + i, prompt(i * 100, 10), 10, 10, 0);
    assertThatThrownBy(() -> submit(e, "over", prompt(900, 10), 10, 10, 0))
        .isInstanceOf(EngineOverloadedException.class)
        .hasMessageContaining("2 sequences waiting");
    assertThatThrownBy(() -> submit(e, "huge", prompt(0, 900), 200, 200, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("model length");
  }

  @Test
  void same_inputs_give_the_same_events() {
    assertThat(runScript()).isEqualTo(runScript()).isNotEmpty();
  }

  private List<String> runScript() {
    List<String> events = new ArrayList<>();
    EngineModel e = new EngineModel(EngineProfile.small());
    for (int i = 0; i < 8; i++) {
      Recorder r = new Recorder("s" + i, events);
      e.submit(new SequenceRequest(prompt((i % 3) * 500, 70 + i), 3 + i, 20), r, i * 7 * MS);
    }
    e.advanceTo(60_000 * MS);
    return events;
  }

  @Test
  void h800_decodes_about_14_8k_tokens_per_second_at_20_to_22_per_stream_when_saturated() {
    EngineProfile h800 = EngineProfile.h800();
    EngineModel e = new EngineModel(h800);
    List<Recorder> rs = new ArrayList<>();
    for (int i = 0; i < h800.maxNumSeqs(); i++) {
      Recorder r = new Recorder("s" + i, Recorder.QUIET);
      e.submit(new SequenceRequest(prompt(i * 1000, 20), 2_000, 2_000), r, 0);
      rs.add(r);
    }
    e.advanceTo(10_000 * MS); // well past the prefill steps
    long before = e.stats().generationTokens();
    e.advanceTo(70_000 * MS);
    double aggregate = (e.stats().generationTokens() - before) / 60.0;
    assertThat(aggregate).isBetween(14_800 * 0.98, 14_800 * 1.02);

    List<Long> t = rs.get(0).tokenNanos;
    double perStream = 100 * 1e9 / (t.get(300) - t.get(200));
    assertThat(perStream).isBetween(20.0, 22.0);
    assertThat(e.stats().running()).isEqualTo(704);
  }

  @Test
  void h800_prefills_about_73_7k_tokens_per_second() {
    EngineModel e = new EngineModel(EngineProfile.h800());
    Recorder r = submit(e, "long", prompt(0, 16_000), 1, 1, 0);
    e.advanceTo(10_000 * MS);
    double tokensPerSecond = 16_000 * 1e9 / r.tokenNanos.get(0);
    assertThat(tokensPerSecond).isBetween(73_700 * 0.99, 73_700 * 1.01);
  }

  @Test
  void small_profile_runs_tens_of_tokens_per_second_per_stream() {
    EngineModel e = new EngineModel(EngineProfile.small());
    Recorder r = submit(e, "one", prompt(0, 10), 50, 50, 0);
    e.advanceTo(60_000 * MS);
    double perStream = 40 * 1e9 / (r.tokenNanos.get(45) - r.tokenNanos.get(5));
    assertThat(perStream).isBetween(10.0, 100.0);
  }

  @Test
  void instant_profile_finishes_within_the_submitting_call() {
    EngineModel e = new EngineModel(EngineProfile.instant());
    Recorder r = submit(e, "r", prompt(0, 100), 200, 200, 0);
    e.advanceTo(0);
    assertThat(r.finished).isTrue();
    assertThat(r.tokenNanos).hasSize(200).containsOnly(0L);
    assertThat(e.nextEventNanos()).isEmpty();
  }

  @Test
  void unknown_profile_names_the_accepted_ones() {
    assertThatThrownBy(() -> EngineProfile.byName("a100"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("instant, h800, small");
  }
}
