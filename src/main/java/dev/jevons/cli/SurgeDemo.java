package dev.jevons.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jevons.billing.DiscountWindow;
import dev.jevons.billing.Money;
import dev.jevons.cli.DemoRecorder.Cohort;
import dev.jevons.governor.Gate;
import java.io.PrintWriter;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.jspecify.annotations.Nullable;

/**
 * Runs the surge scenario ({@link SurgeScenario}) against a started Jevons: measures the fleet,
 * creates the customers, runs the calendar with the operator's steps (announce the price change,
 * ask for and apply an off-peak proposal) while {@link DemoLoad} sends the customers' requests and a
 * sampler reads the queue, the gates and the audit log, then reads revenue from the usage records,
 * checks it against the ledger, and returns what happened. Prints the timeline as it goes.
 */
final class SurgeDemo {
  static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("MM-dd HH:mm", Locale.ROOT).withZone(ZoneOffset.UTC);
  static final Duration BUCKET = Duration.ofMinutes(30);
  static final String REGULAR_BALANCE = "5.00";
  static final String RUSHER_BALANCE = "1.00";
  /** The promotion's end as DeepSeek priced it (USD per 1M tokens: cache hit, cache miss, output). */
  static final String[] PRICE_AFTER_PROMO = {"0.07", "0.27", "1.10"};

  record Settings(
      boolean governor,
      int maxTokens,
      Duration deadline,
      @Nullable Double elasticity,
      int offPeakHours,
      long seed,
      Duration capacityWarmup,
      Duration capacityMeasure,
      int regulars,
      int rushers) {}

  record Transition(Instant at, String gate, boolean open, String reason) {}

  record Proposal(String start, String end, int discountBp, double expectedShift, double elasticity, String json) {}

  /** The surge, for the summary's split: from the announcement to two hours after the promotion's end. */
  static final Instant SURGE_END = SurgeScenario.PROMO_END.plus(Duration.ofHours(2));

  /** The window's hours compared across the two nights: existing customers' offered load, multiples of capacity. */
  record Night(List<Integer> hours, double before, double after, double modelled) {}

  record Result(
      double capacityRps,
      long sent,
      long served,
      long shed,
      long shedLate,
      long noBalance,
      long rateLimited,
      long errors,
      long heldBack,
      long ttftP99Nanos,
      long existingSent,
      long existingServed,
      long existingShed,
      long existingTtftP99Nanos,
      long regularSent,
      long regularServed,
      long regularTtftP99Nanos,
      long[] regularsCalm,
      long[] regularsSurge,
      long existingServedWhileClosed,
      long newSent,
      long newServed,
      long newShed,
      long topUpsAccepted,
      long topUpsRefused,
      long signupsAccepted,
      long signupsRefused,
      List<Transition> transitions,
      long revenueNanos,
      long revenuePromoNanos,
      Proposal proposal,
      Night night,
      List<DemoChart.Event> events) {

    long closures(String gate) {
      return transitions.stream().filter(t -> t.gate().equals(gate) && !t.open()).count();
    }

    long reopenings(String gate) {
      return transitions.stream().filter(t -> t.gate().equals(gate) && t.open()).count();
    }
  }

  private final JevonsApp app;
  private final CompressedClock clock;
  private final Settings settings;
  private final PrintWriter out;
  private final DemoHttp http;
  private final DemoRecorder recorder;
  private final List<DemoChart.Event> events = new ArrayList<>();
  private final Set<String> seenAuditIds = new HashSet<>();
  private final AtomicReference<@Nullable DemoFailure> samplerFailure = new AtomicReference<>();

  SurgeDemo(JevonsApp app, CompressedClock clock, Settings settings, PrintWriter out) {
    this.app = app;
    this.clock = clock;
    this.settings = settings;
    this.out = out;
    this.http = new DemoHttp(app.baseUrl(), app.adminToken(), dev.jevons.gateway.Gateway.newObjectMapper());
    this.recorder = new DemoRecorder(SurgeScenario.START, SurgeScenario.END, BUCKET);
  }

  DemoRecorder recorder() {
    return recorder;
  }

  Result run() {
    try {
      return runScenario();
    } finally {
      http.close();
    }
  }

