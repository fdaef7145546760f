package dev.jevons.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jevons.accounts.Accounts;
import dev.jevons.accounts.AdminToken;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.UsageLog;
import dev.jevons.billing.PriceBook;
import dev.jevons.billing.StripeSignature;
import dev.jevons.billing.TopUps;
import dev.jevons.config.JevonsConfig;
import dev.jevons.gateway.ErrorKind;
import dev.jevons.gateway.Gateway;
import dev.jevons.governor.DemandShaper;
import dev.jevons.governor.Governor;
import dev.jevons.gateway.GatewayException;
import dev.jevons.gateway.GatewayMetrics;
import dev.jevons.gateway.RequestRecord;
import dev.jevons.upstream.Watchdog;
import io.helidon.common.buffers.DataReader;
import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderNames;
import io.helidon.http.HttpException;
import io.helidon.http.Method;
import io.helidon.http.RequestException;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import io.helidon.webserver.http1.Http1Config;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP surface: routes, body limits, the error mapper, the access log and request metrics.
 * Every route runs through {@link #serve} so that every answer, success or error, is logged once
 * and counted once.
 */
public final class HttpApi {
  private static final Logger log = LoggerFactory.getLogger(HttpApi.class);
  private static final Logger access = LoggerFactory.getLogger("jevons.access");

  /** What the readiness probe reports: null when ready, else why not. */
  public interface Readiness extends Supplier<@Nullable String> {}

  private final JevonsConfig.Server config;
  private final ObjectMapper json;
  private final ErrorMapper errors;
  private final GatewayMetrics metrics;
  private final PrometheusMeterRegistry prometheus;
  private final LongSupplier nanoTime;
  private final DataPlaneRoutes dataPlane;
  private final AdminRoutes admin;
  private final BillingRoutes billing;
  private final AdminPriceRoutes adminPrices;
  private final TopUpRoutes topUps;
  private final GovernorRoutes governor;
  private final Readiness readiness;
  private final ReadDeadlines deadlines;
  private final SecureRandom random = new SecureRandom();

  /** What the routes serve: the pipeline and the domain services behind the admin and billing APIs. */
  public record Services(
      Gateway gateway,
      Accounts accounts,
      AdminToken adminToken,
      PriceBook prices,
      Ledger ledger,
      UsageLog usageLog,
      TopUps topUps,
      @Nullable StripeSignature stripe,
      Governor governor,
      boolean governorAutomatic,
      DemandShaper.Settings shaping,
      int shapingHistoryDays,
      Signups signups,
      Clock clock) {}

  /** Self-serve sign-up as configured: off, or on with an optional welcome grant (nanos, 0 for none). */
  public record Signups(boolean enabled, long grantNanos, Duration grantValidity) {}

  /** What the operational routes report. */
  public record Observability(GatewayMetrics metrics, PrometheusMeterRegistry prometheus, Readiness readiness) {}

  public HttpApi(
      JevonsConfig.Server config,
      Services services,
      Observability observability,
      ObjectMapper json,
      Watchdog watchdog,
      LongSupplier nanoTime) {
    this.config = config;
    this.json = json;
    this.errors = new ErrorMapper(json);
    this.metrics = observability.metrics();
    this.prometheus = observability.prometheus();
    this.nanoTime = nanoTime;
    this.readiness = observability.readiness();
    this.deadlines = new ReadDeadlines(watchdog, config.clientReadTimeoutMillis());
    Accounts accounts = services.accounts();
    this.dataPlane = new DataPlaneRoutes(services.gateway(), accounts, json, config.maxBodyBytes(), deadlines);
    this.admin = new AdminRoutes(accounts, services.adminToken(), json, config.maxBodyBytes(), deadlines);
    this.adminPrices = new AdminPriceRoutes(services.prices(), admin, json);
    this.billing = new BillingRoutes(services.ledger(), services.usageLog(), accounts, dataPlane, admin, json);
    this.topUps =
        new TopUpRoutes(
            services.topUps(), services.stripe(), services.governor(), accounts, dataPlane, admin, billing::balanceOf, json, config.maxBodyBytes(), deadlines);
    Signups signups = services.signups();
    this.governor =
        new GovernorRoutes(
            services.governor(),
            new GovernorRoutes.ShapingPolicy(services.shaping(), services.shapingHistoryDays()),
            services.governorAutomatic(),
            new GovernorRoutes.SignupPolicy(signups.enabled(), signups.grantNanos(), signups.grantValidity()),
            accounts,
            services.ledger(),
            services.prices(),
            adminPrices,
            admin,
            json,
            services.clock());
  }

  /** An action of a route; returns the HTTP status it sent. */
  interface Action {
    int run(ServerRequest req, ServerResponse res, RequestRecord rec) throws Exception;
  }

  /**
   * Starts listening. A port that is taken is an {@link IllegalStateException} saying so: Helidon
   * itself only logs the failure and returns a server that is not running.
   */
  public WebServer start() {
    requirePortFree(config.host(), config.port());
    WebServer server = WebServer.builder()
        .host(config.host())
        .port(config.port())
        .maxPayloadSize(config.maxBodyBytes())
        // The buffer of each streamed response (default 4 KB), held for the stream's whole life;
        // SSE events are a few hundred bytes and flushed one by one, larger writes bypass it.
        .writeBufferSize(1024)
        .connectionOptions(o -> o.readTimeout(Duration.ofMillis(config.clientReadTimeoutMillis())))
        // Helidon closes a connection that waits longer than this for its next request line; a
        // stall later in a request is ReadDeadlines' job.
        .idleConnectionTimeout(Duration.ofMillis(config.clientReadTimeoutMillis()))
        .idleConnectionPeriod(Duration.ofMillis(Math.max(100, config.clientReadTimeoutMillis() / 4)))
        .addProtocol(
            Http1Config.builder()
                .maxHeadersSize(config.maxHeaderBytes())
                .maxPrologueLength(8192)
                .validateRequestHeaders(true)
                .addReceiveListener(deadlines)
                .build())
        .directHandlers(d -> {
          for (DirectHandler.EventType t : DirectHandler.EventType.values()) {
            d.addHandler(t, this::direct);
          }
        })
        .routing(this::routes)
        .build()
        .start();
    if (!server.isRunning()) {
      server.stop();
      throw new IllegalStateException("cannot listen on " + config.host() + ":" + config.port() + " (see the log above)");
    }
    return server;
  }

  /** Fails with a clear message, and without Helidon's stack trace, when the port is taken. */
  public static void requirePortFree(String host, int port) {
    if (port == 0) {
      return;
    }
    try (ServerSocket probe = new ServerSocket()) {
      probe.setReuseAddress(true); // as the server's own socket: a port in TIME_WAIT is free
      probe.bind(new InetSocketAddress(host, port));
    } catch (IOException e) {
      String hint = e instanceof BindException && String.valueOf(e.getMessage()).contains("in use") ? " (is another server using the port?)" : "";
      throw new IllegalStateException("cannot listen on " + host + ":" + port + ": " + e.getMessage() + hint, e);
    }
  }

  private void routes(HttpRouting.Builder r) {
    r.post("/v1/chat/completions", (req, res) -> serve("chat", req, res, dataPlane::chat))
        .post("/v1/completions", (req, res) -> serve("completions", req, res, dataPlane::completions))
        .get("/v1/models", (req, res) -> serve("models", req, res, dataPlane::models))
        .get("/v1/models/{id}", (req, res) -> serve("models", req, res, dataPlane::model))
        .get("/health", (req, res) -> serve("health", req, res, this::health))
        .get("/ready", (req, res) -> serve("ready", req, res, this::ready))
        .get("/metrics", (req, res) -> serve("metrics", req, res, this::metrics))
        .post("/admin/v1/accounts", (req, res) -> serve("admin", req, res, admin::createAccount))
        .get("/admin/v1/accounts", (req, res) -> serve("admin", req, res, admin::listAccounts))
        .get("/admin/v1/accounts/{id}", (req, res) -> serve("admin", req, res, admin::getAccount))
        .patch("/admin/v1/accounts/{id}", (req, res) -> serve("admin", req, res, admin::updateAccount))
        .post("/admin/v1/accounts/{id}/keys", (req, res) -> serve("admin", req, res, admin::createKey))
        .get("/admin/v1/accounts/{id}/keys", (req, res) -> serve("admin", req, res, admin::listKeys))
        .delete("/admin/v1/keys/{id}", (req, res) -> serve("admin", req, res, admin::revokeKey))
        .get("/user/balance", (req, res) -> serve("balance", req, res, billing::userBalance))
        .get("/v1/usage", (req, res) -> serve("usage", req, res, billing::customerUsage))
        .get("/admin/v1/accounts/{id}/usage", (req, res) -> serve("admin", req, res, billing::adminUsage))
        .get("/admin/v1/accounts/{id}/balance", (req, res) -> serve("admin", req, res, billing::adminBalance))
        .post("/admin/v1/accounts/{id}/credits", (req, res) -> serve("admin", req, res, billing::credit))
        .get("/admin/v1/prices", (req, res) -> serve("admin", req, res, adminPrices::list))
        .get("/admin/v1/prices/{+model}", (req, res) -> serve("admin", req, res, adminPrices::get))
        .put("/admin/v1/prices/{+model}", (req, res) -> serve("admin", req, res, adminPrices::put))
        .post("/admin/v1/redemption-codes", (req, res) -> serve("admin", req, res, topUps::createCodes))
        .post("/v1/top-ups/redeem", (req, res) -> serve("top_up", req, res, topUps::redeem))
        .get("/v1/status", (req, res) -> serve("status", req, res, governor::status))
        .post("/v1/signups", (req, res) -> serve("signup", req, res, governor::signup))
        .get("/admin/v1/governor", (req, res) -> serve("admin", req, res, governor::adminStatus))
        .post("/admin/v1/governor/override", (req, res) -> serve("admin", req, res, governor::override))
        .get("/admin/v1/governor/events", (req, res) -> serve("admin", req, res, governor::events))
        .get("/admin/v1/governor/proposals", (req, res) -> serve("admin", req, res, governor::proposal))
        .post("/admin/v1/governor/proposals/apply", (req, res) -> serve("admin", req, res, governor::applyProposal))
        .post("/webhooks/stripe", (req, res) -> serve("webhook", req, res, topUps::stripeWebhook))
        .any((req, res) -> serve("unknown", req, res, this::notFound));
  }

  void serve(String route, ServerRequest req, ServerResponse res, Action action) {
    RequestRecord rec = new RequestRecord(newRequestId(), nanoTime.getAsLong());
    res.header("x-request-id", rec.requestId());
    int status;
    try {
      status = action.run(req, res, rec);
    } catch (UncheckedIOException | CloseConnectionException e) {
      // The client went away or broke the connection mid-request: routine, nothing to answer.
      rec.outcome("client_gone");
      status = 499;
      log.debug("client connection failed during {}: {}", route, e.getMessage());
    } catch (Throwable t) {
      GatewayException g = ErrorMapper.classify(t);
      if (g.kind() == ErrorKind.INTERNAL_ERROR) {
        log.error("request {} on {} failed", rec.requestId(), req.path().path(), t);
      }
      rec.failedWith(g.kind().code());
      if (res.isSent()) {
        status = 499;
      } else {
        if (g.kind() == ErrorKind.REQUEST_TOO_LARGE) {
          // The rest of an oversized body is not read, so the connection cannot carry another
          // request; saying so keeps a client from reusing it and failing its next request.
          res.header(HeaderNames.CONNECTION, "close");
        }
        try {
          status = errors.send(res, g);
        } catch (RuntimeException sendFailed) {
          status = 499;
        }
      }
    }
    long end = nanoTime.getAsLong();
    metrics.request(route, rec, status, end);
    if (config.accessLog()) {
      logAccess(req, rec, status, end);
    }
  }

  private void logAccess(ServerRequest req, RequestRecord rec, int status, long endNanos) {
    if (!access.isInfoEnabled()) {
      return;
    }
    var u = rec.usage();
    // Built here rather than by a 16-argument pattern: that boxed every number into an array and
    // ran logback's formatter, ~12% of what a request allocated (async-profiler, allocation mode).
    StringBuilder line = new StringBuilder(256)
        .append(rec.requestId()).append(' ')
        .append(req.prologue().method().text()).append(' ')
        .append(req.path().path()).append(' ')
        .append(status).append(' ')
        .append((endNanos - rec.startNanos()) / 1_000_000).append("ms account=")
        .append(dash(rec.accountId())).append(" key=")
        .append(dash(rec.keyPrefix())).append(" model=")
        .append(dash(rec.model())).append(" stream=")
        .append(rec.stream()).append(" upstream=")
        .append(dash(rec.upstream())).append(" attempts=")
        .append(rec.attempts()).append(" prompt=")
        .append(u.promptTokens()).append(" cached=")
        .append(u.cachedPromptTokens()).append(" completion=")
        .append(u.completionTokens()).append(" ttft_ms=")
        .append(rec.firstTokenNanos() / 1_000_000).append(" outcome=")
        .append(rec.outcome());
    access.info(line.toString());
  }

  private static String dash(@Nullable String s) {
    return s == null ? "-" : s;
  }

  /**
   * A time-ordered id: "req_" + the millisecond clock (10 base-36 digits) + 80 random bits from
   * the CSPRNG (two groups of 8 digits), 30 characters that sort by time. The id is also the
   * ledger hold's id and the key of its journal and usage rows, so it must never repeat, and it
   * should grow: random keys scatter every commit's inserts over the pages of each index (several
   * times the pages, and the fsync'd bytes, per commit), where growing keys append to one page.
   * One CSPRNG call per request (twenty {@code nextInt} calls on the synchronized generator cost
   * ~3% of the CPU at peak).
   */
  private String newRequestId() {
    byte[] bits = new byte[10];
    random.nextBytes(bits);
    return requestId(System.currentTimeMillis(), bits);
  }

  static String requestId(long epochMillis, byte[] tenRandomBytes) {
    long first = 0;
    long second = 0;
    for (int i = 0; i < 5; i++) {
      first = (first << 8) | (tenRandomBytes[i] & 0xff);
      second = (second << 8) | (tenRandomBytes[i + 5] & 0xff);
    }
    StringBuilder id = new StringBuilder(30).append("req_");
    appendBase36(id, epochMillis, 10);
    appendBase36(id, first, 8);
    appendBase36(id, second, 8);
    return id.toString();
  }

  /** A non-negative value as exactly {@code width} base-36 digits, zero-padded so that ids sort. */
  private static void appendBase36(StringBuilder out, long value, int width) {
    String digits = Long.toString(value, 36);
    for (int i = digits.length(); i < width; i++) {
      out.append('0');
    }
    out.append(digits);
  }

  private int health(ServerRequest req, ServerResponse res, RequestRecord rec) {
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    res.send("{\"status\":\"ok\"}");
    return 200;
  }

  private int ready(ServerRequest req, ServerResponse res, RequestRecord rec) {
    String notReady = readiness.get();
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    var body = json.createObjectNode();
    if (notReady == null) {
      body.put("status", "ready");
      res.send(body.toString());
      return 200;
    }
    body.put("status", "not_ready");
    body.put("reason", notReady);
    rec.outcome("not_ready");
    res.status(503);
    res.send(body.toString());
    return 503;
  }

  private int metrics(ServerRequest req, ServerResponse res, RequestRecord rec) {
    res.header(HeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    res.send(prometheus.scrape());
    return 200;
  }

  private int notFound(ServerRequest req, ServerResponse res, RequestRecord rec) {
    String path = req.path().path();
    Method m = req.prologue().method();
    if (isKnownPath(path)) {
      throw new GatewayException(ErrorKind.METHOD_NOT_ALLOWED, "Method " + m.text() + " is not allowed on " + path + ".");
    }
    throw new GatewayException(ErrorKind.NOT_FOUND, "Unknown path: " + m.text() + " " + truncate(path, 200) + ".");
  }

  private static boolean isKnownPath(String path) {
    return path.equals("/v1/chat/completions")
        || path.equals("/v1/completions")
        || path.equals("/v1/models")
        || path.startsWith("/admin/v1/accounts")
        || path.startsWith("/admin/v1/keys/")
        || path.equals("/user/balance")
        || path.equals("/v1/usage")
        || path.startsWith("/admin/v1/prices")
        || path.equals("/admin/v1/redemption-codes")
        || path.equals("/v1/top-ups/redeem")
        || path.equals("/v1/status")
        || path.equals("/v1/signups")
        || path.startsWith("/admin/v1/governor")
        || path.equals("/webhooks/stripe");
  }

  private static String truncate(String s, int max) {
    return s.length() <= max ? s : s.substring(0, max) + "...";
  }

  /**
   * Errors Helidon detects before routing (bad request line, header flood, declared body over the
   * limit) get the same JSON shape as every other error.
   */
  private DirectHandler.TransportResponse direct(
      DirectHandler.TransportRequest req,
      DirectHandler.EventType type,
      io.helidon.http.Status status,
      io.helidon.http.ServerResponseHeaders headers,
      String message) {
    ErrorKind kind;
    String text;
    int code = status.code();
    if (type == DirectHandler.EventType.PAYLOAD_TOO_LARGE || code == 413) {
      kind = ErrorKind.REQUEST_TOO_LARGE;
      text = "The request body is larger than the limit of " + config.maxBodyBytes() + " bytes.";
      code = 413;
    } else if (code == 431 || (message != null && message.toLowerCase().contains("header"))) {
      kind = ErrorKind.INVALID_REQUEST;
      text = "The request headers are invalid or larger than the limit of " + config.maxHeaderBytes() + " bytes.";
      code = code == 431 ? 431 : 400;
    } else if (code >= 500) {
      kind = ErrorKind.INTERNAL_ERROR;
      text = "Jevons failed to process the request.";
    } else {
      kind = ErrorKind.INVALID_REQUEST;
      // Helidon hands over no detail that tells a header flood from other framing errors.
      text = "The HTTP request is malformed (request line, headers or chunked framing), or its headers are larger than the limit of "
          + config.maxHeaderBytes() + " bytes.";
      code = code >= 400 ? code : 400;
    }
    return DirectHandler.TransportResponse.builder()
        .status(io.helidon.http.Status.create(code))
        .header(HeaderNames.CONTENT_TYPE, "application/json")
        .header(HeaderNames.CONNECTION, "close")
        .entity(errors.body(kind, text, null))
        .keepAlive(false)
        .build();
  }

  /**
   * Reads a request body, refusing more than the configured limit whether or not the client
   * declared a length.
   */
  /** Bodies up to this declared length are read into an exact-size array at once. */
  private static final long EXACT_READ_MAX_BYTES = 64 << 10;

  static byte[] readBody(ServerRequest req, long maxBytes, ReadDeadlines deadlines) {
    byte[] body = readBody(req, maxBytes, deadlines::progressed);
    deadlines.received();
    return body;
  }

  private static byte[] readBody(ServerRequest req, long maxBytes, Runnable progressed) {
    long declared = req.headers().contentLength().orElse(-1);
    if (declared > maxBytes) {
      throw new GatewayException(
          ErrorKind.REQUEST_TOO_LARGE, "The request body is " + declared + " bytes; the limit is " + maxBytes + " bytes.");
    }
    if (!req.content().hasEntity()) {
      return new byte[0];
    }
    try (InputStream in = req.content().inputStream()) {
      if (declared >= 0 && declared <= EXACT_READ_MAX_BYTES) {
        // The usual case: a small body of known length, read straight into an array of that size
        // (no 16 KB scratch buffer and no copy per request). Larger declared bodies take the
        // growing path below, so a client cannot make Jevons allocate megabytes it never sends.
        // A body that ends early is the client closing mid-body.
        byte[] body = new byte[(int) declared];
        int off = 0;
        while (off < body.length) {
          int n = in.read(body, off, body.length - off);
          if (n < 0) {
            throw new UncheckedIOException(new IOException("the client closed the connection in the middle of the body"));
          }
          off += n;
          progressed.run();
        }
        return body;
      }
      long limit = Math.min(Integer.MAX_VALUE - 8, maxBytes + 1);
      ByteArrayOutputStream read = new ByteArrayOutputStream();
      byte[] buf = new byte[16 << 10];
      for (int n; read.size() < limit && (n = in.read(buf, 0, (int) Math.min(buf.length, limit - read.size()))) >= 0; ) {
        read.write(buf, 0, n);
        progressed.run();
      }
      byte[] body = read.toByteArray();
      if (body.length > maxBytes) {
        throw new GatewayException(ErrorKind.REQUEST_TOO_LARGE, "The request body is larger than the limit of " + maxBytes + " bytes.");
      }
      return body;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (DataReader.InsufficientDataAvailableException e) {
      // Helidon's way of saying the connection closed before the declared body arrived.
      throw new UncheckedIOException(new IOException("the client closed the connection in the middle of the body", e));
    } catch (RequestException e) {
      // Helidon enforces max_body_bytes itself on a chunked body, as it reads the chunk sizes,
      // and rejects broken chunking; both arrive here as a RequestException without a message.
      if (e.status().code() == 413) {
        throw new GatewayException(ErrorKind.REQUEST_TOO_LARGE, "The request body is larger than the limit of " + maxBytes + " bytes.");
      }
      throw GatewayException.invalid(null, "The request body could not be read: its transfer encoding is malformed.");
    } catch (HttpException e) {
      // A compressed body whose decoded size passes the limit.
      if (e.status().code() == 413) {
        throw new GatewayException(ErrorKind.REQUEST_TOO_LARGE, "The decoded request body is larger than the limit of " + maxBytes + " bytes.");
      }
      throw GatewayException.invalid(null, "The request body could not be read: " + e.getMessage());
    }
  }
}
