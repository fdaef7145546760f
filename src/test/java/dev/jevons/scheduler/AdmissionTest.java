package dev.jevons.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Early refusal: fair-share-aware predicted waits, the start-latency margin, standing queues. */
class AdmissionTest {
  static final long SEC = 1_000_000_000L;
  static final long MS = 1_000_000L;
  final AtomicLong now = new AtomicLong(1_000 * SEC);
  final OneSlot server = new OneSlot();
  final FairQueue queue = new FairQueue(now::get, 1_000_000, 10_000);
  final Admission admission =
      new Admission(
          queue,
          () -> List.of(server),
          new Router(new PrefixIndex(), new Router.Settings(Router.Policy.LEAST_LOADED, Map.of(), 2 * SEC, 4)),
          now::get,
          SEC);

  /** One slot that only {@link Admission} takes and gives back. */
  static final class OneSlot implements Server {
    int inFlight;

    @Override public String name() { return "s"; }
    @Override public Set<String> models() { return Set.of("m"); }
    @Override public boolean hasRoom(long nowNanos) { return inFlight < 1; }
    @Override public boolean tryAcquire(long nowNanos) {
      if (inFlight >= 1) {
        return false;
      }
      inFlight++;
      return true;
    }
    @Override public void release() { inFlight--; }
    @Override public double load() { return inFlight; }
    @Override public int inFlight() { return inFlight; }
    @Override public int maxConcurrency() { return 1; }
    @Override public double prefillTokensPerSecond() { return 1_000; }
    @Override public boolean saturated(long nowNanos) { return false; }
  }

  static TicketSpec spec(String account, long maxWaitNanos) {
    return new TicketSpec(account, 1.0, 0, "m", 50, 50, maxWaitNanos);
  }

  Ticket admitted(TicketSpec spec) {
    Admission.Result r = admission.enqueue(spec);
    assertThat(r).as("admitted").isInstanceOf(Admission.Waiting.class);
    return ((Admission.Waiting) r).ticket();
  }

  Admission.Refused refused(TicketSpec spec) {
    Admission.Result r = admission.enqueue(spec);
    assertThat(r).as("refused").isInstanceOf(Admission.Refused.class);
    return (Admission.Refused) r;
  }

  /**
   * One request served in the current second: 100 tokens/s measured, first token 0.5 s after
   * dispatch. Leaves the slot taken by a request that runs until the test ends, so later ones wait.
   */
  Ticket measureOneRequestThenFillTheSlot() {
    Ticket first = admitted(spec("warmup", 60 * SEC));
    assertThat(first.state()).isEqualTo(Ticket.State.DISPATCHED);
    now.addAndGet(500 * MS);
    admission.prefilled(first);
    now.addAndGet(100 * MS);
    admission.complete(first, 1.0, 50, 50);
    assertThat(admission.tokensPerSecond("m")).isEqualTo(100.0);
    assertThat(admission.startLatencyNanos("m")).isEqualTo(500 * MS);
    Ticket running = admitted(spec("running", 60 * SEC));
    assertThat(running.state()).isEqualTo(Ticket.State.DISPATCHED);
    return running;
  }

  @Test
  void never_refuses_a_request_that_starts_at_once() {
    Ticket first = admitted(spec("warmup", 60 * SEC));
    admission.complete(first, 1.0, 50, 50);
    // A server has room and nothing waits: however short its deadline, it is dispatched now.
    assertThat(admitted(spec("a", 1 * MS)).state()).isEqualTo(Ticket.State.DISPATCHED);
  }

  @Test
  void refuses_a_request_whose_deadline_passes_before_any_running_request_ends() {
    measureOneRequestThenFillTheSlot();
    // Nothing is queued, but the one slot is taken by a request that has just started and is
    // expected to run 0.6 s (the measured request took 0.6 s for its 100 queued tokens).
    // Its deadline of 1 s less the 0.5 s to a first token leaves 0.5 s.
    Admission.Refused r = refused(spec("a", 1 * SEC));
    assertThat(r.reason()).startsWith("predicted wait 0.6 s").contains("is expected to free in 0.6 s");
    now.addAndGet(200 * MS);
    assertThat(admitted(spec("a", 1 * SEC)).state()).isEqualTo(Ticket.State.QUEUED);
  }

