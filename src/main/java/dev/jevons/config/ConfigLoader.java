package dev.jevons.config;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.jspecify.annotations.Nullable;

/**
 * Builds a {@link JevonsConfig} from, in increasing precedence: built-in defaults, a YAML file,
 * {@code JEVONS_*} environment variables and command-line overrides.
 *
 * <p>Every scalar key {@code a.b_c} has the environment variable {@code JEVONS_A_B_C}. Lists (the
 * {@code upstreams}) come from the file or from {@code --upstream} flags only. All problems are
 * collected and reported together, each naming the key and the accepted values; unknown keys are
 * errors so that a typo never silently falls back to a default.
 */
public final class ConfigLoader {

  /** Scalar keys and their meaning; the order is the order of the configuration reference. */
  private static final Set<String> SCALAR_KEYS =
      new LinkedHashSet<>(
          List.of(
              "server.host",
              "server.port",
              "server.max_body_bytes",
              "server.max_header_bytes",
              "server.client_read_timeout_ms",
              "server.access_log",
              "data_dir",
              "store.url",
              "store.user",
              "store.password",
              "admin.token",
              "stripe.webhook_secret",
              "upstream.connect_timeout_ms",
              "upstream.first_byte_timeout_ms",
              "upstream.idle_timeout_ms",
              "upstream.health_interval_ms",
              "upstream.eject_base_ms",
              "upstream.eject_max_ms",
              "upstream.failures_to_eject",
              "upstream.max_attempts",
              "scheduler.policy",
              "scheduler.routing",
              "scheduler.ttft_target_ms",
              "scheduler.metrics_interval_ms",
              "scheduler.queue_max_tokens",
              "scheduler.queue_max_requests",
              "scheduler.max_wait_ms",
              "scheduler.keepalive_interval_ms",
              "scheduler.deepseek_keepalive",
              "scheduler.default_max_output_tokens",
              "scheduler.queue_target_ms",
              "rate_limits.account_rpm",
              "rate_limits.account_tpm",
              "rate_limits.account_concurrency",
              "rate_limits.key_rpm",
              "rate_limits.key_tpm",
              "rate_limits.key_concurrency",
              "redis.url",
              "redis.key_prefix",
              "redis.timeout_ms",
              "billing.enabled",
              "billing.ledger",
              "billing.reservation_ttl_ms",
              "governor.enabled",
              "governor.interval_ms",
              "governor.window_ms",
              "governor.close_utilization",
              "governor.reopen_utilization",
              "governor.close_queue_wait_p95_ms",
              "governor.reopen_queue_wait_p95_ms",
              "governor.close_shed_rate",
              "governor.reopen_shed_rate",
              "governor.close_runway_days",
              "governor.reopen_runway_days",
              "governor.close_dwell_ms",
              "governor.reopen_dwell_ms",
              "governor.manual_retry_after_ms",
              "governor.top_ups_message",
              "governor.signups_message",
              "governor.shaping_window_hours",
              "governor.shaping_target_shift",
              "governor.shaping_elasticity",
              "governor.shaping_max_discount_bp",
              "governor.shaping_history_days",
              "signups.enabled",
              "signups.grant",
              "signups.grant_days",
              "billing.stream_initial_hold_tokens",
              "billing.stream_extension_tokens",
              "billing.commit_delay_us",
              "billing.commit_siblings",
              "sim.replicas",
              "sim.profile",
              "sim.models",
              "sim.time_scale"));

  private static final Set<String> UPSTREAM_KEYS =
      Set.of("name", "url", "models", "api_key", "max_concurrency", "weight", "metrics", "prefill_tokens_per_second");

  static final Set<String> SIM_PROFILES = Set.of("instant", "h800", "small");

  private @Nullable Path file;
  private Map<String, String> env = Map.of();
  private final Map<String, String> defaults = new LinkedHashMap<>();
  private final Map<String, String> overrides = new LinkedHashMap<>();
  private final List<String> upstreamUrls = new ArrayList<>();

  public ConfigLoader file(@Nullable Path file) {
    this.file = file;
    return this;
  }

  public ConfigLoader environment(Map<String, String> env) {
    this.env = Map.copyOf(env);
    return this;
  }

