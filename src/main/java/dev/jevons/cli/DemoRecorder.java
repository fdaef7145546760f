package dev.jevons.cli;

import dev.jevons.governor.Gate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the demo's customers saw, in buckets of demo time: requests by cohort and outcome, top-ups
 * and sign-ups, and samples of the queue and the gates. Thread-safe (one lock; a few hundred
 * operations per second at most). Everything here was measured by the client side or read from
 * Jevons' API; nothing here comes from the scenario's intended rates.
 */
final class DemoRecorder {
  /** Regulars and rush customers are the existing customers; newcomers sign up during the demo. */
  enum Cohort {
    REGULAR,
    RUSHER,
    NEWCOMER
  }

  /** One bucket of demo time. Counts are requests whose arrival fell into it. */
  static final class Bucket {
    final long[][] outcomes = new long[Cohort.values().length][DemoHttp.Outcome.values().length];
    final long[] heldBack = new long[Cohort.values().length];
    long topUpsOk;
    long topUpsRefused;
    long signupsOk;
    long signupsRefused;
    long samples;
    double queueSum;
    double queueMax;
    double busySum;
    final long[] gateClosedSamples = new long[Gate.values().length];
    long revenueNanos;

    long sent() {
      long n = 0;
      for (long[] c : outcomes) {
        for (long v : c) {
          n += v;
        }
      }
      return n;
    }

    long count(DemoHttp.Outcome o) {
      long n = 0;
      for (long[] c : outcomes) {
        n += c[o.ordinal()];
      }
      return n;
    }

    /** Share of requests that reached the queue and were shed there: shed / (served + shed). */
    double shedRate() {
      long shed = count(DemoHttp.Outcome.SHED) + count(DemoHttp.Outcome.SHED_LATE);
      long admittedOrShed = shed + count(DemoHttp.Outcome.OK);
      return admittedOrShed == 0 ? 0 : (double) shed / admittedOrShed;
    }

    double queueMean() {
      return samples == 0 ? 0 : queueSum / samples;
    }

    double busyMean() {
      return samples == 0 ? 0 : busySum / samples;
    }

    /** Share of the samples in which the gate was closed. */
    double closedShare(Gate g) {
      return samples == 0 ? 0 : (double) gateClosedSamples[g.ordinal()] / samples;
    }
  }

  private final Instant start;
  private final Duration bucket;
  private final Bucket[] buckets;
  private final List<List<Long>> ttftNanos = new ArrayList<>();
  private final List<String> errorSamples = new ArrayList<>();
  private long errors;

  DemoRecorder(Instant start, Instant end, Duration bucket) {
    this.start = start;
    this.bucket = bucket;
    int n = (int) Math.ceil((double) Duration.between(start, end).toMillis() / bucket.toMillis());
    this.buckets = new Bucket[n];
    for (int i = 0; i < n; i++) {
      buckets[i] = new Bucket();
    }
    for (int c = 0; c < Cohort.values().length; c++) {
      ttftNanos.add(new ArrayList<>());
    }
  }

  Instant start() {
    return start;
  }

  Duration bucketLength() {
    return bucket;
  }

  int bucketCount() {
    return buckets.length;
  }

  /** The bucket holding {@code t}, clamped to the first and last (a late answer still counts). */
  int index(Instant t) {
    long i = Math.floorDiv(Duration.between(start, t).toMillis(), bucket.toMillis());
    return (int) Math.max(0, Math.min(buckets.length - 1, i));
  }

  Instant bucketStart(int i) {
    return start.plus(bucket.multipliedBy(i));
  }

  synchronized void request(Instant arrival, Cohort cohort, DemoHttp.Chat chat) {
    buckets[index(arrival)].outcomes[cohort.ordinal()][chat.outcome().ordinal()]++;
    if (chat.outcome() == DemoHttp.Outcome.OK) {
      ttftNanos.get(cohort.ordinal()).add(chat.ttftNanos());
    }
    if (chat.outcome() == DemoHttp.Outcome.ERROR) {
      errors++;
      if (errorSamples.size() < 5) {
        errorSamples.add((chat.status() == 0 ? "" : chat.status() + " ") + chat.detail());
      }
    }
  }

  /** A request the customer did not send because its balance was empty and its top-up had not gone through. */
  synchronized void heldBack(Instant arrival, Cohort cohort) {
    buckets[index(arrival)].heldBack[cohort.ordinal()]++;
  }

  synchronized void topUp(Instant at, boolean accepted) {
    if (accepted) {
      buckets[index(at)].topUpsOk++;
    } else {
      buckets[index(at)].topUpsRefused++;
    }
  }

  synchronized void signup(Instant at, boolean accepted) {
    if (accepted) {
      buckets[index(at)].signupsOk++;
    } else {
      buckets[index(at)].signupsRefused++;
    }
  }

  synchronized void sample(Instant at, double queued, double busySlots, boolean[] gateOpen) {
    Bucket b = buckets[index(at)];
    b.samples++;
    b.queueSum += queued;
    b.queueMax = Math.max(b.queueMax, queued);
    b.busySum += busySlots;
    for (Gate g : Gate.values()) {
      if (!gateOpen[g.ordinal()]) {
        b.gateClosedSamples[g.ordinal()]++;
      }
    }
  }

  synchronized void revenue(Instant at, long costNanos) {
    buckets[index(at)].revenueNanos += costNanos;
  }

  synchronized Bucket bucket(int i) {
    return buckets[i];
  }

  synchronized long errors() {
    return errors;
  }

  synchronized List<String> errorSamples() {
    return List.copyOf(errorSamples);
  }

  /** Sorted TTFTs of served requests of the given cohorts, in nanoseconds. */
  synchronized long[] ttfts(Cohort... cohorts) {
    List<Long> all = new ArrayList<>();
    for (Cohort c : cohorts) {
      all.addAll(ttftNanos.get(c.ordinal()));
    }
    long[] out = all.stream().mapToLong(Long::longValue).toArray();
    Arrays.sort(out);
    return out;
  }

  /** Totals of one outcome over every bucket for the given cohorts. */
  synchronized long total(DemoHttp.Outcome o, Cohort... cohorts) {
    long n = 0;
    for (Bucket b : buckets) {
      for (Cohort c : cohorts) {
        n += b.outcomes[c.ordinal()][o.ordinal()];
      }
    }
    return n;
  }

  synchronized long sent(Cohort... cohorts) {
    long n = 0;
    for (DemoHttp.Outcome o : DemoHttp.Outcome.values()) {
      n += total(o, cohorts);
    }
    return n;
  }

  synchronized long heldBackTotal() {
    long n = 0;
    for (Bucket b : buckets) {
      for (long v : b.heldBack) {
        n += v;
      }
    }
    return n;
  }

  synchronized long[] topUpTotals() {
    long ok = 0;
    long refused = 0;
    for (Bucket b : buckets) {
      ok += b.topUpsOk;
      refused += b.topUpsRefused;
    }
    return new long[] {ok, refused};
  }

  synchronized long[] signupTotals() {
    long ok = 0;
    long refused = 0;
    for (Bucket b : buckets) {
      ok += b.signupsOk;
      refused += b.signupsRefused;
    }
    return new long[] {ok, refused};
  }

  /** The value at quantile q (0..1) of sorted values, nearest rank; -1 when empty. */
  static long quantile(long[] sorted, double q) {
    if (sorted.length == 0) {
      return -1;
    }
    int i = (int) Math.ceil(q * sorted.length) - 1;
    return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
  }
}
