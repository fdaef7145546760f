package dev.jevons.config;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * The whole effective configuration, immutable once loaded. {@link ConfigLoader} builds it from
 * defaults, a YAML file, {@code JEVONS_*} environment variables and command-line flags, in that
 * order of increasing precedence, and validates every value before anything starts.
 */
public record JevonsConfig(
    Server server,
    Path dataDir,
    Store store,
    @Nullable String adminToken,
    UpstreamPolicy upstreamPolicy,
    List<Upstream> upstreams,
    Scheduler scheduler,
    RateLimits rateLimits,
    Billing billing,
    Sim sim,
    Stripe stripe,
    Governor governor,
    Signups signups,
    Redis redis) {

  public JevonsConfig {
    upstreams = List.copyOf(upstreams);
  }

  public record Server(
      String host,
      int port,
      long maxBodyBytes,
      int maxHeaderBytes,
      long clientReadTimeoutMillis,
      boolean accessLog) {}

  public record Store(String url, @Nullable String user, @Nullable String password) {}

  /** How the gateway treats every upstream: timeouts, ejection and retries. */
  public record UpstreamPolicy(
      long connectTimeoutMillis,
      long firstByteTimeoutMillis,
      long idleTimeoutMillis,
      long healthIntervalMillis,
      long ejectBaseMillis,
      long ejectMaxMillis,
      int failuresToEject,
      int maxAttempts) {}

  /**
   * One inference server. An empty {@code models} list means "discover from the server's
   * {@code /v1/models}".
   */
  public record Upstream(
      String name,
      URI baseUrl,
      List<String> models,
      @Nullable String apiKey,
      int maxConcurrency,
      int weight,
      boolean metrics,
      double prefillTokensPerSecond) {
    public static final double DEFAULT_PREFILL_TOKENS_PER_SECOND = 10_000;

    public Upstream {
      models = List.copyOf(models);
    }

    public Upstream(String name, URI baseUrl, List<String> models, @Nullable String apiKey, int maxConcurrency, int weight) {
      this(name, baseUrl, models, apiKey, maxConcurrency, weight, false, DEFAULT_PREFILL_TOKENS_PER_SECOND);
    }
  }

  /**
   * Admission: the fair queue requests wait in for capacity.
   *
   * @param defaultMaxOutputTokens what a request without {@code max_tokens} is assumed to
   *     generate, for queue accounting until its actual usage is known
   * @param queueTargetMillis once every server of a model has been busy with work waiting for a
   *     tenth of this (a standing queue), a new request is admitted only if predicted to start
   *     within it; the queue stops standing when a server has had idle capacity for that tenth;
   *     0 leaves only {@code maxWaitMillis} (docs/decisions.md, "A standing queue")
   */
  public record Scheduler(
      String policy,
      String routing,
      long ttftTargetMillis,
      long metricsIntervalMillis,
      long queueMaxTokens,
      int queueMaxRequests,
      long maxWaitMillis,
      long keepaliveIntervalMillis,
      boolean deepseekKeepalive,
      long defaultMaxOutputTokens,
      long queueTargetMillis) {}

  /**
   * Default rate limits for every account and every key; null means unlimited. A request must
   * pass both its account's and its key's limits.
   */
  public record RateLimits(
      @Nullable Long accountRequestsPerMinute,
      @Nullable Long accountTokensPerMinute,
      @Nullable Integer accountConcurrentRequests,
      @Nullable Long keyRequestsPerMinute,
      @Nullable Long keyTokensPerMinute,
      @Nullable Integer keyConcurrentRequests) {}

  /**
   * Prepaid billing. Off, nothing is priced or held (a private deployment); on, every request
   * holds its cost on the ledger first and pays for what it used. A non-streaming request holds
   * its whole output budget; a stream holds its prompt and its first {@code
   * streamInitialHoldTokens} output tokens, then extends the hold by {@code streamExtensionTokens}
   * at a time while funds last (docs/decisions.md, "Long streams"). {@code ledger} is {@code
   * exclusive} (this process is the only writer of the ledger in its database, enforced by a lock,
   * and answers holds from memory) or {@code shared} (several nodes on one database; every answer
   * waits for its commit); see {@code billing.Ledger.Mode}. {@code commitDelayMicros} and {@code
   * commitSiblings}: group commit under load (exclusive ledger), see {@code
   * billing.Ledger.Options#withCommitDelay}.
   */
  public record Billing(
      boolean enabled,
      String ledger,
      long reservationTtlMillis,
      long streamInitialHoldTokens,
      long streamExtensionTokens,
      long commitDelayMicros,
      int commitSiblings) {}

  /**
   * The Stripe payment webhook. Without {@code webhookSecret} the webhook endpoint answers that it
   * is not configured, since no event can be verified.
   */
  public record Stripe(@Nullable String webhookSecret) {}

  /**
   * The demand governor (README, "Demand governor"). {@code enabled} false turns the automatic
   * policy off (gates stay as operators set them; signals are still measured and shown).
   * Thresholds: a gate closes after {@code closeDwellMillis} of pressure and reopens after
   * {@code reopenDwellMillis} of relief; see {@code governor.GovernorPolicy} for the rules.
   */
  public record Governor(
      boolean enabled,
      long intervalMillis,
      long windowMillis,
      double closeUtilization,
      double reopenUtilization,
      long closeQueueWaitP95Millis,
      long reopenQueueWaitP95Millis,
      double closeShedRate,
      double reopenShedRate,
      double closeRunwayDays,
      double reopenRunwayDays,
      long closeDwellMillis,
      long reopenDwellMillis,
      long manualRetryAfterMillis,
      @Nullable String topUpsMessage,
      @Nullable String signupsMessage,
      Shaping shaping) {}

  /**
   * Off-peak proposals: a window of {@code windowHours} quiet hours, a discount meant to move
   * {@code targetShift} of all demand into it under the assumed {@code elasticity} (share of
   * out-of-window demand moved per unit of discount), at most {@code maxDiscountBp}, judged on
   * the last {@code historyDays} days.
   */
  public record Shaping(int windowHours, double targetShift, double elasticity, int maxDiscountBp, int historyDays) {}

  /**
   * Self-serve sign-up ({@code POST /v1/signups}): off by default, because it lets anyone create
   * an account; {@code grant} (a decimal string, "0" for none) is credited to each new account as
   * granted balance that expires after {@code grantDays}.
   */
  public record Signups(boolean enabled, String grant, long grantDays) {}

  /**
   * Redis, shared by every gateway node for rate limits. Without {@code url} each process keeps
   * its own limits in memory (one node, or limits per node). {@code keyPrefix} starts every key,
   * so deployments can share a server; {@code timeoutMillis} bounds every command, since a request
   * waits on the rate-limit check.
   */
  public record Redis(@Nullable String url, String keyPrefix, long timeoutMillis) {}

  /** The built-in simulated replicas, started only when no upstream is configured. */
  public record Sim(int replicas, String profile, List<String> models, double timeScale) {
    public Sim {
      models = List.copyOf(models);
    }
  }

  public boolean usesSimulator() {
    return upstreams.isEmpty();
  }

  /** Every setting as {@code dotted.key -> value}, sorted, with secrets masked: safe to log. */
  public Map<String, String> describe() {
    Map<String, String> out = new TreeMap<>();
    out.put("server.host", server.host());
    out.put("server.port", Integer.toString(server.port()));
    out.put("server.max_body_bytes", Long.toString(server.maxBodyBytes()));
    out.put("server.max_header_bytes", Integer.toString(server.maxHeaderBytes()));
    out.put("server.client_read_timeout_ms", Long.toString(server.clientReadTimeoutMillis()));
    out.put("server.access_log", Boolean.toString(server.accessLog()));
    out.put("data_dir", dataDir.toString());
    out.put("store.url", store.url());
    out.put("store.user", store.user() == null ? "" : store.user());
    out.put("store.password", mask(store.password()));
    out.put("admin.token", mask(adminToken));
    out.put("stripe.webhook_secret", mask(stripe.webhookSecret()));
    out.put("upstream.connect_timeout_ms", Long.toString(upstreamPolicy.connectTimeoutMillis()));
    out.put("upstream.first_byte_timeout_ms", Long.toString(upstreamPolicy.firstByteTimeoutMillis()));
    out.put("upstream.idle_timeout_ms", Long.toString(upstreamPolicy.idleTimeoutMillis()));
    out.put("upstream.health_interval_ms", Long.toString(upstreamPolicy.healthIntervalMillis()));
    out.put("upstream.eject_base_ms", Long.toString(upstreamPolicy.ejectBaseMillis()));
    out.put("upstream.eject_max_ms", Long.toString(upstreamPolicy.ejectMaxMillis()));
    out.put("upstream.failures_to_eject", Integer.toString(upstreamPolicy.failuresToEject()));
    out.put("upstream.max_attempts", Integer.toString(upstreamPolicy.maxAttempts()));
    for (int i = 0; i < upstreams.size(); i++) {
      Upstream u = upstreams.get(i);
      String p = "upstreams[" + i + "].";
      out.put(p + "name", u.name());
      out.put(p + "url", u.baseUrl().toString());
      out.put(p + "models", u.models().isEmpty() ? "(discover)" : String.join(",", u.models()));
      out.put(p + "api_key", mask(u.apiKey()));
      out.put(p + "max_concurrency", Integer.toString(u.maxConcurrency()));
      out.put(p + "weight", Integer.toString(u.weight()));
      out.put(p + "metrics", Boolean.toString(u.metrics()));
      out.put(p + "prefill_tokens_per_second", Double.toString(u.prefillTokensPerSecond()));
    }
    out.put("scheduler.policy", scheduler.policy());
    out.put("scheduler.routing", scheduler.routing());
    out.put("scheduler.ttft_target_ms", Long.toString(scheduler.ttftTargetMillis()));
    out.put("scheduler.metrics_interval_ms", Long.toString(scheduler.metricsIntervalMillis()));
    out.put("scheduler.queue_max_tokens", Long.toString(scheduler.queueMaxTokens()));
    out.put("scheduler.queue_max_requests", Integer.toString(scheduler.queueMaxRequests()));
    out.put("scheduler.max_wait_ms", Long.toString(scheduler.maxWaitMillis()));
    out.put("scheduler.keepalive_interval_ms", Long.toString(scheduler.keepaliveIntervalMillis()));
    out.put("scheduler.deepseek_keepalive", Boolean.toString(scheduler.deepseekKeepalive()));
    out.put("scheduler.default_max_output_tokens", Long.toString(scheduler.defaultMaxOutputTokens()));
    out.put("scheduler.queue_target_ms", Long.toString(scheduler.queueTargetMillis()));
    out.put("rate_limits.account_rpm", String.valueOf(rateLimits.accountRequestsPerMinute()));
    out.put("rate_limits.account_tpm", String.valueOf(rateLimits.accountTokensPerMinute()));
    out.put("rate_limits.account_concurrency", String.valueOf(rateLimits.accountConcurrentRequests()));
    out.put("rate_limits.key_rpm", String.valueOf(rateLimits.keyRequestsPerMinute()));
    out.put("rate_limits.key_tpm", String.valueOf(rateLimits.keyTokensPerMinute()));
    out.put("rate_limits.key_concurrency", String.valueOf(rateLimits.keyConcurrentRequests()));
    out.put("redis.url", redis.url() == null ? "(none: rate limits per process)" : maskUserInfo(redis.url()));
    out.put("redis.key_prefix", redis.keyPrefix());
    out.put("redis.timeout_ms", Long.toString(redis.timeoutMillis()));
    out.put("billing.enabled", Boolean.toString(billing.enabled()));
    out.put("billing.ledger", billing.ledger());
    out.put("billing.reservation_ttl_ms", Long.toString(billing.reservationTtlMillis()));
    out.put("governor.enabled", Boolean.toString(governor.enabled()));
    out.put("governor.interval_ms", Long.toString(governor.intervalMillis()));
    out.put("governor.window_ms", Long.toString(governor.windowMillis()));
    out.put("governor.close_utilization", Double.toString(governor.closeUtilization()));
    out.put("governor.reopen_utilization", Double.toString(governor.reopenUtilization()));
    out.put("governor.close_queue_wait_p95_ms", Long.toString(governor.closeQueueWaitP95Millis()));
    out.put("governor.reopen_queue_wait_p95_ms", Long.toString(governor.reopenQueueWaitP95Millis()));
    out.put("governor.close_shed_rate", Double.toString(governor.closeShedRate()));
    out.put("governor.reopen_shed_rate", Double.toString(governor.reopenShedRate()));
    out.put("governor.close_runway_days", Double.toString(governor.closeRunwayDays()));
    out.put("governor.reopen_runway_days", Double.toString(governor.reopenRunwayDays()));
    out.put("governor.close_dwell_ms", Long.toString(governor.closeDwellMillis()));
    out.put("governor.reopen_dwell_ms", Long.toString(governor.reopenDwellMillis()));
    out.put("governor.manual_retry_after_ms", Long.toString(governor.manualRetryAfterMillis()));
    out.put("governor.top_ups_message", governor.topUpsMessage() == null ? "(default)" : governor.topUpsMessage());
    out.put("governor.signups_message", governor.signupsMessage() == null ? "(default)" : governor.signupsMessage());
    out.put("governor.shaping_window_hours", Integer.toString(governor.shaping().windowHours()));
    out.put("governor.shaping_target_shift", Double.toString(governor.shaping().targetShift()));
    out.put("governor.shaping_elasticity", Double.toString(governor.shaping().elasticity()));
    out.put("governor.shaping_max_discount_bp", Integer.toString(governor.shaping().maxDiscountBp()));
    out.put("governor.shaping_history_days", Integer.toString(governor.shaping().historyDays()));
    out.put("signups.enabled", Boolean.toString(signups.enabled()));
    out.put("signups.grant", signups.grant());
    out.put("signups.grant_days", Long.toString(signups.grantDays()));
    out.put("billing.stream_initial_hold_tokens", Long.toString(billing.streamInitialHoldTokens()));
    out.put("billing.stream_extension_tokens", Long.toString(billing.streamExtensionTokens()));
    out.put("billing.commit_delay_us", Long.toString(billing.commitDelayMicros()));
    out.put("billing.commit_siblings", Integer.toString(billing.commitSiblings()));
    if (usesSimulator()) {
      out.put("sim.replicas", Integer.toString(sim.replicas()));
      out.put("sim.profile", sim.profile());
      out.put("sim.models", String.join(",", sim.models()));
      out.put("sim.time_scale", Double.toString(sim.timeScale()));
    }
    return out;
  }

  /** A URL with its password (or whole user info) masked: redis://:****@host:6379/0. */
  static String maskUserInfo(String url) {
    int scheme = url.indexOf("://");
    int at = url.lastIndexOf('@');
    if (scheme < 0 || at < scheme) {
      return url;
    }
    String userInfo = url.substring(scheme + 3, at);
    int colon = userInfo.indexOf(':');
    String masked = colon < 0 ? "****" : userInfo.substring(0, colon) + ":****";
    return url.substring(0, scheme + 3) + masked + url.substring(at);
  }

  private static String mask(@Nullable String secret) {
    if (secret == null || secret.isEmpty()) {
      return "";
    }
    return secret.length() <= 8 ? "****" : secret.substring(0, 3) + "****";
  }
}