  /** A command-line value for a scalar key, e.g. {@code ("server.port", "9090")}. */
  public ConfigLoader override(String key, @Nullable Object value) {
    if (!SCALAR_KEYS.contains(key)) {
      throw new IllegalArgumentException("not a configuration key: " + key);
    }
    if (value != null) {
      overrides.put(key, value.toString());
    }
    return this;
  }

  /**
   * A default for a scalar key that replaces the built-in one and that the file, the environment
   * and the flags may still override (a command with needs of its own, such as {@code jevons demo}).
   */
  public ConfigLoader defaultValue(String key, Object value) {
    if (!SCALAR_KEYS.contains(key)) {
      throw new IllegalArgumentException("not a configuration key: " + key);
    }
    defaults.put(key, value.toString());
    return this;
  }

  /** Upstreams given with {@code --upstream URL}; they replace the file's list. */
  public ConfigLoader upstreamUrls(List<String> urls) {
    upstreamUrls.addAll(urls);
    return this;
  }

  public static String envName(String key) {
    return "JEVONS_" + key.toUpperCase(Locale.ROOT).replace('.', '_');
  }

  public static Set<String> scalarKeys() {
    return SCALAR_KEYS;
  }

  public JevonsConfig load() {
    List<String> problems = new ArrayList<>();
    ObjectNode tree = readFile(problems);
    defaults.forEach((key, value) -> {
      if (!present(tree, key)) {
        put(tree, key, value);
      }
    });
    for (String key : SCALAR_KEYS) {
      String fromEnv = env.get(envName(key));
      if (fromEnv != null) {
        put(tree, key, fromEnv);
      }
    }
    overrides.forEach((key, value) -> put(tree, key, value));
    if (!upstreamUrls.isEmpty()) {
      ArrayNode list = tree.putArray("upstreams");
      for (String url : upstreamUrls) {
        list.addObject().put("url", url);
      }
    }
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
    Reader r = new Reader(tree, problems);
    JevonsConfig config = r.build();
    r.rejectUnknownKeys();
    if (!problems.isEmpty()) {
      throw new ConfigException(problems);
    }
    return config;
  }

  private ObjectNode readFile(List<String> problems) {
    if (file == null) {
      return JsonNodeFactory.instance.objectNode();
    }
    if (!Files.isRegularFile(file)) {
      problems.add("config file " + file + ": no such file");
      return JsonNodeFactory.instance.objectNode();
    }
    try {
      JsonNode node = new YAMLMapper().readTree(file.toFile());
      if (node == null || node.isMissingNode() || node.isNull()) {
        return JsonNodeFactory.instance.objectNode();
      }
      if (!node.isObject()) {
        problems.add("config file " + file + ": the top level must be a mapping of keys to values");
        return JsonNodeFactory.instance.objectNode();
      }
      return (ObjectNode) node;
    } catch (JacksonException e) {
      problems.add("config file " + file + ": not valid YAML: " + e.getOriginalMessage());
    } catch (IOException e) {
      problems.add("config file " + file + ": cannot read: " + e.getMessage());
    }
    return JsonNodeFactory.instance.objectNode();
  }

  private static boolean present(ObjectNode tree, String dottedKey) {
    JsonNode node = tree;
    for (String part : dottedKey.split("\\.")) {
      node = node.isObject() ? node.get(part) : null;
      if (node == null) {
        return false;
      }
    }
    return !node.isNull();
  }

  private static void put(ObjectNode tree, String dottedKey, String value) {
    String[] parts = dottedKey.split("\\.");
    ObjectNode node = tree;
    for (int i = 0; i < parts.length - 1; i++) {
      JsonNode child = node.get(parts[i]);
      node = child instanceof ObjectNode o ? o : node.putObject(parts[i]);
    }
    node.put(parts[parts.length - 1], value);
  }

  /** Typed reads over the merged tree; records every problem instead of stopping at the first. */
  private static final class Reader {
    private final ObjectNode root;
    private final List<String> problems;

    Reader(ObjectNode root, List<String> problems) {
      this.root = root;
      this.problems = problems;
    }

