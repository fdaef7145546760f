package dev.jevons.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jevons.accounts.Accounts;
import dev.jevons.accounts.AdminToken;
import dev.jevons.api.HttpApi;
import dev.jevons.billing.DefaultPrices;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.PriceBook;
import dev.jevons.gateway.Biller;
import dev.jevons.store.SqlLedgerStore;
import dev.jevons.store.SqlTopUpStore;
import dev.jevons.billing.StripeSignature;
import dev.jevons.billing.TopUps;
import dev.jevons.config.JevonsConfig;
import dev.jevons.gateway.Gateway;
import dev.jevons.billing.Money;
import dev.jevons.governor.CapacityMonitor;
import dev.jevons.governor.DemandShaper;
import dev.jevons.governor.Gate;
import dev.jevons.governor.Governor;
import dev.jevons.governor.GovernorPolicy;
import dev.jevons.scheduler.LoadSignals;
import dev.jevons.store.SqlGovernorStore;
import java.util.EnumMap;
import dev.jevons.gateway.GatewayMetrics;
import dev.jevons.scheduler.Admission;
import dev.jevons.scheduler.FairQueue;
import dev.jevons.scheduler.PrefixIndex;
import dev.jevons.scheduler.Router;
import dev.jevons.upstream.MetricsScraper;
import dev.jevons.scheduler.LocalRateLimiter;
import dev.jevons.scheduler.RateLimiter;
import dev.jevons.sim.EngineProfile;
import dev.jevons.sim.SimConfig;
import dev.jevons.sim.SimFleet;
import dev.jevons.store.Database;
import dev.jevons.store.Redis;
import dev.jevons.store.RedisRateLimiter;
import dev.jevons.store.SqlAccountStore;
import dev.jevons.store.SqlPriceStore;
import dev.jevons.upstream.Replica;
import dev.jevons.upstream.UpstreamClient;
import dev.jevons.upstream.UpstreamPool;
import dev.jevons.upstream.Watchdog;
import io.helidon.webserver.WebServer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: builds every part from one {@link JevonsConfig}, starts them in order and
 * stops them in reverse. {@code jevons serve} and the end-to-end tests both run exactly this.
 */
