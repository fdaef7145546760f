package dev.jevons.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jevons.billing.Money;
import dev.jevons.cli.DemoRecorder.Cohort;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * The demo's customers: real accounts with real API keys and balances, sending streamed chat
 * completions through Jevons' API at the rates {@link SurgeScenario} gives, open loop (a request
 * is sent when it is due, whatever happened to the previous one; a shed request is lost demand,
 * not retried).
 *
 * <p>Arrivals are a Poisson process whose rate is held constant over short steps (at most 50 ms
 * of real time, or one demo minute when that is shorter) and recomputed at each step; by the
 * memorylessness of the exponential, this is exact for the piecewise-constant rate. One thread
 * draws every arrival (requests, sign-ups, top-ups), and each arrival runs on a virtual thread of
 * its own.
 *
 * <p>A customer whose request is refused with 402 stops sending, tops up (redeems a code) and
 * resumes once the top-up goes through; while a closed gate refuses it, it waits the
 * {@code Retry-After} it was given (read in demo seconds: the governor's estimate follows the
 * business clock) and its requests meanwhile are counted as held back.
 */
final class DemoLoad {
  static final String MODEL = "sim-chat";
  static final String TOP_UP_AMOUNT = "2.00";
  static final int CODES_PER_BATCH = 50;
  static final Duration MIN_TOP_UP_RETRY = Duration.ofMinutes(5);
  static final Duration MAX_TOP_UP_RETRY = Duration.ofHours(2);
  static final int MAX_IN_FLIGHT = 10_000;
  private static final String SYSTEM_PROMPT =
      "You are a concise assistant for a logistics company. Answer in plain English, in at most three sentences, "
          + "and say so when you do not know.";

  static final class Customer {
    final String accountId;
    final String key;
    final Cohort cohort;
    volatile boolean funded;
    final AtomicBoolean toppingUp = new AtomicBoolean();
    volatile long nextTopUpNanos;

    Customer(String accountId, String key, Cohort cohort, boolean funded) {
      this.accountId = accountId;
      this.key = key;
      this.cohort = cohort;
      this.funded = funded;
    }
  }

  private final DemoHttp http;
  private final CompressedClock clock;
  private final DemoRecorder recorder;
  private final double capacityRps;
  private final int maxTokens;
  private final Duration clientTimeout;
  private final SplittableRandom random;
  private final List<Customer> regulars = new ArrayList<>();
  private final List<Customer> rushers = new ArrayList<>();
  private final List<Customer> activeNewcomers = new CopyOnWriteArrayList<>();
  private final ConcurrentLinkedQueue<Customer> everyone = new ConcurrentLinkedQueue<>();
  private final ConcurrentLinkedQueue<String> codes = new ConcurrentLinkedQueue<>();
  private final AtomicInteger inFlight = new AtomicInteger();
  private final AtomicInteger newcomers = new AtomicInteger();
  private final AtomicLong creditedNanos = new AtomicLong();
  private final AtomicReference<@Nullable DemoFailure> failure = new AtomicReference<>();
  private volatile SurgeScenario.Response response = SurgeScenario.Response.NONE;
  private volatile boolean stopping;

  DemoLoad(
      DemoHttp http, CompressedClock clock, DemoRecorder recorder, double capacityRps, int maxTokens,
      Duration clientTimeout, long seed) {
    this.http = http;
    this.clock = clock;
    this.recorder = recorder;
    this.capacityRps = capacityRps;
    this.maxTokens = maxTokens;
    this.clientTimeout = clientTimeout;
    this.random = new SplittableRandom(seed);
  }

  /** Creates an existing customer through the admin API: account, key, and a topped-up balance. */
  void addExisting(Cohort cohort, String name, String balance) {
    ObjectNode body = http.object().put("name", name);
    String id = http.admin("POST", "/admin/v1/accounts", body, 201).path("id").asText();
    String key = http.admin("POST", "/admin/v1/accounts/" + id + "/keys", http.object().put("name", "demo"), 201).path("key").asText();
    ObjectNode credit = http.object().put("amount", balance).put("kind", "topped_up").put("idempotency_key", "demo-opening-" + id);
    http.admin("POST", "/admin/v1/accounts/" + id + "/credits", credit, 201);
    creditedNanos.addAndGet(Money.parse(balance).nanos());
    Customer c = new Customer(id, key, cohort, true);
    (cohort == Cohort.REGULAR ? regulars : rushers).add(c);
    everyone.add(c);
  }

  /** The discount windows (as the price API lists them) customers respond to from now on, and how strongly. */
  void respondTo(SurgeScenario.Response response) {
    this.response = response;
  }

  SurgeScenario.Response response() {
    return response;
  }