    JevonsConfig build() {
      Path dataDir = Path.of(string(root, "data_dir", "./data"));
      JevonsConfig.Server server =
          new JevonsConfig.Server(
              string(root, "server.host", "127.0.0.1"),
              (int) integer(root, "server.port", 8080, 0, 65535),
              integer(root, "server.max_body_bytes", 8L << 20, 1024, 1L << 30),
              (int) integer(root, "server.max_header_bytes", 16 << 10, 1024, 1 << 20),
              integer(root, "server.client_read_timeout_ms", 30_000, 100, 3_600_000),
              bool(root, "server.access_log", true));
      String defaultUrl = "jdbc:sqlite:" + dataDir.resolve("jevons.db");
      String storeUrl = string(root, "store.url", defaultUrl);
      if (!storeUrl.startsWith("jdbc:sqlite:") && !storeUrl.startsWith("jdbc:postgresql:")) {
        problems.add(
            "store.url: '" + storeUrl + "' is not supported; accepted: jdbc:sqlite:<file> or jdbc:postgresql://host:port/db");
      }
      JevonsConfig.Store store =
          new JevonsConfig.Store(storeUrl, optString(root, "store.user"), optString(root, "store.password"));
      JevonsConfig.UpstreamPolicy policy =
          new JevonsConfig.UpstreamPolicy(
              integer(root, "upstream.connect_timeout_ms", 2_000, 10, 600_000),
              integer(root, "upstream.first_byte_timeout_ms", 120_000, 10, 3_600_000),
              integer(root, "upstream.idle_timeout_ms", 60_000, 10, 3_600_000),
              integer(root, "upstream.health_interval_ms", 5_000, 100, 3_600_000),
              integer(root, "upstream.eject_base_ms", 1_000, 10, 3_600_000),
              integer(root, "upstream.eject_max_ms", 30_000, 10, 3_600_000),
              (int) integer(root, "upstream.failures_to_eject", 3, 1, 1000),
              (int) integer(root, "upstream.max_attempts", 2, 1, 10));
      if (policy.ejectMaxMillis() < policy.ejectBaseMillis()) {
        problems.add("upstream.eject_max_ms: must be >= upstream.eject_base_ms (" + policy.ejectBaseMillis() + ")");
      }
      JevonsConfig.Scheduler scheduler =
          new JevonsConfig.Scheduler(
              choice(root, "scheduler.policy", "fair", Set.of("fair", "fifo")),
              choice(root, "scheduler.routing", "prefix", Set.of("prefix", "least_loaded", "round_robin")),
              integer(root, "scheduler.ttft_target_ms", 2_000, 1, 600_000),
              integer(root, "scheduler.metrics_interval_ms", 250, 10, 60_000),
              integer(root, "scheduler.queue_max_tokens", 20_000_000, 1_000, 1L << 40),
              (int) integer(root, "scheduler.queue_max_requests", 10_000, 1, 10_000_000),
              integer(root, "scheduler.max_wait_ms", 600_000, 1, 86_400_000),
              integer(root, "scheduler.keepalive_interval_ms", 5_000, 10, 600_000),
              bool(root, "scheduler.deepseek_keepalive", false),
              integer(root, "scheduler.default_max_output_tokens", 4_096, 1, 1L << 20),
              integer(root, "scheduler.queue_target_ms", 1_000, 0, 86_400_000));
      JevonsConfig.RateLimits limits =
          new JevonsConfig.RateLimits(
              optInteger(root, "rate_limits.account_rpm", 1, 100_000_000),
              optInteger(root, "rate_limits.account_tpm", 1, 100_000_000),
              optInt(root, "rate_limits.account_concurrency", 1, 1_000_000),
              optInteger(root, "rate_limits.key_rpm", 1, 100_000_000),
              optInteger(root, "rate_limits.key_tpm", 1, 100_000_000),
              optInt(root, "rate_limits.key_concurrency", 1, 1_000_000));
      JevonsConfig.Redis redis = redis();
      JevonsConfig.Billing billing =
          new JevonsConfig.Billing(
              bool(root, "billing.enabled", true),
              choice(root, "billing.ledger", "exclusive", Set.of("exclusive", "shared")),
              integer(root, "billing.reservation_ttl_ms", 3_600_000, 60_000, 86_400_000),
              integer(root, "billing.stream_initial_hold_tokens", 1_024, 1, 1L << 20),
              integer(root, "billing.stream_extension_tokens", 1_024, 1, 1L << 20),
              integer(root, "billing.commit_delay_us", 4_000, 0, 1_000_000),
              (int) integer(root, "billing.commit_siblings", 16, 0, 1_000_000));
      if (billing.enabled() && billing.reservationTtlMillis() <= scheduler.maxWaitMillis() + policy.firstByteTimeoutMillis()) {
        problems.add(
            "billing.reservation_ttl_ms: " + billing.reservationTtlMillis() + " must exceed scheduler.max_wait_ms + upstream.first_byte_timeout_ms ("
                + (scheduler.maxWaitMillis() + policy.firstByteTimeoutMillis()) + "), or holds expire under requests still running");
      }
      JevonsConfig.Sim sim =
          new JevonsConfig.Sim(
              (int) integer(root, "sim.replicas", 2, 1, 64),
              choice(root, "sim.profile", "h800", SIM_PROFILES),
              stringList(root, "sim.models", List.of("sim-chat", "sim-reasoner")),
              decimal(root, "sim.time_scale", 1.0, 0.001, 1_000_000));
      String adminToken = optString(root, "admin.token");
      if (adminToken != null && (adminToken.length() < 16 || adminToken.length() > 256 || adminToken.chars().anyMatch(Character::isWhitespace))) {
        problems.add("admin.token: must be 16 to 256 characters without whitespace (got " + adminToken.length() + " characters)");
      }
      String webhookSecret = optString(root, "stripe.webhook_secret");
      if (webhookSecret != null && (webhookSecret.length() < 8 || webhookSecret.length() > 256 || webhookSecret.chars().anyMatch(Character::isWhitespace))) {
        problems.add("stripe.webhook_secret: must be 8 to 256 characters without whitespace (got " + webhookSecret.length() + " characters)");
      }
      return new JevonsConfig(
          server, dataDir, store, adminToken, policy, upstreams(), scheduler, limits, billing, sim, new JevonsConfig.Stripe(webhookSecret),
          governor(), signups(), redis);
    }

