package dev.jevons.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.jevons.scheduler.Router.Candidate;
import dev.jevons.scheduler.Router.Policy;
import dev.jevons.scheduler.Router.Route;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

class RouterPropertiesTest {
  @Provide
  Arbitrary<List<Candidate>> fleets() {
    Arbitrary<Candidate> c = Combinators.combine(
            Arbitraries.integers().between(0, 8), Arbitraries.longs().between(0, 20_000),
            Arbitraries.of(500.0, 1_000.0, 5_000.0), Arbitraries.of(true, false, false, false))
        .as((inFlight, prefill, rate, saturated) -> new Candidate("r", inFlight, 8, prefill, rate, saturated));
    return c.list().ofMinSize(0).ofMaxSize(6).map(list -> {
      java.util.ArrayList<Candidate> named = new java.util.ArrayList<>();
      for (int i = 0; i < list.size(); i++) {
        Candidate x = list.get(i);
        named.add(new Candidate("r" + i, x.inFlightRequests(), x.maxConcurrency(), x.inFlightPrefillTokens(), x.prefillTokensPerSecond(), x.saturated()));
      }
      return named;
    });
  }

  @Property(tries = 500)
  void routes_to_a_replica_with_room_exactly_when_one_exists(
      @ForAll("fleets") List<Candidate> fleet, @ForAll Policy policy, @ForAll("history") List<Integer> history) {
    PrefixIndex index = new PrefixIndex(64, 64);
    Router router = new Router(index, new Router.Settings(policy, Map.of(), 1_000_000_000L, 4));
    for (int i = 0; i < history.size(); i++) {
      index.record("m", "r" + history.get(i), PromptPrefix.ofHashes(1, 2, 3, 100 + i));
    }
    Optional<Route> route = router.route("m", fleet, PromptPrefix.ofHashes(1, 2, 3, 4), 300);
    boolean anyRoom = fleet.stream().anyMatch(c -> !c.saturated() && c.inFlightRequests() < c.maxConcurrency());
    assertThat(route.isPresent()).isEqualTo(anyRoom);
    route.ifPresent(r -> {
      assertThat(fleet.get(r.index())).isSameAs(r.candidate());
      assertThat(r.candidate().saturated()).isFalse();
      assertThat(r.candidate().inFlightRequests()).isLessThan(r.candidate().maxConcurrency());
      assertThat(r.uncachedPromptTokens()).isBetween(0L, 300L);
    });
  }

  @Provide
  Arbitrary<List<Integer>> history() {
    return Arbitraries.integers().between(0, 5).list().ofMaxSize(10);
  }
}
