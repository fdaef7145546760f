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
    Stripe stripe) {

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
   * @param queueTargetMillis while requests for a model have waited this long without the queue
   *     emptying (a standing queue), a new one is admitted only if predicted to start within it;
   *     0 leaves only {@code maxWaitMillis}
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
   * holds its maximum cost on the ledger first and pays for what it used.
   */
  public record Billing(boolean enabled, long reservationTtlMillis) {}

  /**
   * The Stripe payment webhook. Without {@code webhookSecret} the webhook endpoint answers that it
   * is not configured, since no event can be verified.
   */
  public record Stripe(@Nullable String webhookSecret) {}

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
    out.put("billing.enabled", Boolean.toString(billing.enabled()));
    out.put("billing.reservation_ttl_ms", Long.toString(billing.reservationTtlMillis()));
    if (usesSimulator()) {
      out.put("sim.replicas", Integer.toString(sim.replicas()));
      out.put("sim.profile", sim.profile());
      out.put("sim.models", String.join(",", sim.models()));
      out.put("sim.time_scale", Double.toString(sim.timeScale()));
    }
    return out;
  }

  private static String mask(@Nullable String secret) {
    if (secret == null || secret.isEmpty()) {
      return "";
    }
    return secret.length() <= 8 ? "****" : secret.substring(0, 3) + "****";
  }
}