    private JevonsConfig.Redis redis() {
      String url = optString(root, "redis.url");
      if (url != null && !url.isEmpty()) {
        try {
          URI uri = new URI(url);
          if (!"redis".equals(uri.getScheme()) && !"rediss".equals(uri.getScheme())) {
            problems.add("redis.url: '" + JevonsConfig.maskUserInfo(url) + "' must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0");
          } else if (uri.getHost() == null) {
            problems.add("redis.url: '" + JevonsConfig.maskUserInfo(url) + "' has no host; e.g. redis://127.0.0.1:6379/0");
          } else if (uri.getPath() != null && !uri.getPath().isEmpty() && !uri.getPath().matches("/(\\d{1,5})?")) {
            problems.add("redis.url: '" + JevonsConfig.maskUserInfo(url) + "' names no database number; e.g. redis://127.0.0.1:6379/0");
          }
        } catch (URISyntaxException e) {
          problems.add("redis.url: '" + JevonsConfig.maskUserInfo(url) + "' is not a valid URL: " + e.getReason());
        }
      } else {
        url = null;
      }
      String prefix = string(root, "redis.key_prefix", "jevons:");
      if (prefix.isEmpty() || prefix.length() > 64 || !prefix.matches("[A-Za-z0-9:._-]+")) {
        problems.add("redis.key_prefix: '" + prefix + "' must be 1 to 64 characters of letters, digits and : . _ -");
      }
      return new JevonsConfig.Redis(url, prefix, integer(root, "redis.timeout_ms", 250, 10, 60_000));
    }