  private Result runScenario() {
    awaitReady();
    JsonNode existing = http.admin("GET", "/admin/v1/accounts?limit=1", null, 200);
    if (existing.path("data").size() > 0) {
      throw new DemoFailure("the store already has accounts; the demo needs an empty one (a fresh --data directory or database)");
    }
    double capacityRps = measureCapacity();
    out.printf(Locale.ROOT, "fleet capacity: %.2f requests/s (closed loop straight to the %d replicas, %d s); 5x is %.1f requests/s%n",
        capacityRps, fleetUrls().size(), settings.capacityMeasure().toSeconds(), 5 * capacityRps);
    DemoLoad load = new DemoLoad(http, clock, recorder, capacityRps, settings.maxTokens(), settings.deadline().plusSeconds(60), settings.seed());
    for (int i = 1; i <= settings.regulars(); i++) {
      load.addExisting(Cohort.REGULAR, "regular-" + i, REGULAR_BALANCE);
    }
    for (int i = 1; i <= settings.rushers(); i++) {
      load.addExisting(Cohort.RUSHER, "rusher-" + i, RUSHER_BALANCE);
    }
    out.printf(Locale.ROOT, "customers: %d regulars with %s USD and %d rush customers with %s USD (admin API); newcomers sign up through POST /v1/signups%n",
        settings.regulars(), REGULAR_BALANCE, settings.rushers(), RUSHER_BALANCE);
    out.printf(Locale.ROOT, "calendar: %s to %s UTC, one demo hour = %.2f s; governor %s%n%n",
        STAMP.format(SurgeScenario.START), STAMP.format(SurgeScenario.END), 3600 / clock.speed(), settings.governor() ? "on" : "OFF (--no-governor)");
    out.flush();

    clock.begin();
    AtomicBoolean sampling = new AtomicBoolean(true);
    Thread sampler = Thread.ofVirtual().name("demo-sampler").start(() -> sample(sampling, capacityRps));
    try {
      event(clock.instant(), "calendar starts; steady demand from " + settings.regulars() + " regulars and " + settings.rushers() + " other customers");
      load.run(SurgeScenario.ANNOUNCE);
      String version = announcePromoEnd();
      load.run(SurgeScenario.PROMO_END);
      checkPromoEnded(version);
      load.run(SurgeScenario.PROPOSE);
      Proposal proposal = proposeAndApply(load);
      load.run(SurgeScenario.END);
      load.drain(settings.deadline().plusSeconds(90));
      checkErrors();
      sampling.set(false);
      sampler.join(Duration.ofSeconds(10));
      throwIfSamplerFailed();
      pollAudit();
      long revenue = collectRevenue(load);
      return result(capacityRps, revenue, proposal, load);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DemoFailure("interrupted", e);
    } finally {
      sampling.set(false);
    }
  }

  /**
   * Requests that ended in anything but an answer, a 402, a 429 or a shed (a 500, a broken or cut
   * stream) are failures of the system under test: a few are reported, more than 1% fail the run.
   */
  private void checkErrors() {
    long errors = recorder.errors();
    long sent = recorder.sent(Cohort.values());
    if (errors > Math.max(3, sent / 100)) {
      throw new DemoFailure(errors + " of " + sent + " requests failed unexpectedly, e.g. " + recorder.errorSamples());
    }
    if (errors > 0) {
      out.println("note: " + errors + " requests failed unexpectedly: " + recorder.errorSamples());
    }
  }

  private void awaitReady() {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (http.send("GET", "/ready", null, null).status() != 200) {
      if (System.nanoTime() > deadline) {
        throw new DemoFailure("Jevons did not become ready within 30 s (GET /ready)");
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(100));
    }
  }

  private List<URI> fleetUrls() {
    if (app.fleet() == null) {
      throw new DemoFailure("the demo needs the built-in simulator fleet");
    }
    return app.fleet().baseUrls();
  }

