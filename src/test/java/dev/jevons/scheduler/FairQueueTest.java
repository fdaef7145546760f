package dev.jevons.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class FairQueueTest {
  static final long SEC = 1_000_000_000L;
  final AtomicLong now = new AtomicLong(1_000 * SEC);
  final FairQueue queue = new FairQueue(now::get, 1_000_000, 10_000);

  TicketSpec spec(String account, int band, long prompt, long output) {
    return new TicketSpec(account, 1.0, band, "m", prompt, output, 600 * SEC);
  }

  /** A request arriving as {@link Admission} enqueues it: its demand recorded, then queued. */
  Ticket arrive(TicketSpec spec) {
    queue.asked(spec);
    return queue.enqueue(spec);
  }

  Ticket take() {
    return queue.dispatchNext(Set.of("m"), t -> "slot");
  }

  @Test
  void serves_a_light_account_before_the_rest_of_a_heavy_backlog() {
    for (int i = 0; i < 10; i++) {
      queue.enqueue(spec("heavy", 0, 100, 100));
    }
    queue.enqueue(spec("light", 0, 100, 100));
    List<String> order = new ArrayList<>();
    for (Ticket t = take(); t != null; t = take()) {
      order.add(t.accountId());
    }
    assertThat(order.indexOf("light")).isLessThanOrEqualTo(1);
    assertThat(order).hasSize(11);
    queue.checkInvariants();
  }

  @Test
  void shares_service_in_proportion_to_weights() {
    for (int i = 0; i < 30; i++) {
      queue.enqueue(new TicketSpec("gold", 2.0, 0, "m", 100, 0, 600 * SEC));
      queue.enqueue(new TicketSpec("basic", 1.0, 0, "m", 100, 0, 600 * SEC));
    }
    int gold = 0;
    for (int i = 0; i < 30; i++) {
      if (take().accountId().equals("gold")) {
        gold++;
      }
    }
    assertThat(gold).isBetween(19, 21);
  }

  @Test
  void lifts_an_account_returning_from_idle_so_it_cannot_bank_idle_time() {
    for (int i = 0; i < 5; i++) {
      queue.enqueue(spec("busy", 0, 1000, 0));
    }
    for (int i = 0; i < 3; i++) {
      take();
    }
    queue.enqueue(spec("returning", 0, 1000, 0));
    assertThat(queue.counter("returning")).isEqualTo(queue.counter("busy"));
    // With equal counters the two now alternate rather than the newcomer taking a long run.
    List<String> next = List.of(take().accountId(), take().accountId());
    assertThat(next).containsExactlyInAnyOrder("busy", "returning");
  }

  @Test
  void among_equal_counters_serves_the_request_that_has_waited_longest_not_the_smallest_id() {
    queue.enqueue(spec("x", 0, 100, 100));
    take();
    // "z" waits first; "a", lifted to the same counter, arrives after it and must not overtake it.
    queue.enqueue(spec("z", 0, 100, 100));
    queue.enqueue(spec("a", 0, 100, 100));
    assertThat(queue.counter("a")).isEqualTo(queue.counter("z"));
    assertThat(List.of(take().accountId(), take().accountId())).containsExactly("z", "a");
    queue.checkInvariants();
  }

  @Test
  void after_its_turn_an_account_goes_behind_those_already_waiting_at_its_new_counter() {
    queue.enqueue(spec("z", 0, 100, 100));
    queue.enqueue(spec("z", 0, 100, 100));
    queue.enqueue(spec("a", 0, 100, 100));
    queue.enqueue(spec("a", 0, 100, 100));
    // Both start at 0; "z" waited first, so it goes first, then "a"; then both are at 300 and
    // "z"'s second ticket is older than "a"'s.
    List<String> order = new ArrayList<>();
    for (Ticket t = take(); t != null; t = take()) {
      order.add(t.accountId());
    }
    assertThat(order).containsExactly("z", "a", "z", "a");
  }

  @Test
  void counts_accounts_between_requests_that_asked_lately_in_the_gps_floor() {
    // "x" is backlogged at counter 0; "a" has just been served one request (counter 150) and asks
    // for another: it starts once the band's virtual time reaches 150.
    for (String account : List.of("a", "x", "x")) {
      queue.asked(spec(account, 1, 50, 50));
      queue.enqueue(spec(account, 1, 50, 50));
    }
    assertThat(take().accountId()).isEqualTo("a");
    TicketSpec next = spec("a", 1, 50, 50);
    queue.asked(next);
    // Until then "x" and "a" each get 150 of service, 100 queued tokens at this mix.
    assertThat(queue.tokensAheadOf(next)).isEqualTo(200);
    // Three more accounts asked a moment ago and are between requests: each gets its turn too.
    for (String other : List.of("b", "c", "d")) {
      queue.asked(spec(other, 1, 50, 50));
    }
    assertThat(queue.tokensAheadOf(next)).isEqualTo(500);
    // Silent for long enough, they are forgotten; "a" and "x", asking again, still count.
    now.addAndGet(FairQueue.FORGET_NANOS);
    queue.asked(spec("x", 1, 50, 50));
    queue.asked(next);
    assertThat(queue.tokensAheadOf(next)).isEqualTo(200);
    queue.checkInvariants();
  }

  /**
   * At one instant (no decay): 19 requests of cost 300 served, 10 of "heavy" and one of each of
   * nine light accounts, which asked for {@code lightAsks} each (the rest refused); then "heavy"
   * queues 3 more and "l1" one more.
   */
  void heavyAskingHalfAndNineLightAccounts(int lightAsks) {
    for (int i = 0; i < 10; i++) {
      arrive(spec("heavy", 1, 100, 100));
      take();
    }
    for (int l = 1; l <= 9; l++) {
      for (int i = 1; i < lightAsks; i++) {
        queue.asked(spec("l" + l, 1, 100, 100));
      }
      arrive(spec("l" + l, 1, 100, 100));
      take();
    }
    for (int i = 0; i < 3; i++) {
      arrive(spec("heavy", 1, 100, 100));
    }
    arrive(spec("l1", 1, 100, 100));
  }

  @Test
  void an_account_asking_below_its_fair_share_does_not_inflate_anothers_predicted_wait() {
    heavyAskingHalfAndNineLightAccounts(1);
    // Asked: heavy 3,900, l1 600, l2..l9 300 each (6,900) against 5,700 served. Water-filling:
    // the light accounts get all they ask (3,000), heavy the remaining 2,700, so the light ones
    // count as 3,000 / 2,700 of a full weight together and the band's weight is 2.11, not 10.
    // Heavy's start tag is 900 past the band's virtual time: 900 x 2.11 x 200 / 300 = 1,266
    // queued tokens (counting every account that asked in full, it was 6,000).
    assertThat(queue.tokensAheadOf(spec("heavy", 1, 100, 100))).isEqualTo(1_266);
    queue.checkInvariants();
  }

  @Test
  void accounts_refused_for_asking_more_than_their_share_still_count_in_full() {
    // The light accounts asked ten times each and were served once: each asks for more than the
    // fair level (570 of the 5,700 served per unit of weight), so all ten count in full.
    heavyAskingHalfAndNineLightAccounts(10);
    assertThat(queue.tokensAheadOf(spec("heavy", 1, 100, 100))).isEqualTo(6_000);
  }

  @Test
  void serves_higher_bands_strictly_first() {
    queue.enqueue(spec("a", 2, 10, 10));
    queue.enqueue(spec("b", 1, 10, 10));
    queue.enqueue(spec("c", 0, 10, 10));
    assertThat(List.of(take().band(), take().band(), take().band())).containsExactly(0, 1, 2);
  }

  @Test
  void dispatches_only_models_the_offering_replica_serves() {
    queue.enqueue(new TicketSpec("a", 1, 0, "other", 10, 10, 600 * SEC));
    assertThat(take()).isNull();
    assertThat(queue.dispatchNext(Set.of("other", "m"), t -> "slot")).isNotNull();
  }

  @Test
  void leaves_the_ticket_queued_when_the_replica_declines() {
    Ticket t = queue.enqueue(spec("a", 0, 10, 10));
    assertThat(queue.dispatchNext(Set.of("m"), x -> null)).isNull();
    assertThat(t.state()).isEqualTo(Ticket.State.QUEUED);
    assertThat(queue.size()).isEqualTo(1);
  }

  @Test
  void expires_tickets_at_their_deadline_and_not_before() {
    Ticket t = queue.enqueue(new TicketSpec("a", 1, 0, "m", 10, 10, 10 * SEC));
    now.addAndGet(10 * SEC - 1);
    assertThat(queue.expireDue()).isZero();
    now.addAndGet(1);
    assertThat(queue.expireDue()).isEqualTo(1);
    assertThat(t.state()).isEqualTo(Ticket.State.EXPIRED);
    assertThat(t.reason()).contains("queue deadline of 10000 ms");
    assertThat(queue.size()).isZero();
    queue.checkInvariants();
  }

  @Test
  void cancels_a_waiting_ticket_at_once() {
    Ticket t = queue.enqueue(spec("a", 0, 10, 10));
    assertThat(queue.cancel(t)).isTrue();
    assertThat(t.state()).isEqualTo(Ticket.State.CANCELLED);
    assertThat(queue.cancel(t)).isFalse();
    assertThat(take()).isNull();
  }

  @Test
  void sheds_when_full_and_displaces_lower_bands_first() {
    FairQueue small = new FairQueue(now::get, 1_000, 100);
    Ticket low1 = small.enqueue(new TicketSpec("a", 1, 3, "m", 300, 100, 600 * SEC));
    Ticket low2 = small.enqueue(new TicketSpec("b", 1, 3, "m", 300, 100, 600 * SEC));
    Ticket high = small.enqueue(new TicketSpec("c", 1, 0, "m", 300, 100, 600 * SEC));
    assertThat(high.state()).isEqualTo(Ticket.State.QUEUED);
    assertThat(low2.state()).as("newest of the lowest band goes first").isEqualTo(Ticket.State.SHED);
    assertThat(low1.state()).isEqualTo(Ticket.State.QUEUED);
    Ticket sameBand = small.enqueue(new TicketSpec("d", 1, 3, "m", 300, 100, 600 * SEC));
    assertThat(sameBand.state()).isEqualTo(Ticket.State.SHED);
    assertThat(sameBand.reason()).contains("queue full").contains("800 tokens");
    small.checkInvariants();
  }

  @Test
  void corrects_counters_with_actual_usage() {
    queue.enqueue(spec("a", 0, 100, 1000));
    queue.enqueue(spec("b", 0, 1, 1)); // keeps something backlogged so "a" stays remembered
    Ticket t = take();
    assertThat(t.accountId()).isEqualTo("a");
    assertThat(queue.counter("a")).isEqualTo(2100.0);
    queue.correct("a", 1.0, t.costTokens(), 100, 10);
    assertThat(queue.counter("a")).isEqualTo(120.0);
  }

  @Test
  void estimates_the_work_fair_queueing_serves_before_a_new_ticket() {
    for (int i = 0; i < 10; i++) {
      arrive(spec("heavy", 1, 100, 100));
    }
    arrive(spec("higher", 0, 40, 10));
    arrive(spec("lower", 2, 40, 10));
    // The higher band's 50 tokens always come first; of the heavy backlog, VTC serves one request
    // (cost 300 of 3,000) before a light newcomer; the lower band never comes first.
    assertThat(queue.tokensAheadOf(spec("light", 1, 100, 100))).isEqualTo(50 + 200);
    // A heavy newcomer waits for its whole backlog.
    assertThat(queue.tokensAheadOf(spec("heavy", 1, 100, 100))).isEqualTo(50 + 2_000);
    // Once the light account is backlogged too, the heavy backlog drains at half the band's rate:
    // it counts double, though the light account has only one request queued now.
    arrive(spec("light", 1, 100, 100));
    assertThat(queue.tokensAheadOf(spec("heavy", 1, 100, 100))).isEqualTo(50 + 4_000);
    assertThat(queue.tokensAhead("m", 1)).isEqualTo(50 + 2_200);
  }

  @Test
  void a_full_queue_sheds_the_newest_ticket_of_the_account_furthest_past_its_fair_share() {
    FairQueue small = new FairQueue(now::get, 1_000, 100);
    List<Ticket> heavy = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      heavy.add(small.enqueue(spec("heavy", 1, 100, 100)));
    }
    Ticket light = small.enqueue(spec("light", 1, 100, 100));
    assertThat(light.state()).isEqualTo(Ticket.State.QUEUED);
    assertThat(heavy.get(4).state()).isEqualTo(Ticket.State.SHED);
    assertThat(heavy.get(4).reason()).contains("less service (fair share)");
    assertThat(heavy.subList(0, 4)).allMatch(t -> t.state() == Ticket.State.QUEUED);
    small.checkInvariants();
  }

  @Test
  void a_full_queue_never_sheds_an_accounts_own_tickets_or_ones_served_before_the_newcomer() {
    FairQueue small = new FairQueue(now::get, 1_000, 100);
    for (int i = 0; i < 5; i++) {
      small.enqueue(spec("heavy", 1, 100, 100));
    }
    assertThat(small.enqueue(spec("heavy", 1, 100, 100)).state()).isEqualTo(Ticket.State.SHED);
    // Two accounts with equal backlogs: the newcomer of one would come after the other's last.
    FairQueue even = new FairQueue(now::get, 800, 100);
    for (int i = 0; i < 2; i++) {
      even.enqueue(spec("a", 1, 100, 100));
      even.enqueue(spec("b", 1, 100, 100));
    }
    Ticket third = even.enqueue(spec("a", 1, 100, 100));
    assertThat(third.state()).isEqualTo(Ticket.State.SHED);
    assertThat(third.reason()).contains("queue full");
    assertThat(even.size()).isEqualTo(4);
  }

  @Test
  void reports_how_long_a_models_queue_has_gone_without_emptying() {
    assertThat(queue.backlogAgeNanos("m")).isZero();
    Ticket first = queue.enqueue(spec("a", 0, 10, 10));
    now.addAndGet(2 * SEC);
    queue.enqueue(spec("b", 0, 10, 10));
    now.addAndGet(SEC);
    assertThat(queue.backlogAgeNanos("m")).isEqualTo(3 * SEC);
    assertThat(take()).isSameAs(first);
    assertThat(queue.backlogAgeNanos("m")).as("still not empty").isEqualTo(3 * SEC);
    take();
    assertThat(queue.backlogAgeNanos("m")).isZero();
    queue.enqueue(spec("a", 0, 10, 10));
    assertThat(queue.backlogAgeNanos("m")).isZero();
    assertThat(queue.backlogAgeNanos("other")).isZero();
  }

  @Test
  void an_account_served_ahead_of_the_band_waits_for_the_others_to_catch_up() {
    // "a" asked long ago and has been quiet since; "ahead" and "b" asked a moment ago.
    arrive(spec("a", 1, 100, 100));
    now.addAndGet(FairQueue.FORGET_NANOS);
    arrive(spec("ahead", 1, 100, 100));
    arrive(spec("b", 1, 100, 100));
    assertThat(List.of(take().accountId(), take().accountId())).containsExactly("a", "ahead");
    // "ahead" has had 300 counter units of service, "b" none. Before "ahead" starts again, "b"
    // gets its queued request and, if it keeps sending, another one: 2 x 200 tokens, though only
    // one is queued now. A newcomer, lifted to b's counter, waits only for b's queued request.
    assertThat(queue.tokensAheadOf(spec("ahead", 1, 100, 100))).isEqualTo(400);
    assertThat(queue.tokensAheadOf(spec("newcomer", 1, 100, 100))).isEqualTo(200);
  }
}