    private JevonsConfig.Governor governor() {
      JevonsConfig.Governor g =
          new JevonsConfig.Governor(
              bool(root, "governor.enabled", true),
              integer(root, "governor.interval_ms", 5_000, 10, 3_600_000),
              integer(root, "governor.window_ms", 60_000, 10, 86_400_000),
              decimal(root, "governor.close_utilization", 0.90, 0, 1),
              decimal(root, "governor.reopen_utilization", 0.75, 0, 1),
              integer(root, "governor.close_queue_wait_p95_ms", 30_000, 1, 86_400_000),
              integer(root, "governor.reopen_queue_wait_p95_ms", 5_000, 0, 86_400_000),
              decimal(root, "governor.close_shed_rate", 0.05, 0, 1),
              decimal(root, "governor.reopen_shed_rate", 0.01, 0, 1),
              decimal(root, "governor.close_runway_days", 2, 0, 3650),
              decimal(root, "governor.reopen_runway_days", 7, 0, 3650),
              integer(root, "governor.close_dwell_ms", 600_000, 0, 30L * 86_400_000),
              integer(root, "governor.reopen_dwell_ms", 1_800_000, 0, 30L * 86_400_000),
              integer(root, "governor.manual_retry_after_ms", 3_600_000, 1_000, 30L * 86_400_000),
              boundedText(root, "governor.top_ups_message"),
              boundedText(root, "governor.signups_message"),
              new JevonsConfig.Shaping(
                  (int) integer(root, "governor.shaping_window_hours", 8, 1, 23),
                  decimal(root, "governor.shaping_target_shift", 0.10, 0.001, 0.999),
                  decimal(root, "governor.shaping_elasticity", 0.4, 0.001, 1),
                  (int) integer(root, "governor.shaping_max_discount_bp", 7_500, 500, 10_000),
                  (int) integer(root, "governor.shaping_history_days", 7, 1, 365)));
      if (g.windowMillis() < g.intervalMillis()) {
        problems.add("governor.window_ms: " + g.windowMillis() + " must be >= governor.interval_ms (" + g.intervalMillis() + ")");
      }
      if (!(g.reopenUtilization() < g.closeUtilization())) {
        problems.add("governor.reopen_utilization: " + g.reopenUtilization() + " must be below governor.close_utilization (" + g.closeUtilization() + "), or the gates flap");
      }
      if (!(g.reopenQueueWaitP95Millis() < g.closeQueueWaitP95Millis())) {
        problems.add("governor.reopen_queue_wait_p95_ms: " + g.reopenQueueWaitP95Millis() + " must be below governor.close_queue_wait_p95_ms (" + g.closeQueueWaitP95Millis() + "), or the gates flap");
      }
      if (!(g.reopenShedRate() < g.closeShedRate())) {
        problems.add("governor.reopen_shed_rate: " + g.reopenShedRate() + " must be below governor.close_shed_rate (" + g.closeShedRate() + "), or the gates flap");
      }
      if (!(g.reopenRunwayDays() > g.closeRunwayDays())) {
        problems.add("governor.reopen_runway_days: " + g.reopenRunwayDays() + " must exceed governor.close_runway_days (" + g.closeRunwayDays() + "), or the gates flap");
      }
      return g;
    }

    private JevonsConfig.Signups signups() {
      String grant = string(root, "signups.grant", "0");
      if (!grant.matches("\\d{1,9}(\\.\\d{1,9})?")) {
        problems.add("signups.grant: '" + grant + "' must be a decimal amount such as \"1.00\" (at most 9 decimals), or \"0\" for none");
        grant = "0";
      }
      return new JevonsConfig.Signups(bool(root, "signups.enabled", false), grant, integer(root, "signups.grant_days", 30, 1, 3650));
    }

    private @Nullable String boundedText(ObjectNode node, String key) {
      String v = optString(node, key);
      if (v != null && (v.isBlank() || v.length() > 500)) {
        problems.add(key + ": must be 1 to 500 characters (got " + v.length() + ")");
        return null;
      }
      return v;
    }