  /** Draws arrivals until the calendar reaches {@code until}; throws the first failure of any arrival. */
  void run(Instant until) {
    long step = Math.max(1_000_000L, Math.min(TimeUnit.MILLISECONDS.toNanos(50), clock.realTime(Duration.ofMinutes(1)).toNanos()));
    double perHourToPerSecond = clock.speed() / 3600;
    long next = System.nanoTime();
    while (true) {
      throwIfFailed();
      Instant t = clock.instant();
      if (!t.isBefore(until)) {
        return;
      }
      SurgeScenario.Response r = response;
      double regular = SurgeScenario.regulars(t, r) * capacityRps;
      double rush = SurgeScenario.rushers(t, r) * capacityRps;
      List<Customer> active = activeNewcomers;
      double fresh = active.size() * SurgeScenario.newcomer(t) * capacityRps;
      double signups = SurgeScenario.signupsPerHour(t) * perHourToPerSecond;
      double topUps = SurgeScenario.rusherTopUpsPerHour(t) * perHourToPerSecond;
      double total = regular + rush + fresh + signups + topUps;
      double gapNanos = total <= 0 ? Double.POSITIVE_INFINITY : -Math.log(1 - random.nextDouble()) / total * 1e9;
      if (gapNanos > step) {
        next += step;
        parkUntil(next);
        continue;
      }
      next += (long) gapNanos;
      parkUntil(next);
      double pick = random.nextDouble() * total;
      if ((pick -= regular) < 0) {
        send(regulars.get(random.nextInt(regulars.size())), t);
      } else if ((pick -= rush) < 0) {
        send(rushers.get(random.nextInt(rushers.size())), t);
      } else if ((pick -= fresh) < 0 && !active.isEmpty()) {
        send(active.get(random.nextInt(active.size())), t);
      } else if ((pick -= signups) < 0) {
        spawn(() -> signUp(t));
      } else if (!rushers.isEmpty()) {
        Customer c = rushers.get(random.nextInt(rushers.size()));
        spawn(() -> topUp(c));
      }
    }
  }