  @Test
  void a_standing_queue_refuses_a_request_that_would_wait_for_the_next_wave_of_slots() {
    // Four slots taken at once by requests of one length: they end together, 2 s from now.
    Admission four = admissionOver(new Slots(4));
    List<Ticket> wave = new java.util.ArrayList<>();
    for (int i = 0; i < 4; i++) {
      wave.add(((Admission.Waiting) four.enqueue(spec("w" + i, 60 * SEC))).ticket());
    }
    now.addAndGet(2 * SEC);
    for (Ticket t : wave) {
      four.complete(t, 1.0, 50, 50);
    }
    // Each freed slot was taken again at once: the servers have been busy with work for 2 s, so
    // the queue stands. Nothing is queued, but no slot frees before the next wave, 2 s from now.
    for (int i = 0; i < 4; i++) {
      assertThat(four.enqueue(spec("x" + i, 60 * SEC))).isInstanceOf(Admission.Waiting.class);
    }
    Admission.Result r = four.enqueue(spec("y", 60 * SEC));
    assertThat(r).isInstanceOf(Admission.Refused.class);
    assertThat(((Admission.Refused) r).reason())
        .startsWith("predicted wait 2.0 s")
        .contains("standing queue")
        .contains("the slot this request would take (after 0 tokens ahead of it under fair sharing) is expected to free in 2.0 s");
    // 0.9 s before the wave the same request is admitted: it will wait less than the target.
    now.addAndGet(1_100 * MS);
    assertThat(four.enqueue(spec("y", 60 * SEC))).isInstanceOf(Admission.Waiting.class);
  }

  /** A number of slots that only {@link Admission} takes and gives back. */
  static final class Slots implements Server {
    final int slots;
    int inFlight;

    Slots(int slots) {
      this.slots = slots;
    }

    @Override public String name() { return "s" + slots; }
    @Override public Set<String> models() { return Set.of("m"); }
    @Override public boolean hasRoom(long nowNanos) { return inFlight < slots; }
    @Override public boolean tryAcquire(long nowNanos) {
      if (inFlight >= slots) {
        return false;
      }
      inFlight++;
      return true;
    }
    @Override public void release() { inFlight--; }
    @Override public double load() { return (double) inFlight / slots; }
    @Override public int inFlight() { return inFlight; }
    @Override public int maxConcurrency() { return slots; }
    @Override public double prefillTokensPerSecond() { return 1_000; }
    @Override public boolean saturated(long nowNanos) { return false; }
  }

  Admission admissionOver(Server fleet) {
    return new Admission(
        queue, () -> List.of(fleet), new Router(new PrefixIndex(), new Router.Settings(Router.Policy.LEAST_LOADED, Map.of(), 2 * SEC, 4)), now::get, SEC);
  }

  @Test
  void the_slot_a_request_would_take_is_the_one_after_those_of_the_requests_ahead_of_it() {
    // One account throughout, so that fair sharing leaves the order FIFO.
    Admission four = admissionOver(new Slots(4));
    List<Ticket> warm = new java.util.ArrayList<>();
    for (int i = 0; i < 4; i++) {
      warm.add(((Admission.Waiting) four.enqueue(spec("w", 60 * SEC))).ticket());
    }
    now.addAndGet(2 * SEC);
    for (Ticket t : warm) {
      four.complete(t, 1.0, 50, 50);
    }
    // 2 s for 100 queued tokens: 20 ms a token. Four requests start 0.1 s apart and end so.
    for (int i = 0; i < 4; i++) {
      assertThat(four.enqueue(spec("w", 60 * SEC))).isInstanceOf(Admission.Waiting.class);
      now.addAndGet(100 * MS);
    }
    // Now 2.4 s: they end at 4.0, 4.1, 4.2 and 4.3 s.
    assertThat(((Admission.Refused) four.enqueue(spec("w", 60 * SEC))).reason()).contains("expected to free in 1.6 s");
    queue.enqueue(spec("w", 60 * SEC));
    queue.enqueue(spec("w", 60 * SEC));
    assertThat(((Admission.Refused) four.enqueue(spec("w", 60 * SEC))).reason())
        .startsWith("predicted wait 1.8 s")
        .contains("after 200 tokens ahead of it")
        .contains("expected to free in 1.8 s");
  }

