package dev.jevons.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

class FairQueuePropertiesTest {
  static final long SEC = 1_000_000_000L;

  record Op(int kind, int account, int band, int tokens) {}

  @Provide
  Arbitrary<List<Op>> ops() {
    return Arbitraries.integers().between(0, 9).list().ofMinSize(1).ofMaxSize(400).flatMap(kinds -> {
      Arbitrary<Integer> acc = Arbitraries.integers().between(0, 5);
      Arbitrary<Integer> band = Arbitraries.integers().between(0, 2);
      Arbitrary<Integer> tok = Arbitraries.integers().between(1, 400);
      return net.jqwik.api.Combinators.combine(acc.list().ofSize(kinds.size()), band.list().ofSize(kinds.size()), tok.list().ofSize(kinds.size()))
          .as((a, b, t) -> {
            List<Op> out = new ArrayList<>();
            for (int i = 0; i < kinds.size(); i++) {
              out.add(new Op(kinds.get(i), a.get(i), b.get(i), t.get(i)));
            }
            return out;
          });
    });
  }

  @Property(tries = 200)
  void stays_consistent_and_work_conserving_under_random_operations(@ForAll("ops") List<Op> ops) {
    AtomicLong now = new AtomicLong();
    FairQueue q = new FairQueue(now::get, 20_000, 200);
    List<Ticket> live = new ArrayList<>();
    for (Op op : ops) {
      switch (op.kind()) {
        case 0, 1, 2, 3, 4 -> live.add(q.enqueue(new TicketSpec("acct" + op.account(), 1 + op.account() % 3, op.band(), "m", op.tokens(), op.tokens() / 2, 5 * SEC)));
        case 5, 6 -> {
          int waiting = q.size();
          Ticket t = q.dispatchNext(Set.of("m"), x -> "slot");
          // Work-conserving: capacity offered while something waits is never left idle.
          assertThat(t != null).isEqualTo(waiting > 0);
        }
        case 7 -> {
          if (!live.isEmpty()) {
            q.cancel(live.get(op.tokens() % live.size()));
          }
        }
        case 8 -> now.addAndGet(SEC);
        default -> q.expireDue();
      }
      q.checkInvariants();
      // The fair-share estimate of the work ahead covers the higher bands, and adds nothing for an
      // empty band.
      TicketSpec probe = new TicketSpec("acct" + op.account(), 1 + op.account() % 3, op.band(), "m", op.tokens(), op.tokens() / 2, 5 * SEC);
      long ahead = q.tokensAheadOf(probe);
      long higher = op.band() == 0 ? 0 : q.tokensAhead("m", op.band() - 1);
      assertThat(ahead).isGreaterThanOrEqualTo(higher);
      if (q.tokensAhead("m", op.band()) == higher) {
        assertThat(ahead).as("nothing queued in its band").isEqualTo(higher);
      }
    }
  }

  @Property(tries = 50)
  void keeps_backlogged_accounts_within_one_request_of_each_other(@ForAll @IntRange(min = 2, max = 6) int accounts) {
    AtomicLong now = new AtomicLong();
    FairQueue q = new FairQueue(now::get, 100_000_000, 100_000);
    int perRequest = 300;
    for (int round = 0; round < 200; round++) {
      for (int a = 0; a < accounts; a++) {
        // The first account floods: ten requests per round against one for everyone else.
        int n = a == 0 ? 10 : 1;
        for (int i = 0; i < n; i++) {
          q.enqueue(new TicketSpec("a" + a, 1, 0, "m", perRequest, 0, 600 * SEC));
        }
      }
    }
    Map<String, Long> served = new HashMap<>();
    for (int i = 0; i < 100 * accounts; i++) {
      Ticket t = q.dispatchNext(Set.of("m"), x -> "slot");
      served.merge(t.accountId(), (long) perRequest, Long::sum);
    }
    long max = served.values().stream().mapToLong(Long::longValue).max().orElseThrow();
    long min = served.values().stream().mapToLong(Long::longValue).min().orElseThrow();
    assertThat(served).hasSize(accounts);
    assertThat(max - min).isLessThanOrEqualTo(perRequest);
  }
}