  /** Stops drawing and waits up to {@code patience} (real time) for requests in flight to end. */
  void drain(Duration patience) {
    stopping = true;
    long deadline = System.nanoTime() + patience.toNanos();
    while (inFlight.get() > 0 && System.nanoTime() < deadline) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(20));
    }
    if (inFlight.get() > 0) {
      throw new DemoFailure(inFlight.get() + " requests were still open " + patience.toSeconds() + " s after the end; the gateway did not finish them");
    }
    throwIfFailed();
  }

  List<Customer> customers() {
    return List.copyOf(everyone);
  }

  long creditedNanos() {
    return creditedNanos.get();
  }

  int newcomerCount() {
    return newcomers.get();
  }

  int activeNewcomerCount() {
    return activeNewcomers.size();
  }

  private void send(Customer c, Instant arrival) {
    if (!c.funded) {
      recorder.heldBack(arrival, c.cohort);
      if (System.nanoTime() >= c.nextTopUpNanos) {
        spawn(() -> topUp(c));
      }
      return;
    }
    String body = requestBody(maxTokens);
    spawn(() -> {
      DemoHttp.Chat r = http.chat(c.key, body, System.nanoTime() + clientTimeout.toNanos());
      recorder.request(arrival, c.cohort, r);
      if (r.outcome() == DemoHttp.Outcome.NO_BALANCE) {
        c.funded = false;
        topUp(c);
      }
    });
  }

  /** A would-be customer at the sign-up page; once in, it tries the API, gets 402, and tops up. */
  private void signUp(Instant at) {
    int n = newcomers.incrementAndGet();
    DemoHttp.Answer a = http.send("POST", "/v1/signups", null, http.object().put("name", "newcomer-" + n).toString());
    if (a.status() == 503 && a.errorCode(http.json()).equals("signups_suspended")) {
      recorder.signup(at, false);
      return;
    }
    if (a.status() != 201) {
      throw new DemoFailure("POST /v1/signups answered " + a.status() + ": " + DemoHttp.abbreviate(a.body()));
    }
    recorder.signup(at, true);
    JsonNode out = http.parse("POST /v1/signups", a.body());
    Customer c = new Customer(out.path("account").path("id").asText(), out.path("api_key").path("key").asText(), Cohort.NEWCOMER, false);
    everyone.add(c);
    // Its first request: no balance yet, so 402 (recorded), which sends it to top up.
    Instant first = clock.instant();
    DemoHttp.Chat r = http.chat(c.key, requestBody(maxTokens), System.nanoTime() + clientTimeout.toNanos());
    recorder.request(first, Cohort.NEWCOMER, r);
    if (r.outcome() != DemoHttp.Outcome.NO_BALANCE) {
      throw new DemoFailure("a new account with no balance was not refused with 402: " + r);
    }
    while (!stopping) {
      if (System.nanoTime() >= c.nextTopUpNanos && topUp(c)) {
        return;
      }
      // Wait for the Retry-After it was given, in short slices so that the end of the demo is noticed.
      long left = c.nextTopUpNanos - System.nanoTime();
      LockSupport.parkNanos(Math.max(TimeUnit.MILLISECONDS.toNanos(1), Math.min(TimeUnit.MILLISECONDS.toNanos(100), left)));
    }
  }

  /** Redeems a fresh code for {@code c}; true when the balance was credited. One top-up per customer at a time. */
  private boolean topUp(Customer c) {
    if (!c.toppingUp.compareAndSet(false, true)) {
      return false;
    }
    try {
      String code = code();
      Instant at = clock.instant();
      DemoHttp.Answer a = http.send("POST", "/v1/top-ups/redeem", c.key, http.object().put("code", code).toString());
      if (a.status() == 200) {
        recorder.topUp(at, true);
        creditedNanos.addAndGet(Money.parse(http.parse("redeem", a.body()).path("amount").asText()).nanos());
        if (!c.funded) {
          c.funded = true;
          if (c.cohort == Cohort.NEWCOMER) {
            activeNewcomers.add(c);
          }
        }
        return true;
      }
      if (a.status() == 503 && a.errorCode(http.json()).equals("recharge_suspended")) {
        recorder.topUp(at, false);
        codes.add(code); // a refused code stays unredeemed
        long demoSeconds = a.retryAfterSeconds().orElse(MIN_TOP_UP_RETRY.toSeconds());
        Duration wait = Duration.ofSeconds(Math.max(MIN_TOP_UP_RETRY.toSeconds(), Math.min(MAX_TOP_UP_RETRY.toSeconds(), demoSeconds)));
        c.nextTopUpNanos = System.nanoTime() + clock.realTime(wait).toNanos();
        return false;
      }
      throw new DemoFailure("POST /v1/top-ups/redeem answered " + a.status() + ": " + DemoHttp.abbreviate(a.body()));
    } finally {
      c.toppingUp.set(false);
    }
  }

  /** A redemption code made by the operator through the admin API, a batch at a time. */
  private String code() {
    String code = codes.poll();
    while (code == null) {
      // No lock across the call: two threads may both create a batch, which only leaves spare codes.
      JsonNode batch =
          http.admin("POST", "/admin/v1/redemption-codes", http.object().put("amount", TOP_UP_AMOUNT).put("count", CODES_PER_BATCH), 201);
      batch.path("data").forEach(n -> codes.add(n.asText()));
      code = codes.poll();
    }
    return code;
  }

  /** A short chat question after a shared system prompt; streamed, with usage, exactly {@code maxTokens} out. */
  static String requestBody(int maxTokens) {
    // Any thread may ask; the text only needs to vary, not to be reproducible.
    int n = ThreadLocalRandom.current().nextInt(1_000_000);
    ObjectNode body = JsonNodeFactory.instance.objectNode();
    body.put("model", MODEL);
    var messages = body.putArray("messages");
    messages.addObject().put("role", "system").put("content", SYSTEM_PROMPT);
    messages.addObject().put("role", "user").put("content", "Where is shipment " + n + " and when will it arrive?");
    body.put("max_tokens", maxTokens);
    body.put("ignore_eos", true);
    body.put("stream", true);
    body.putObject("stream_options").put("include_usage", true);
    return body.toString();
  }

  private void spawn(Runnable task) {
    if (inFlight.incrementAndGet() > MAX_IN_FLIGHT) {
      inFlight.decrementAndGet();
      fail(new DemoFailure("more than " + MAX_IN_FLIGHT + " customer exchanges open at once; the gateway is not answering"));
      return;
    }
    Thread.ofVirtual().name("demo-customer").start(() -> {
      try {
        task.run();
      } catch (DemoFailure e) {
        fail(e);
      } catch (RuntimeException e) {
        fail(new DemoFailure("a customer's exchange failed: " + e, e));
      } finally {
        inFlight.decrementAndGet();
      }
    });
  }

  private void fail(DemoFailure e) {
    failure.compareAndSet(null, e);
  }

  void throwIfFailed() {
    DemoFailure f = failure.get();
    if (f != null) {
      throw f;
    }
  }

  private static void parkUntil(long nanoTime) {
    for (long left = nanoTime - System.nanoTime(); left > 0; left = nanoTime - System.nanoTime()) {
      LockSupport.parkNanos(left);
    }
  }
}