  @Test
  void selects_the_kth_smallest_value() {
    java.util.SplittableRandom random = new java.util.SplittableRandom(7);
    for (int round = 0; round < 200; round++) {
      int n = 1 + random.nextInt(40);
      long[] values = new long[n];
      for (int i = 0; i < n; i++) {
        values[i] = random.nextInt(10);
      }
      long[] sorted = values.clone();
      java.util.Arrays.sort(sorted);
      int k = random.nextInt(n);
      assertThat(Admission.kthSmallest(values, n, k)).isEqualTo(sorted[k]);
    }
  }

  @Test
  void refuses_a_request_predicted_to_start_producing_after_its_deadline() {
    measureOneRequestThenFillTheSlot();
    admitted(spec("a", 60 * SEC));
    // Before its second request starts, each of the three accounts that asked lately (warmup,
    // running, a) gets a request's worth under fair sharing: 300 tokens ahead + its own 100 at 100
    // tokens/s, 4 s. The deadline of 4.4 s would allow that wait, but not with the 0.5 s the
    // server then takes to the first token.
    Admission.Refused r = refused(spec("a", 4_400 * MS));
    assertThat(r.reason()).startsWith("predicted wait 4.0 s").contains("queue deadline of 4.4 s less 0.50 s from dispatch to first token");
    assertThat(admitted(spec("a", 4_600 * MS)).state()).isEqualTo(Ticket.State.QUEUED);
  }

  @Test
  void does_not_charge_a_light_account_for_a_heavy_accounts_backlog() {
    measureOneRequestThenFillTheSlot();
    for (int i = 0; i < 5; i++) {
      admitted(spec("heavy", 60 * SEC));
    }
    // Fair queueing serves the light request after about one heavy request, not after all five:
    // (100 + 100) tokens at 100 tokens/s is 2 s, inside 3 s less the 0.5 s start latency.
    assertThat(queue.tokensAheadOf(spec("light", 3 * SEC))).isEqualTo(100);
    assertThat(admitted(spec("light", 3 * SEC)).state()).isEqualTo(Ticket.State.QUEUED);
    // The heavy account's five drain at its share of the four accounts that asked lately
    // (warmup, running, heavy, light): 2,000 tokens, then its own.
    assertThat(refused(spec("heavy", 3 * SEC)).reason()).startsWith("predicted wait 21.0 s");
  }

  @Test
  void holds_a_standing_queue_to_the_queue_target_and_lets_a_burst_wait_for_its_deadline() {
    measureOneRequestThenFillTheSlot();
    admitted(spec("a", 60 * SEC));
    // A burst: the queue has waited less than the 1 s target, so only the deadline bounds the wait.
    assertThat(admitted(spec("a", 60 * SEC)).state()).isEqualTo(Ticket.State.QUEUED);
    now.addAndGet(1_000 * MS);
    assertThat(queue.backlogAgeNanos("m")).isEqualTo(1_000 * MS);
    Admission.Refused r = refused(spec("b", 60 * SEC));
    assertThat(r.reason()).contains("the 1.0 s a standing queue is held to").contains("no server of 'm' has had idle capacity for 1.0 s");
    assertThat(r.retryAfterNanos()).isPositive();
  }

  @Test
  void an_overload_stands_after_a_tenth_of_the_target_not_after_the_whole_target() {
    measureOneRequestThenFillTheSlot();
    admitted(spec("a", 60 * SEC));
    assertThat(admitted(spec("a", 60 * SEC)).state()).isEqualTo(Ticket.State.QUEUED);
    // 99 ms into the overload the queue may still take a burst up to the deadline; at 100 ms
    // the onset is over and the queue is held to the target.
    now.addAndGet(99 * MS);
    assertThat(admitted(spec("a", 60 * SEC)).state()).isEqualTo(Ticket.State.QUEUED);
    now.addAndGet(1 * MS);
    assertThat(refused(spec("a", 60 * SEC)).reason()).contains("standing queue").contains("idle capacity for 0.1 s");
  }

  @Test
  void a_queue_that_empties_while_every_server_stays_busy_still_stands() {
    Ticket running = measureOneRequestThenFillTheSlot();
    Ticket waiting = admitted(spec("a", 60 * SEC));
    now.addAndGet(1_500 * MS);
    // The running request ends and the waiting one takes its slot at once: the queue is empty,
    // but the server never had room with nothing to do, so demand still exceeds it.
    admission.complete(running, 1.0, 50, 50);
    assertThat(waiting.state()).isEqualTo(Ticket.State.DISPATCHED);
    assertThat(queue.size()).isZero();
    admitted(spec("a", 60 * SEC));
    assertThat(refused(spec("a", 60 * SEC)).reason()).contains("standing queue");
  }