    private List<JevonsConfig.Upstream> upstreams() {
      JsonNode list = root.get("upstreams");
      if (list == null || list.isNull()) {
        return List.of();
      }
      if (!list.isArray()) {
        problems.add("upstreams: expected a list of upstreams, each with at least 'url'");
        return List.of();
      }
      List<JevonsConfig.Upstream> out = new ArrayList<>();
      Set<String> names = new LinkedHashSet<>();
      for (int i = 0; i < list.size(); i++) {
        String at = "upstreams[" + i + "]";
        JsonNode node = list.get(i);
        if (!node.isObject()) {
          problems.add(at + ": expected a mapping with at least 'url'");
          continue;
        }
        ObjectNode o = (ObjectNode) node;
        for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
          String k = it.next();
          if (!UPSTREAM_KEYS.contains(k)) {
            problems.add(at + "." + k + ": unknown key; accepted: " + String.join(", ", new TreeSet<>(UPSTREAM_KEYS)));
          }
        }
        String url = optStringAt(o, "url", at + ".url");
        if (url == null) {
          problems.add(at + ".url: required, e.g. http://127.0.0.1:8000/v1");
          continue;
        }
        URI base = baseUrl(url, at + ".url");
        if (base == null) {
          continue;
        }
        String name = optStringAt(o, "name", at + ".name");
        if (name == null) {
          name = base.getHost() + ":" + base.getPort();
        }
        if (!names.add(name)) {
          problems.add(at + ".name: '" + name + "' is used twice; upstream names must be unique");
        }
        List<String> models = stringListAt(o.get("models"), at + ".models", List.of());
        out.add(
            new JevonsConfig.Upstream(
                name,
                base,
                models,
                optStringAt(o, "api_key", at + ".api_key"),
                (int) integerAt(o.get("max_concurrency"), at + ".max_concurrency", 256, 1, 100_000),
                (int) integerAt(o.get("weight"), at + ".weight", 1, 1, 1000),
                boolAt(o.get("metrics"), at + ".metrics", true),
                integerAt(o.get("prefill_tokens_per_second"), at + ".prefill_tokens_per_second",
                    (long) JevonsConfig.Upstream.DEFAULT_PREFILL_TOKENS_PER_SECOND, 1, 100_000_000)));
      }
      return out;
    }

