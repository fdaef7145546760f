package dev.jevons.scheduler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.jevons.scheduler.Router.Candidate;
import dev.jevons.scheduler.Router.Policy;
import dev.jevons.scheduler.Router.Reason;
import dev.jevons.scheduler.Router.Route;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RouterTest {
  static final long SECOND = 1_000_000_000L;
  // 1,000 prefill tokens per second and a 2 s TTFT target: a sticky replica may lead by 2,000 tokens.
  static final double PREFILL_RATE = 1_000;

  final PrefixIndex index = new PrefixIndex(10_000, 64);

  Router router(Policy policy) {
    return new Router(index, new Router.Settings(policy, Map.of(), 2 * SECOND, 16));
  }

  static Candidate idle(String name) {
    return new Candidate(name, 0, 8, 0, PREFILL_RATE, false);
  }

  static Candidate loaded(String name, int inFlight, long prefillTokens) {
    return new Candidate(name, inFlight, 8, prefillTokens, PREFILL_RATE, false);
  }

  static PromptPrefix prompt(long tenant, long question) {
    return PromptPrefix.ofHashes(tenant, tenant * 31 + 1, tenant * 31 + 2, tenant * 1_000_003 + question);
  }

  Route routeAndDispatch(Router router, String model, List<Candidate> candidates, PromptPrefix p) {
    Route r = router.route(model, candidates, p, PromptPrefix.tokensOf(p.blocks()) + 10).orElseThrow();
    router.dispatched(model, r, p);
    return r;
  }

  @Test
  void parses_the_policy_names_of_the_configuration() {
    assertThat(Policy.parse("prefix")).isEqualTo(Policy.PREFIX);
    assertThat(Policy.parse("least_loaded")).isEqualTo(Policy.LEAST_LOADED);
    assertThat(Policy.parse("round_robin")).isEqualTo(Policy.ROUND_ROBIN);
    assertThatThrownBy(() -> Policy.parse("random")).hasMessageContaining("accepted: prefix, least_loaded, round_robin");
  }

  @Test
  void a_tenant_sticks_to_the_replica_that_holds_its_prefix() {
    Router router = router(Policy.PREFIX);
    List<Candidate> fleet = List.of(idle("r0"), idle("r1"), idle("r2"), idle("r3"));
    Route first = routeAndDispatch(router, "chat", fleet, prompt(7, 0));
    assertThat(first.reason()).isEqualTo(Reason.LEAST_LOADED);
    assertThat(first.uncachedPromptTokens()).isEqualTo(4 * 64 + 10);

    // The sticky replica is now somewhat busier than the others, within the target.
    List<Candidate> after = new ArrayList<>(fleet);
    after.set(first.index(), loaded(first.replica(), 3, 1_500));
    for (int q = 1; q <= 20; q++) {
      Route r = routeAndDispatch(router, "chat", after, prompt(7, q));
      assertThat(r.replica()).isEqualTo(first.replica());
      assertThat(r.reason()).isEqualTo(Reason.STICKY);
      assertThat(r.matchedBlocks()).as("the tenant's three shared blocks").isEqualTo(3);
      assertThat(r.uncachedPromptTokens()).isEqualTo(64 + 10);
    }
    Router.Stats s = router.stats();
    assertThat(s.sticky()).isEqualTo(20);
    assertThat(s.blocksLookedUp()).isEqualTo(21 * 4);
    assertThat(s.blocksMatched()).isEqualTo(20 * 3);
    assertThat(s.hitRate()).isEqualTo(60.0 / 84);
  }

  @Test
  void spills_over_to_the_least_loaded_replica_when_the_sticky_one_cannot_meet_the_target() {
    Router router = router(Policy.PREFIX);
    List<Candidate> fleet = List.of(idle("r0"), idle("r1"));
    Route first = routeAndDispatch(router, "chat", fleet, prompt(7, 0));
    int other = 1 - first.index();

    List<Candidate> busy = new ArrayList<>(fleet);
    busy.set(first.index(), loaded(first.replica(), 4, 2_500));
    busy.set(other, loaded(fleet.get(other).replica(), 1, 500));
    Route within = router.route("chat", busy, prompt(7, 1), 300).orElseThrow();
    assertThat(within.reason()).as("a lead of exactly 2,000 tokens is clearable").isEqualTo(Reason.STICKY);

    busy.set(first.index(), loaded(first.replica(), 4, 2_501));
    Route spilled = router.route("chat", busy, prompt(7, 1), 300).orElseThrow();
    assertThat(spilled.reason()).isEqualTo(Reason.SPILLED);
    assertThat(spilled.index()).isEqualTo(other);
    assertThat(spilled.matchedBlocks()).isZero();
    assertThat(spilled.uncachedPromptTokens()).isEqualTo(300);
  }

  @Test
  void a_sticky_replica_without_a_free_slot_is_passed_over() {
    Router router = router(Policy.PREFIX);
    index.record("chat", "r0", prompt(7, 0));
    List<Candidate> fleet = List.of(new Candidate("r0", 8, 8, 0, PREFILL_RATE, false), idle("r1"));
    assertThat(router.route("chat", fleet, prompt(7, 1), 300).orElseThrow().replica()).isEqualTo("r1");
    List<Candidate> stale = List.of(new Candidate("r0", 0, 8, 0, PREFILL_RATE, true), idle("r1"));
    assertThat(router.route("chat", stale, prompt(7, 1), 300).orElseThrow().replica()).isEqualTo("r1");
  }

  @Test
  void no_route_when_every_replica_is_full_or_saturated() {
    List<Candidate> full = List.of(new Candidate("r0", 8, 8, 0, PREFILL_RATE, false), new Candidate("r1", 0, 8, 0, PREFILL_RATE, true));
    for (Policy p : Policy.values()) {
      assertThat(router(p).route("chat", full, prompt(1, 1), 300)).as(p.configName()).isEmpty();
    }
    assertThat(router(Policy.ROUND_ROBIN).route("chat", List.of(), prompt(1, 1), 300)).isEmpty();
  }

  @Test
  void the_longest_match_wins_and_equal_matches_go_to_the_less_loaded() {
    Router router = router(Policy.PREFIX);
    index.record("chat", "r0", PromptPrefix.ofHashes(1, 2));
    index.record("chat", "r1", PromptPrefix.ofHashes(1, 2, 3));
    index.record("chat", "r2", PromptPrefix.ofHashes(1, 2, 3));
    List<Candidate> fleet = List.of(idle("r0"), loaded("r1", 2, 900), loaded("r2", 1, 400), idle("r3"));
    Route r = router.route("chat", fleet, PromptPrefix.ofHashes(1, 2, 3, 4), 300).orElseThrow();
    assertThat(r.replica()).isEqualTo("r2");
    assertThat(r.matchedBlocks()).isEqualTo(3);
  }

  @Test
  void round_robin_gives_every_replica_the_same_share() {
    Router router = router(Policy.ROUND_ROBIN);
    List<Candidate> fleet = List.of(idle("r0"), loaded("r1", 7, 10_000), idle("r2"), idle("r3"));
    Map<String, Integer> counts = new HashMap<>();
    for (int i = 0; i < 400; i++) {
      counts.merge(routeAndDispatch(router, "chat", fleet, prompt(i, i)).replica(), 1, Integer::sum);
    }
    assertThat(counts).containsExactlyInAnyOrderEntriesOf(Map.of("r0", 100, "r1", 100, "r2", 100, "r3", 100));
    assertThat(router.stats().roundRobin()).isEqualTo(400);
  }

  @Test
  void round_robin_skips_a_full_replica_and_keeps_the_rotation_for_the_others() {
    Router router = router(Policy.ROUND_ROBIN);
    List<Candidate> fleet = List.of(idle("r0"), new Candidate("r1", 8, 8, 0, PREFILL_RATE, false), idle("r2"));
    List<String> order = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      order.add(router.route("chat", fleet, PromptPrefix.ofHashes(), 10).orElseThrow().replica());
    }
    assertThat(order).containsExactly("r0", "r2", "r0", "r2", "r0", "r2");
  }

  @Test
  void least_loaded_prefers_the_smallest_prefill_backlog_then_the_freest_slots() {
    Router router = router(Policy.LEAST_LOADED);
    List<Candidate> fleet = List.of(loaded("r0", 1, 5_000), loaded("r1", 6, 100), loaded("r2", 2, 100), loaded("r3", 0, 4_000));
    Route r = router.route("chat", fleet, PromptPrefix.ofHashes(), 10).orElseThrow();
    assertThat(r.replica()).isEqualTo("r2");
    assertThat(r.reason()).isEqualTo(Reason.LEAST_LOADED);
  }

  @Test
  void least_loaded_spreads_exact_ties_evenly() {
    Router router = router(Policy.LEAST_LOADED);
    List<Candidate> fleet = List.of(loaded("r0", 3, 0), idle("r1"), idle("r2"), idle("r3"));
    Map<String, Integer> counts = new HashMap<>();
    for (int i = 0; i < 300; i++) {
      counts.merge(router.route("chat", fleet, PromptPrefix.ofHashes(), 10).orElseThrow().replica(), 1, Integer::sum);
    }
    assertThat(counts).containsExactlyInAnyOrderEntriesOf(Map.of("r1", 100, "r2", 100, "r3", 100));
  }

  @Test
  void a_faster_replica_counts_as_less_loaded_for_the_same_backlog() {
    Router router = router(Policy.LEAST_LOADED);
    List<Candidate> fleet = List.of(new Candidate("slow", 1, 8, 1_000, 1_000, false), new Candidate("fast", 1, 8, 1_500, 10_000, false));
    assertThat(router.route("chat", fleet, PromptPrefix.ofHashes(), 10).orElseThrow().replica()).isEqualTo("fast");
  }

  @Test
  void the_policy_is_chosen_per_model() {
    Router router = new Router(index, new Router.Settings(Policy.PREFIX, Map.of("batch", Policy.ROUND_ROBIN), SECOND, 16));
    assertThat(router.policyOf("chat")).isEqualTo(Policy.PREFIX);
    assertThat(router.policyOf("batch")).isEqualTo(Policy.ROUND_ROBIN);
    assertThat(router.route("batch", List.of(idle("r0")), PromptPrefix.ofHashes(), 1).orElseThrow().reason()).isEqualTo(Reason.ROUND_ROBIN);
  }
}