  @Test
  void idle_capacity_that_lasts_ends_a_standing_queue() {
    Ticket running = measureOneRequestThenFillTheSlot();
    Ticket waiting = admitted(spec("a", 60 * SEC));
    now.addAndGet(1_500 * MS);
    admission.complete(running, 1.0, 50, 50);
    admission.complete(waiting, 1.0, 50, 50);
    // The server has room and nothing queued for a tenth of the target: demand fell below what
    // the server clears, so a new burst may wait for its deadline again.
    now.addAndGet(100 * MS);
    assertThat(admitted(spec("x", 60 * SEC)).state()).isEqualTo(Ticket.State.DISPATCHED);
    admitted(spec("a", 60 * SEC));
    assertThat(admitted(spec("a", 60 * SEC)).state()).isEqualTo(Ticket.State.QUEUED);
  }

  @Test
  void a_queue_that_empties_for_an_instant_under_sustained_overload_keeps_standing() {
    Ticket running = measureOneRequestThenFillTheSlot();
    Ticket waiting = admitted(spec("a", 60 * SEC));
    now.addAndGet(1_500 * MS);
    admission.complete(running, 1.0, 50, 50);
    admission.complete(waiting, 1.0, 50, 50);
    // The slot sat idle for 99 ms until the next arrival took it: the gap between one request
    // ending and the next one arriving, not a fall in demand.
    now.addAndGet(99 * MS);
    assertThat(admitted(spec("x", 60 * SEC)).state()).isEqualTo(Ticket.State.DISPATCHED);
    admitted(spec("a", 60 * SEC));
    assertThat(refused(spec("a", 60 * SEC)).reason()).contains("standing queue").contains("idle capacity for 1.6 s");
  }

  @Test
  void idle_capacity_counts_from_when_it_began_not_from_the_last_look() {
    Ticket running = measureOneRequestThenFillTheSlot();
    now.addAndGet(1_500 * MS);
    admission.complete(running, 1.0, 50, 50);
    // Each periodic tick sees the same idle server; the spell lasts from the first one.
    for (int i = 0; i < 4; i++) {
      now.addAndGet(30 * MS);
      admission.tick();
    }
    assertThat(admitted(spec("x", 60 * SEC)).state()).isEqualTo(Ticket.State.DISPATCHED);
    admitted(spec("a", 60 * SEC));
    assertThat(admitted(spec("a", 60 * SEC)).state()).isEqualTo(Ticket.State.QUEUED);
  }

  @Test
  void the_rule_is_off_with_a_zero_target() {
    Admission noTarget =
        new Admission(
            queue, () -> List.of(server), new Router(new PrefixIndex(), new Router.Settings(Router.Policy.LEAST_LOADED, Map.of(), 2 * SEC, 4)), now::get, 0);
    Ticket first = ((Admission.Waiting) noTarget.enqueue(spec("warmup", 60 * SEC))).ticket();
    noTarget.complete(first, 1.0, 50, 50);
    noTarget.enqueue(spec("running", 60 * SEC));
    noTarget.enqueue(spec("a", 60 * SEC));
    now.addAndGet(10 * SEC);
    assertThat(noTarget.enqueue(spec("a", 60 * SEC))).isInstanceOf(Admission.Waiting.class);
  }

  @Test
  void measures_the_start_latency_once_per_request() {
    Ticket t = admitted(spec("a", 60 * SEC));
    now.addAndGet(800 * MS);
    admission.prefilled(t);
    now.addAndGet(5 * SEC);
    admission.prefilled(t);
    assertThat(admission.startLatencyNanos("m")).isEqualTo(800 * MS);
  }

  @Test
  void measures_the_service_rate_in_the_queues_unit_not_in_actual_usage() {
    // A request estimated at 100 queued tokens that used only 15 still cleared 100 from the queue.
    Ticket t = admitted(spec("a", 60 * SEC));
    admission.complete(t, 1.0, 10, 5);
    assertThat(admission.tokensPerSecond("m")).isEqualTo(100.0);
  }
}