    /** Accepts {@code http://host:port} or {@code http://host:port/v1}; always ends without '/'. */
    private @Nullable URI baseUrl(String raw, String key) {
      try {
        URI uri = new URI(raw.endsWith("/") ? raw.substring(0, raw.length() - 1) : raw);
        if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) {
          problems.add(key + ": '" + raw + "' must be an http:// or https:// URL");
          return null;
        }
        if (uri.getHost() == null) {
          problems.add(key + ": '" + raw + "' has no host");
          return null;
        }
        String path = uri.getPath() == null || uri.getPath().isEmpty() ? "/v1" : uri.getPath();
        int port = uri.getPort() != -1 ? uri.getPort() : ("https".equals(uri.getScheme()) ? 443 : 80);
        return new URI(uri.getScheme(), null, uri.getHost(), port, path, null, null);
      } catch (URISyntaxException e) {
        problems.add(key + ": '" + raw + "' is not a valid URL: " + e.getReason());
        return null;
      }
    }

    void rejectUnknownKeys() {
      Set<String> sections = new TreeSet<>();
      Set<String> topLevel = new TreeSet<>();
      for (String k : SCALAR_KEYS) {
        int dot = k.indexOf('.');
        topLevel.add(dot < 0 ? k : k.substring(0, dot));
        if (dot > 0) {
          sections.add(k.substring(0, dot));
        }
      }
      topLevel.add("upstreams");
      for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        String k = e.getKey();
        if (!topLevel.contains(k)) {
          problems.add(k + ": unknown key; accepted top-level keys: " + String.join(", ", topLevel));
        } else if (sections.contains(k)) {
          if (!e.getValue().isObject()) {
            problems.add(k + ": expected a mapping of keys under '" + k + "'");
            continue;
          }
          Set<String> accepted = new TreeSet<>();
          for (String s : SCALAR_KEYS) {
            if (s.startsWith(k + ".")) {
              accepted.add(s.substring(k.length() + 1));
            }
          }
          for (Iterator<String> f = e.getValue().fieldNames(); f.hasNext(); ) {
            String sub = f.next();
            if (!accepted.contains(sub)) {
              problems.add(k + "." + sub + ": unknown key; accepted keys under '" + k + "': " + String.join(", ", accepted));
            }
          }
        }
      }
    }

    private @Nullable JsonNode at(ObjectNode node, String dotted) {
      JsonNode cur = node;
      for (String p : dotted.split("\\.")) {
        if (cur == null || !cur.isObject()) {
          return null;
        }
        cur = cur.get(p);
      }
      return cur == null || cur.isNull() ? null : cur;
    }

    private String string(ObjectNode node, String key, String dflt) {
      String v = optString(node, key);
      return v == null ? dflt : v;
    }

    private @Nullable String optString(ObjectNode node, String key) {
      JsonNode v = at(node, key);
      return scalarText(v, key);
    }

    private @Nullable String optStringAt(ObjectNode node, String field, String key) {
      JsonNode v = node.get(field);
      return v == null || v.isNull() ? null : scalarText(v, key);
    }

    private @Nullable String scalarText(@Nullable JsonNode v, String key) {
      if (v == null) {
        return null;
      }
      if (!v.isValueNode()) {
        problems.add(key + ": expected a single value, got a " + (v.isArray() ? "list" : "mapping"));
        return null;
      }
      String s = v.asText().trim();
      return s.isEmpty() ? null : s;
    }

    private long integer(ObjectNode node, String key, long dflt, long min, long max) {
      return integerAt(at(node, key), key, dflt, min, max);
    }

    private long integerAt(@Nullable JsonNode v, String key, long dflt, long min, long max) {
      String s = v == null || v.isNull() ? null : scalarText(v, key);
      if (s == null) {
        return dflt;
      }
      try {
        long value = Long.parseLong(s.replace("_", ""));
        if (value < min || value > max) {
          problems.add(key + ": " + value + " is out of range; accepted: an integer from " + min + " to " + max);
          return dflt;
        }
        return value;
      } catch (NumberFormatException e) {
        problems.add(key + ": '" + s + "' is not an integer; accepted: an integer from " + min + " to " + max);
        return dflt;
      }
    }

    /** An optional integer: absent (null) means "no limit". */
    private @Nullable Long optInteger(ObjectNode node, String key, long min, long max) {
      if (optString(node, key) == null) {
        return null;
      }
      return integer(node, key, min, min, max);
    }

    private @Nullable Integer optInt(ObjectNode node, String key, int min, int max) {
      Long v = optInteger(node, key, min, max);
      return v == null ? null : v.intValue();
    }

    private double decimal(ObjectNode node, String key, double dflt, double min, double max) {
      String s = optString(node, key);
      if (s == null) {
        return dflt;
      }
      try {
        double value = Double.parseDouble(s);
        if (!(value >= min && value <= max)) {
          problems.add(key + ": " + s + " is out of range; accepted: a number from " + min + " to " + max);
          return dflt;
        }
        return value;
      } catch (NumberFormatException e) {
        problems.add(key + ": '" + s + "' is not a number; accepted: a number from " + min + " to " + max);
        return dflt;
      }
    }

    private boolean bool(ObjectNode node, String key, boolean dflt) {
      return boolAt(at(node, key), key, dflt);
    }

    private boolean boolAt(@Nullable JsonNode v, String key, boolean dflt) {
      String s = v == null || v.isNull() ? null : scalarText(v, key);
      if (s == null) {
        return dflt;
      }
      return switch (s.toLowerCase(Locale.ROOT)) {
        case "true", "yes", "on", "1" -> true;
        case "false", "no", "off", "0" -> false;
        default -> {
          problems.add(key + ": '" + s + "' is not a boolean; accepted: true or false");
          yield dflt;
        }
      };
    }

    private String choice(ObjectNode node, String key, String dflt, Set<String> accepted) {
      String s = string(node, key, dflt);
      if (!accepted.contains(s)) {
        problems.add(key + ": '" + s + "' is not accepted; accepted: " + String.join(", ", new TreeSet<>(accepted)));
        return dflt;
      }
      return s;
    }

    private List<String> stringList(ObjectNode node, String key, List<String> dflt) {
      return stringListAt(at(node, key), key, dflt);
    }

    /** A list of names, written as a YAML list or as a comma-separated string (env, flags). */
    private List<String> stringListAt(@Nullable JsonNode v, String key, List<String> dflt) {
      if (v == null || v.isNull()) {
        return dflt;
      }
      List<String> out = new ArrayList<>();
      if (v.isArray()) {
        for (JsonNode item : v) {
          String s = scalarText(item, key);
          if (s != null) {
            out.add(s);
          }
        }
      } else if (v.isValueNode()) {
        for (String s : v.asText().split(",")) {
          if (!s.isBlank()) {
            out.add(s.trim());
          }
        }
      } else {
        problems.add(key + ": expected a list of names");
        return dflt;
      }
      for (String s : out) {
        if (s.length() > 256 || s.chars().anyMatch(Character::isWhitespace)) {
          problems.add(key + ": '" + s + "' is not a valid name (no whitespace, at most 256 characters)");
        }
      }
      return List.copyOf(new LinkedHashSet<>(out));
    }
  }
}