public final class JevonsApp implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(JevonsApp.class);
  /** How soon a price change made on another node is seen here (see PriceBook). */
  static final Duration PRICE_REFRESH = Duration.ofSeconds(5);

  private final JevonsConfig config;
  private final List<AutoCloseable> toClose = new ArrayList<>();
  private final String adminToken;
  private final boolean adminTokenGenerated;
  private final Accounts accounts;
  private final PriceBook prices;
  private final Ledger ledger;
  private final UpstreamPool pool;
  private final Admission admission;
  private final @Nullable SimFleet fleet;
  private final Governor governor;
  private final CapacityMonitor capacity;
  private final WebServer server;

  /**
   * {@code businessClock} is the calendar that prices, discount windows, the governor's dwell
   * times and the demand history follow: the system clock in production, a compressed one in
   * {@code jevons demo}. Request-level timing (queue deadlines, timeouts, ledger holds) always
   * follows real time.
   */
  private JevonsApp(JevonsConfig config, Clock businessClock) {
    this.config = config;
    // Before the database, the ledger's claim and the simulated replicas: a second `serve` on the
    // same port says so at once, rather than after migrating, or as "the ledger is in use".
    HttpApi.requirePortFree(config.server().host(), config.server().port());
    try {
      Clock clock = Clock.systemUTC();
      Database db = Database.open(config.store().url(), config.store().user(), config.store().password());
      toClose.add(db);
      this.accounts = new Accounts(new SqlAccountStore(db), clock, new SecureRandom());
      this.prices = new PriceBook(new SqlPriceStore(db, businessClock), businessClock, new SecureRandom());
      List<String> seeded = prices.seedIfUnpriced(DefaultPrices.deepSeek());
      if (!seeded.isEmpty()) {
        log.info("seeded default prices for {}", seeded);
      }
      // A thread of its own: a slow database must not delay the upstream timers.
      ScheduledExecutorService priceRefresh =
          Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("jevons-prices").factory());
      toClose.add(priceRefresh::shutdownNow);
      priceRefresh.scheduleWithFixedDelay(
          this::refreshPrices, PRICE_REFRESH.toMillis(), PRICE_REFRESH.toMillis(), TimeUnit.MILLISECONDS);
      SqlLedgerStore ledgerStore = new SqlLedgerStore(db);
      this.ledger = new Ledger(ledgerStore, clock, Ledger.Options.DEFAULTS.withCommitDelay(config.billing().commitDelayMicros(), config.billing().commitSiblings()),
          config.billing().ledger().equals("shared") ? Ledger.Mode.SHARED : Ledger.Mode.EXCLUSIVE);
      toClose.add(ledger);
      // Holds of requests whose process died expire here, on any node (and this node's own at start).
      priceRefresh.scheduleWithFixedDelay(this::expireHolds, 1, 5, TimeUnit.SECONDS);

      String configured = config.adminToken();
      if (configured != null) {
        adminToken = configured;
        adminTokenGenerated = false;
      } else {
        Path file = config.dataDir().resolve("admin-token");
        adminTokenGenerated = !Files.exists(file);
        adminToken = adminTokenFromFile(file);
      }

      List<JevonsConfig.Upstream> upstreams = config.upstreams();
      if (config.usesSimulator()) {
        JevonsConfig.Sim sim = config.sim();
        SimConfig simConfig =
            new SimConfig(sim.profile(), sim.models(), sim.timeScale(), null, dev.jevons.sim.FaultPlan.none(), 42L);
        fleet = SimFleet.start(simConfig, sim.replicas(), 0);
        toClose.add(fleet);
        upstreams = new ArrayList<>();
        // Dispatch to a simulated replica only while it has a free batch slot, so requests wait
        // in Jevons' fair queue rather than in the engine's FIFO (late binding).
        EngineProfile profile = EngineProfile.byName(sim.profile());
        int slots = profile.maxNumSeqs();
        double prefill = profile.prefillTokensPerSecond() > 0 ? profile.prefillTokensPerSecond() * sim.timeScale() : Double.POSITIVE_INFINITY;
        int i = 1;
        for (URI url : fleet.baseUrls()) {
          upstreams.add(new JevonsConfig.Upstream("sim-" + i++, url, sim.models(), null, slots, 1, true, prefill));
        }
      } else {
        fleet = null;
      }

      ObjectMapper json = Gateway.newObjectMapper();
      ScheduledExecutorService scheduler =
          Executors.newScheduledThreadPool(1, Thread.ofPlatform().daemon().name("jevons-timer").factory());
      toClose.add(scheduler::shutdownNow);
      JevonsConfig.UpstreamPolicy policy = config.upstreamPolicy();
      Watchdog watchdog = new Watchdog(scheduler, System::nanoTime, 100);
      toClose.add(watchdog);
      UpstreamClient client =
          new UpstreamClient(
              json, Duration.ofMillis(policy.connectTimeoutMillis()), Duration.ofMillis(policy.firstByteTimeoutMillis()), watchdog);
      toClose.add(client);
      // Health checks block on HTTP; they get their own thread so timeouts and dispatch stay punctual.
      ScheduledExecutorService healthChecks =
          Executors.newScheduledThreadPool(1, Thread.ofPlatform().daemon().name("jevons-health").factory());
      toClose.add(healthChecks::shutdownNow);
      pool = new UpstreamPool(upstreams, policy, client, healthChecks, System::nanoTime);
      toClose.add(pool);
      pool.start();

      PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
      LoadSignals load = new LoadSignals();
      GatewayMetrics metrics = new GatewayMetrics(registry, pool, load);
      JevonsConfig.Scheduler scheduling = config.scheduler();
      FairQueue queue = new FairQueue(System::nanoTime, scheduling.queueMaxTokens(), scheduling.queueMaxRequests());
      List<Replica> watched = new ArrayList<>();
      for (int r = 0; r < upstreams.size(); r++) {
        if (upstreams.get(r).metrics()) {
          watched.add(pool.replicas().get(r));
        }
      }
      MetricsScraper scraper = pool.scrapeMetrics(watched, Duration.ofMillis(scheduling.metricsIntervalMillis()), scheduler);
      toClose.add(scraper);
      Router router =
          new Router(
              new PrefixIndex(100_000, 1_000),
              new Router.Settings(
                  Router.Policy.parse(scheduling.routing()), Map.of(), TimeUnit.MILLISECONDS.toNanos(scheduling.ttftTargetMillis()), 1_000));
      admission = new Admission(queue, pool::replicas, router, System::nanoTime, TimeUnit.MILLISECONDS.toNanos(scheduling.queueTargetMillis()));
      ScheduledFuture<?> ticker =
          scheduler.scheduleAtFixedRate(
              () -> {
                admission.tick();
                load.sampleOccupancy(pool.replicas(), System.nanoTime());
              },
              50,
              50,
              TimeUnit.MILLISECONDS);
      toClose.add(() -> ticker.cancel(false));
      RateLimiter limiter = rateLimiter(config.redis(), registry);
      Biller biller = new Biller(prices, ledger, config.billing(), businessClock, watchdog);
      Gateway gateway = new Gateway(pool, watchdog, json, metrics, admission, limiter, biller, config, System::nanoTime);
      JevonsConfig.Governor governing = config.governor();
      SqlGovernorStore governorStore = new SqlGovernorStore(db);
      governor = new Governor(governorPolicy(governing), governorStore, businessClock);
      capacity =
          new CapacityMonitor(load, governorStore, businessClock, (int) Math.max(1, governing.windowMillis() / governing.intervalMillis()));
      // The background thread that also refreshes prices: the governor's work is a few SQL calls.
      priceRefresh.scheduleWithFixedDelay(
          this::governorTick, governing.intervalMillis(), governing.intervalMillis(), TimeUnit.MILLISECONDS);
      metrics.watchGovernor(governor);
      metrics.watchQueue(queue);
      metrics.watchLedger(ledger);
      metrics.watchRouting(router, scraper);
      HttpApi api =
          new HttpApi(
              config.server(),
              new HttpApi.Services(
                  gateway,
                  accounts,
                  AdminToken.of(adminToken),
                  prices,
                  ledger,
                  ledgerStore,
                  new TopUps(new SqlTopUpStore(db), ledger, clock, new SecureRandom()),
                  config.stripe().webhookSecret() == null
                      ? null
                      : new StripeSignature(config.stripe().webhookSecret(), clock, StripeSignature.DEFAULT_TOLERANCE),
                  governor,
                  governing.enabled(),
                  new DemandShaper.Settings(
                      governing.shaping().windowHours(),
                      governing.shaping().targetShift(),
                      governing.shaping().elasticity(),
                      governing.shaping().maxDiscountBp()),
                  governing.shaping().historyDays(),
                  new HttpApi.Signups(
                      config.signups().enabled(),
                      Money.parse(config.signups().grant()).nanos(),
                      Duration.ofDays(config.signups().grantDays())),
                  businessClock),
              new HttpApi.Observability(metrics, registry, () -> notReady(db)),
              json,
              watchdog,
              System::nanoTime);
      server = api.start();
      toClose.add(server::stop);
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /**
   * Limits shared through Redis when {@code redis.url} is set (every node draws on one budget),
   * else kept in this process.
   */
  private RateLimiter rateLimiter(JevonsConfig.Redis settings, PrometheusMeterRegistry registry) {
    Duration concurrencyRetryAfter = Duration.ofSeconds(1);
    String url = settings.url();
    if (url == null) {
      return new LocalRateLimiter(System::nanoTime, 1_000_000, concurrencyRetryAfter);
    }
    Redis redis = Redis.connect(url, Duration.ofMillis(settings.timeoutMillis()));
    toClose.add(redis);
    // Renewals block on Redis: a thread of their own, so they never delay the timers.
    ScheduledExecutorService renewals =
        Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().name("jevons-redis-leases").factory());
    toClose.add(renewals::shutdownNow);
    RedisRateLimiter limiter =
        new RedisRateLimiter(
            redis,
            new RedisRateLimiter.Settings(
                settings.keyPrefix(), RedisRateLimiter.Settings.DEFAULT_LEASE, concurrencyRetryAfter, RedisRateLimiter.Settings.DEFAULT_BACKOFF),
            null,
            System::nanoTime,
            renewals,
            registry);
    toClose.add(limiter);
    log.info("rate limits are shared through Redis at {} under '{}'", redis.display(), settings.keyPrefix());
    return limiter;
  }

  public static JevonsApp start(JevonsConfig config) {
    return new JevonsApp(config, Clock.systemUTC());
  }

  /** Starts with prices and the governor on {@code businessClock} (see the constructor). */
  public static JevonsApp start(JevonsConfig config, Clock businessClock) {
    return new JevonsApp(config, businessClock);
  }

  static GovernorPolicy governorPolicy(JevonsConfig.Governor g) {
    Map<Gate, String> messages = new EnumMap<>(Gate.class);
    messages.put(Gate.TOP_UPS, g.topUpsMessage() == null ? GovernorPolicy.DEFAULT_TOP_UPS_MESSAGE : g.topUpsMessage());
    messages.put(Gate.SIGNUPS, g.signupsMessage() == null ? GovernorPolicy.DEFAULT_SIGNUPS_MESSAGE : g.signupsMessage());
    return new GovernorPolicy(
        new GovernorPolicy.Thresholds(g.closeUtilization(), g.closeQueueWaitP95Millis(), g.closeShedRate(), g.closeRunwayDays()),
        new GovernorPolicy.Thresholds(g.reopenUtilization(), g.reopenQueueWaitP95Millis(), g.reopenShedRate(), g.reopenRunwayDays()),
        Duration.ofMillis(g.closeDwellMillis()),
        Duration.ofMillis(g.reopenDwellMillis()),
        Duration.ofMillis(g.manualRetryAfterMillis()),
        messages);
  }

  /**
   * Samples the capacity signals (always: they are shown and recorded as history) and, when the
   * automatic policy is on, lets the governor judge them; takes other nodes' overrides either way.
   */
  private void governorTick() {
    try {
      governor.refreshOverrides();
      var signals = capacity.sample();
      if (config.governor().enabled()) {
        governor.evaluate(signals);
      } else {
        governor.observe(signals);
      }
    } catch (RuntimeException e) {
      // Fail safe: the gates stay as they are until the next tick.
      log.warn("governor tick failed; gates unchanged: {}", e.getMessage());
    }
  }

  private void refreshPrices() {
    try {
      prices.refresh();
    } catch (RuntimeException e) {
      // Fail open: the prices last loaded stay in force until the store answers again.
      log.warn("cannot refresh prices; keeping those loaded: {}", e.getMessage());
    }
  }

  private @Nullable String notReady(Database db) {
    try (Connection c = db.dataSource().getConnection()) {
      if (!c.isValid(1)) {
        return "the store does not answer";
      }
    } catch (SQLException e) {
      return "the store does not answer: " + e.getMessage();
    }
    for (Replica r : pool.replicas()) {
      if (r.healthy()) {
        return null;
      }
    }
    return "no upstream passes its health check";
  }

  private static String adminTokenFromFile(Path file) {
    try {
      if (Files.exists(file)) {
        String t = Files.readString(file, StandardCharsets.UTF_8).trim();
        if (!t.isEmpty()) {
          return t;
        }
      }
      Files.createDirectories(file.getParent());
      String token = AdminToken.generate(new SecureRandom());
      Files.writeString(file, token + "\n", StandardCharsets.UTF_8);
      try {
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
      } catch (UnsupportedOperationException e) {
        // Not a POSIX file system; the data directory's own permissions protect the token.
      }
      return token;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read or create the admin token file " + file, e);
    }
  }

  public int port() {
    return server.port();
  }

  public URI baseUrl() {
    String host = config.server().host();
    if (host.equals("0.0.0.0") || host.equals("::")) {
      host = "127.0.0.1";
    }
    return URI.create("http://" + host + ":" + port());
  }

  public String adminToken() {
    return adminToken;
  }

  public boolean adminTokenGenerated() {
    return adminTokenGenerated;
  }

  public Accounts accounts() {
    return accounts;
  }

  public Admission admission() {
    return admission;
  }

  public Ledger ledger() {
    return ledger;
  }

  private void expireHolds() {
    try {
      while (ledger.expireDue(java.time.Instant.now()).get(30, TimeUnit.SECONDS) > 0) {
        // Each call ends a bounded batch; continue until nothing is due.
      }
    } catch (Exception e) {
      log.warn("expiring overdue ledger holds failed; will retry", e);
    }
  }

  public Governor governor() {
    return governor;
  }

  public PriceBook prices() {
    return prices;
  }

  public UpstreamPool pool() {
    return pool;
  }

  public @Nullable SimFleet fleet() {
    return fleet;
  }

  public JevonsConfig config() {
    return config;
  }

  @Override
  public void close() {
    for (int i = toClose.size() - 1; i >= 0; i--) {
      try {
        toClose.get(i).close();
      } catch (Exception e) {
        log.warn("error while stopping {}", toClose.get(i), e);
      }
    }
    toClose.clear();
  }
}