  /**
   * Closed loop straight to the replicas, one client per batch slot (the simulator reports no
   * slot count, so the configured concurrency of the replicas Jevons dispatches to is used),
   * the scenario's request shape; completions per second after a warm-up.
   */
  private double measureCapacity() {
    List<URI> urls = fleetUrls();
    int clients = app.pool().replicas().stream().mapToInt(r -> r.maxConcurrency()).sum();
    AtomicBoolean measuring = new AtomicBoolean();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong done = new AtomicLong();
    ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      URI url = URI.create(urls.get(c % urls.size()) + "/chat/completions");
      threads.add(Thread.ofVirtual().start(() -> {
        while (!stop.get()) {
          DemoHttp.Chat r = http.chat(url, null, DemoLoad.requestBody(settings.maxTokens()), System.nanoTime() + TimeUnit.SECONDS.toNanos(60));
          if (r.outcome() != DemoHttp.Outcome.OK) {
            failures.add(r.status() + " " + r.detail());
            return;
          }
          if (measuring.get()) {
            done.incrementAndGet();
          }
        }
      }));
    }
    LockSupport.parkNanos(settings.capacityWarmup().toNanos());
    measuring.set(true);
    long t0 = System.nanoTime();
    LockSupport.parkNanos(settings.capacityMeasure().toNanos());
    measuring.set(false);
    double seconds = (System.nanoTime() - t0) / 1e9;
    stop.set(true);
    for (Thread t : threads) {
      try {
        t.join(Duration.ofSeconds(60));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new DemoFailure("interrupted while measuring capacity", e);
      }
    }
    if (!failures.isEmpty()) {
      throw new DemoFailure("measuring the fleet's capacity failed: " + failures.peek());
    }
    if (done.get() == 0) {
      throw new DemoFailure("the fleet completed no request in " + settings.capacityMeasure().toSeconds() + " s; cannot size the load");
    }
    return done.get() / seconds;
  }

  /** Schedules the real price change at the promotion's end through the admin prices API. */
  private String announcePromoEnd() {
    ObjectNode change = http.object()
        .put("input_cache_hit", PRICE_AFTER_PROMO[0])
        .put("input_cache_miss", PRICE_AFTER_PROMO[1])
        .put("output", PRICE_AFTER_PROMO[2])
        .put("effective_from", SurgeScenario.PROMO_END.toString());
    JsonNode schedule = http.admin("PUT", "/admin/v1/prices/" + DemoLoad.MODEL, change, 200);
    String version = null;
    for (JsonNode v : schedule.path("schedule")) {
      if (Instant.parse(v.path("effective_from").asText()).equals(SurgeScenario.PROMO_END)) {
        version = v.path("id").asText();
      }
    }
    if (version == null) {
      throw new DemoFailure("the price change at " + SurgeScenario.PROMO_END + " is not in the schedule the API answered: " + DemoHttp.abbreviate(schedule.toString()));
    }
    event(clock.instant(), String.format(Locale.ROOT,
        "promotion ends at %s: %s output %s -> %s USD per 1M tokens (PUT /admin/v1/prices, price version %s); the rush to use it and to top up begins",
        STAMP.format(SurgeScenario.PROMO_END), DemoLoad.MODEL, schedule.path("output").asText(), PRICE_AFTER_PROMO[2], version));
    return version;
  }

  private void checkPromoEnded(String version) {
    JsonNode prices = http.admin("GET", "/admin/v1/prices/" + DemoLoad.MODEL, null, 200);
    if (!prices.path("price_version").asText().equals(version)) {
      throw new DemoFailure("at " + clock.instant() + " the price in force is " + prices.path("price_version").asText() + ", not the scheduled " + version);
    }
    event(SurgeScenario.PROMO_END, String.format(Locale.ROOT, "promotion ended: %s now %s / %s / %s USD per 1M tokens (version %s in force)",
        DemoLoad.MODEL, prices.path("input_cache_hit").asText(), prices.path("input_cache_miss").asText(), prices.path("output").asText(), version));
  }

  /** Asks the governor for the quietest hours of the history and applies its proposal as a price window. */
  private Proposal proposeAndApply(DemoLoad load) {
    String path = "/admin/v1/governor/proposals?days=1&hours=" + settings.offPeakHours();
    JsonNode p = http.admin("GET", path, null, 200);
    String start = p.path("start").asText();
    String end = p.path("end").asText();
    if (!p.path("discount_bp").canConvertToInt() || start.isEmpty() || end.isEmpty()) {
      throw new DemoFailure("GET " + path + " answered no usable proposal: " + DemoHttp.abbreviate(p.toString()));
    }
    int bp = p.path("discount_bp").asInt();
    double shift = p.path("expected_shift").asDouble(Double.NaN);
    double assumed = p.path("elasticity").asDouble(Double.NaN);
    Proposal proposal = new Proposal(start, end, bp, shift, assumed, p.toString());
    Instant now = clock.instant();
    event(now, "off-peak proposal (GET " + path + "): " + p.path("summary").asText(start + "-" + end + " at " + percent(bp) + " off"));
    ObjectNode apply = http.object().put("start", start).put("end", end).put("discount_bp", bp).put("effective_from", now.truncatedTo(ChronoUnit.SECONDS).toString());
    JsonNode applied = http.admin("POST", "/admin/v1/governor/proposals/apply", apply, 200);
    List<DiscountWindow> windows = windows(http.admin("GET", "/admin/v1/prices/" + DemoLoad.MODEL, null, 200));
    boolean present = windows.stream().anyMatch(w -> w.discountBp() == bp && DiscountWindow.format(w.start()).equals(start) && DiscountWindow.format(w.end()).equals(end));
    if (!present) {
      throw new DemoFailure("after POST /admin/v1/governor/proposals/apply the " + DemoLoad.MODEL + " schedule has no " + start + "-" + end + " window at " + bp
          + " bp: " + DemoHttp.abbreviate(applied.toString()));
    }
    double elasticity = settings.elasticity() != null ? settings.elasticity() : assumed;
    if (!(elasticity >= 0 && elasticity <= 1)) {
      throw new DemoFailure("the proposal states no usable elasticity (" + p.path("elasticity") + "); give --elasticity");
    }
    load.respondTo(new SurgeScenario.Response(windows, elasticity));
    event(clock.instant(), String.format(Locale.ROOT,
        "proposal applied (POST /admin/v1/governor/proposals/apply, %d models): %s-%s UTC daily at %s off from now; customers respond with elasticity %.2f (the proposal assumed %.2f)",
        applied.path("data").size(), start, end, percent(bp), elasticity, assumed));
    return proposal;
  }

  private static List<DiscountWindow> windows(JsonNode schedule) {
    List<DiscountWindow> out = new ArrayList<>();
    for (JsonNode w : schedule.path("windows")) {
      out.add(new DiscountWindow(
          LocalTime.parse(w.path("start").asText()),
          LocalTime.parse(w.path("end").asText()),
          w.path("discount_bp").asInt(),
          w.path("effective_from").isTextual() ? Instant.parse(w.path("effective_from").asText()) : null,
          w.path("effective_until").isTextual() ? Instant.parse(w.path("effective_until").asText()) : null));
    }
    return out;
  }

  /** The sampler: queue and busy slots from /metrics, gates from /v1/status, transitions from the audit log; an hourly line. */
  private void sample(AtomicBoolean sampling, double capacityRps) {
    long interval = Math.max(TimeUnit.MILLISECONDS.toNanos(100), clock.realTime(Duration.ofSeconds(150)).toNanos());
    Instant nextLine = SurgeScenario.START.plus(Duration.ofMinutes(90));
    try {
      while (sampling.get()) {
        Instant t = clock.instant();
        String metrics = http.send("GET", "/metrics", null, null).body();
        JsonNode status = http.parse("GET /v1/status", http.send("GET", "/v1/status", null, null).body());
        boolean[] open = new boolean[Gate.values().length];
        for (JsonNode g : status.path("gates")) {
          Gate.byId(g.path("gate").asText()).ifPresent(gate -> open[gate.ordinal()] = g.path("state").asText().equals("open"));
        }
        recorder.sample(t, orZero(DemoHttp.sumMetric(metrics, "jevons_queue_requests")), orZero(DemoHttp.sumMetric(metrics, "jevons_upstream_in_flight")), open);
        pollAudit();
        if (!t.isBefore(nextLine)) {
          printHour(nextLine.minus(Duration.ofMinutes(90)), capacityRps, open);
          nextLine = nextLine.plus(Duration.ofHours(1));
        }
        LockSupport.parkNanos(interval);
      }
    } catch (DemoFailure e) {
      samplerFailure.compareAndSet(null, e);
    } catch (RuntimeException e) {
      samplerFailure.compareAndSet(null, new DemoFailure("sampling the gateway failed: " + e, e));
    }
  }

  private void throwIfSamplerFailed() {
    DemoFailure f = samplerFailure.get();
    if (f != null) {
      throw f;
    }
  }

  private static double orZero(double v) {
    return Double.isNaN(v) ? 0 : v;
  }

  /** One line per demo hour, printed 30 demo minutes after it ends so that most of its requests have finished. */
  private void printHour(Instant hour, double capacityRps, boolean[] open) {
    int first = recorder.index(hour);
    int n = (int) (Duration.ofHours(1).toMillis() / BUCKET.toMillis());
    long sent = 0;
    long ok = 0;
    long shed = 0;
    double queueMax = 0;
    long topOk = 0;
    long topRefused = 0;
    for (int i = first; i < Math.min(recorder.bucketCount(), first + n); i++) {
      DemoRecorder.Bucket b = recorder.bucket(i);
      synchronized (recorder) {
        sent += b.sent();
        ok += b.count(DemoHttp.Outcome.OK);
        shed += b.count(DemoHttp.Outcome.SHED) + b.count(DemoHttp.Outcome.SHED_LATE);
        queueMax = Math.max(queueMax, b.queueMax);
        topOk += b.topUpsOk;
        topRefused += b.topUpsRefused;
      }
    }
    double realSeconds = 3600 / clock.speed();
    synchronized (this) {
      out.printf(Locale.ROOT, "  %s  offered %4.1fx  served %4.2fx  shed %3.0f%%  queue <= %3.0f  top-ups %3d ok %3d refused  gates: top_ups %s, signups %s%n",
          STAMP.format(hour), sent / realSeconds / capacityRps, ok / realSeconds / capacityRps, ok + shed == 0 ? 0.0 : 100.0 * shed / (ok + shed), queueMax,
          topOk, topRefused, open[Gate.TOP_UPS.ordinal()] ? "open" : "CLOSED", open[Gate.SIGNUPS.ordinal()] ? "open" : "CLOSED");
      out.flush();
    }
  }

  /** New lines of the governor's audit log become timeline events, with their reasons. */
  private void pollAudit() {
    JsonNode log = http.admin("GET", "/admin/v1/governor/events?limit=1000", null, 200);
    List<JsonNode> fresh = new ArrayList<>();
    synchronized (seenAuditIds) {
      for (JsonNode e : log.path("data")) {
        if (seenAuditIds.add(e.path("id").asText())) {
          fresh.add(e);
        }
      }
    }
    fresh.sort(Comparator.comparing(e -> e.path("id").asText()));
    for (JsonNode e : fresh) {
      event(Instant.parse(e.path("at").asText()), String.format(Locale.ROOT, "%s %s %s: %s",
          e.path("gate").asText(), e.path("kind").asText(), e.path("state").asText().toUpperCase(Locale.ROOT), e.path("reason").asText()));
    }
  }

  private synchronized void event(Instant at, String text) {
    events.add(new DemoChart.Event(at, text));
    out.printf(Locale.ROOT, "* %s  %s%n", STAMP.format(at), text);
    out.flush();
  }

  /**
   * Revenue per demo hour from every account's usage records (the ledger writes them with each
   * debit), checked against the ledger: what was credited minus what is left must equal what the
   * records charged, to the nano.
   */
  private long collectRevenue(DemoLoad load) {
    long charged = 0;
    long left = 0;
    for (DemoLoad.Customer c : load.customers()) {
      charged += usage(c.accountId, SurgeScenario.START, SurgeScenario.END.plus(Duration.ofHours(1)));
      JsonNode balance = http.admin("GET", "/admin/v1/accounts/" + c.accountId + "/balance", null, 200);
      JsonNode info = balance.path("balance_infos").path(0);
      left += Money.parse(info.path("total_balance").asText()).nanos();
      String reserved = balance.path("reserved_balance").asText("0");
      if (Money.parse(reserved).nanos() != 0) {
        throw new DemoFailure("account " + c.accountId + " still has " + reserved + " USD held after every request ended");
      }
    }
    long debited = load.creditedNanos() - left;
    if (debited != charged) {
      throw new DemoFailure("the ledger and the usage records disagree: credited " + Money.ofNanos(load.creditedNanos()) + ", left "
          + Money.ofNanos(left) + ", so debited " + Money.ofNanos(debited) + ", but the usage records charged " + Money.ofNanos(charged));
    }
    return charged;
  }

  /** Sums one account's usage costs in [from, to), bucketed by arrival; splits the range when a page is full. */
  private long usage(String accountId, Instant from, Instant to) {
    String path = "/admin/v1/accounts/" + accountId + "/usage?from=" + enc(from) + "&to=" + enc(to);
    JsonNode page = http.admin("GET", path, null, 200);
    if (page.path("has_more").asBoolean(false)) {
      Instant mid = from.plus(Duration.between(from, to).dividedBy(2));
      return usage(accountId, from, mid) + usage(accountId, mid, to);
    }
    long sum = 0;
    for (JsonNode r : page.path("data")) {
      long cost = Money.parse(r.path("cost").asText()).nanos();
      recorder.revenue(Instant.parse(r.path("created_at").asText()), cost);
      sum += cost;
    }
    return sum;
  }

  private static String enc(Instant t) {
    return URLEncoder.encode(t.toString(), StandardCharsets.UTF_8);
  }

  private Result result(double capacityRps, long revenue, Proposal proposal, DemoLoad load) {
    Cohort[] all = Cohort.values();
    Cohort[] existing = {Cohort.REGULAR, Cohort.RUSHER};
    List<Transition> transitions = new ArrayList<>();
    JsonNode log = http.admin("GET", "/admin/v1/governor/events?limit=1000", null, 200);
    for (JsonNode e : log.path("data")) {
      if (e.path("kind").asText().equals("transition")) {
        transitions.add(new Transition(Instant.parse(e.path("at").asText()), e.path("gate").asText(), e.path("state").asText().equals("open"), e.path("reason").asText()));
      }
    }
    transitions.sort(Comparator.comparing(Transition::at));
    long[] calm = new long[2];
    long[] surge = new long[2];
    long servedWhileClosed = 0;
    Instant closedAt = null;
    Instant reopenedAt = null;
    for (Transition t : transitions) {
      if (t.gate().equals(Gate.TOP_UPS.id())) {
        if (!t.open() && closedAt == null) {
          closedAt = t.at();
        } else if (t.open() && closedAt != null && reopenedAt == null) {
          reopenedAt = t.at();
        }
      }
    }
    for (int i = 0; i < recorder.bucketCount(); i++) {
      Instant from = recorder.bucketStart(i);
      DemoRecorder.Bucket b = recorder.bucket(i);
      synchronized (recorder) {
        long sent = 0;
        for (long v : b.outcomes[Cohort.REGULAR.ordinal()]) {
          sent += v;
        }
        long ok = b.outcomes[Cohort.REGULAR.ordinal()][DemoHttp.Outcome.OK.ordinal()];
        long[] into = !from.isBefore(SurgeScenario.ANNOUNCE) && from.isBefore(SURGE_END) ? surge : calm;
        into[0] += sent;
        into[1] += ok;
        boolean closed = closedAt != null && !from.isBefore(closedAt.truncatedTo(ChronoUnit.HOURS).plus(Duration.ofHours(1)))
            && (reopenedAt == null || from.plus(BUCKET).isBefore(reopenedAt.plusSeconds(1)));
        if (closed) {
          servedWhileClosed += b.outcomes[Cohort.REGULAR.ordinal()][DemoHttp.Outcome.OK.ordinal()]
              + b.outcomes[Cohort.RUSHER.ordinal()][DemoHttp.Outcome.OK.ordinal()];
        }
      }
    }
    long promoRevenue = 0;
    for (int i = 0; i < recorder.bucketCount(); i++) {
      if (recorder.bucketStart(i).isBefore(SurgeScenario.PROMO_END)) {
        promoRevenue += recorder.bucket(i).revenueNanos;
      }
    }
    long[] topUps = recorder.topUpTotals();
    long[] signups = recorder.signupTotals();
    List<DemoChart.Event> timeline;
    synchronized (this) {
      timeline = List.copyOf(events);
    }
    return new Result(
        capacityRps,
        recorder.sent(all),
        recorder.total(DemoHttp.Outcome.OK, all),
        recorder.total(DemoHttp.Outcome.SHED, all) + recorder.total(DemoHttp.Outcome.SHED_LATE, all),
        recorder.total(DemoHttp.Outcome.SHED_LATE, all),
        recorder.total(DemoHttp.Outcome.NO_BALANCE, all),
        recorder.total(DemoHttp.Outcome.RATE_LIMITED, all),
        recorder.total(DemoHttp.Outcome.ERROR, all),
        recorder.heldBackTotal(),
        DemoRecorder.quantile(recorder.ttfts(all), 0.99),
        recorder.sent(existing),
        recorder.total(DemoHttp.Outcome.OK, existing),
        recorder.total(DemoHttp.Outcome.SHED, existing) + recorder.total(DemoHttp.Outcome.SHED_LATE, existing),
        DemoRecorder.quantile(recorder.ttfts(existing), 0.99),
        recorder.sent(Cohort.REGULAR),
        recorder.total(DemoHttp.Outcome.OK, Cohort.REGULAR),
        DemoRecorder.quantile(recorder.ttfts(Cohort.REGULAR), 0.99),
        calm,
        surge,
        servedWhileClosed,
        recorder.sent(Cohort.NEWCOMER),
        recorder.total(DemoHttp.Outcome.OK, Cohort.NEWCOMER),
        recorder.total(DemoHttp.Outcome.SHED, Cohort.NEWCOMER) + recorder.total(DemoHttp.Outcome.SHED_LATE, Cohort.NEWCOMER),
        topUps[0],
        topUps[1],
        signups[0],
        signups[1],
        transitions,
        revenue,
        promoRevenue,
        proposal,
        night(proposal, capacityRps, load),
        timeline);
  }

  /**
   * The existing customers' offered load in the proposed window's hours, on the night before it
   * was applied and the night after, for every hour of the window that falls in both measured
   * stretches; and what the load model predicts for the rise.
   */
  private Night night(Proposal p, double capacityRps, DemoLoad load) {
    DiscountWindow w = new DiscountWindow(LocalTime.parse(p.start()), LocalTime.parse(p.end()), Math.max(1, p.discountBp()), null, null);
    List<Integer> hours = new ArrayList<>();
    long before = 0;
    long after = 0;
    double modelledBefore = 0;
    double modelledAfter = 0;
    for (int h = 0; h < 24; h++) {
      Instant day1 = SurgeScenario.START.plus(Duration.ofHours(h));
      Instant day2 = day1.plus(Duration.ofDays(1));
      boolean inWindow = w.activeAt(day1.plus(Duration.ofMinutes(30)));
      if (inWindow && !day1.plus(Duration.ofHours(1)).isAfter(SurgeScenario.PROPOSE) && !day2.plus(Duration.ofHours(1)).isAfter(SurgeScenario.END)) {
        hours.add(h);
        before += sentExisting(day1);
        after += sentExisting(day2);
        for (int m = 0; m < 60; m++) {
          modelledBefore += SurgeScenario.regulars(day1.plusSeconds(60L * m + 30), SurgeScenario.Response.NONE)
              + SurgeScenario.rushers(day1.plusSeconds(60L * m + 30), SurgeScenario.Response.NONE);
          modelledAfter += SurgeScenario.regulars(day2.plusSeconds(60L * m + 30), load.response())
              + SurgeScenario.rushers(day2.plusSeconds(60L * m + 30), load.response());
        }
      }
    }
    if (hours.isEmpty()) {
      return new Night(hours, Double.NaN, Double.NaN, Double.NaN);
    }
    double realSeconds = hours.size() * 3600 / clock.speed();
    return new Night(hours, before / realSeconds / capacityRps, after / realSeconds / capacityRps, modelledAfter / modelledBefore);
  }

  private long sentExisting(Instant hour) {
    long n = 0;
    int first = recorder.index(hour);
    for (int i = first; i < first + Duration.ofHours(1).toMillis() / BUCKET.toMillis() && i < recorder.bucketCount(); i++) {
      DemoRecorder.Bucket b = recorder.bucket(i);
      synchronized (recorder) {
        for (Cohort c : new Cohort[] {Cohort.REGULAR, Cohort.RUSHER}) {
          for (long v : b.outcomes[c.ordinal()]) {
            n += v;
          }
          n += b.heldBack[c.ordinal()];
        }
      }
    }
    return n;
  }

  static String percent(int bp) {
    return bp % 100 == 0 ? bp / 100 + "%" : String.format(Locale.ROOT, "%.2f%%", bp / 100.0);
  }
}
