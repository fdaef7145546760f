package dev.jevons.gateway;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.util.JsonRecyclerPools;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jevons.accounts.Principal;
import dev.jevons.config.JevonsConfig;
import dev.jevons.scheduler.Admission;
import dev.jevons.scheduler.LimitKeys;
import dev.jevons.scheduler.Limits;
import dev.jevons.scheduler.RateLimiter;
import dev.jevons.scheduler.Ticket;
import dev.jevons.scheduler.TicketSpec;
import dev.jevons.upstream.Replica;
import dev.jevons.upstream.SseReader;
import dev.jevons.upstream.UpstreamClient;
import dev.jevons.upstream.UpstreamException;
import dev.jevons.upstream.UpstreamPool;
import dev.jevons.upstream.Watchdog;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The request pipeline for generation endpoints: validate, check the key may use the model, pick
 * an upstream, relay the answer, meter the tokens.
 *
 * <p>Implementation note (the stream relay). Invariants: (1) nothing is sent to the client until
 * the upstream has produced its first event, so any failure before that point can be retried on
 * another replica; after it, a failure ends the stream with an OpenAI-style error event and a
 * clean {@code [DONE]}, never a reset connection. (2) The upstream is always asked for usage;
 * the client sees a usage chunk only when it asked ({@code stream_options.include_usage}), and
 * then exactly one, last, as OpenAI sends it. (3) Usage is the upstream's report when it made one,
 * otherwise what was delivered: one token per content-bearing chunk, the prompt estimated from its
 * characters (docs/decisions.md). (4) With billing on, no output token is written before the
 * request's ledger hold covers it ({@link Charge#cover}); a stream whose hold cannot grow ends with
 * an {@code insufficient_balance} error event, the usage chunk if asked, and {@code [DONE]}, and is
 * charged for what it delivered. Concurrency: one virtual thread per request reads the upstream
 * and writes the client, so events are relayed one at a time with no buffering beyond one SSE
 * line; a shared {@link Watchdog} enforces the first-byte and idle timeouts by closing the upstream
 * body, which unblocks the read. A client that goes away makes the next write fail; the upstream
 * body is then closed, which closes the upstream connection and so cancels the generation.
 */
public final class Gateway {
  private static final Logger log = LoggerFactory.getLogger(Gateway.class);
  private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] EVENT_END = "\n\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
  private static final int MAX_SSE_LINE_BYTES = 4 << 20;
  private static final int MAX_RESPONSE_BYTES = 64 << 20;

  private final UpstreamPool pool;
  private final UpstreamClient client;
  private final Watchdog watchdog;
  private final ObjectMapper json;
  /** Reads one value in the middle of a document (the answer's usage), so no check for what follows. */
  private final ObjectReader valueReader;
  private final GatewayMetrics metrics;
  private final JevonsConfig.UpstreamPolicy policy;
  private final JevonsConfig.Scheduler scheduling;
  private final Admission admission;
  private final RateLimiter limiter;
  private final Biller biller;
  private final Limits accountLimits;
  private final Limits keyLimits;
  private final LongSupplier nanoTime;

  /** Every request waits in the standard band until accounts carry tiers. */

  public Gateway(
      UpstreamPool pool,
      Watchdog watchdog,
      ObjectMapper json,
      GatewayMetrics metrics,
      Admission admission,
      RateLimiter limiter,
      Biller biller,
      JevonsConfig config,
      LongSupplier nanoTime) {
    this.pool = pool;
    this.client = pool.client();
    this.watchdog = watchdog;
    this.json = json;
    this.valueReader = json.reader().without(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    this.metrics = metrics;
    this.policy = config.upstreamPolicy();
    this.scheduling = config.scheduler();
    this.admission = admission;
    this.limiter = limiter;
    this.biller = biller;
    JevonsConfig.RateLimits l = config.rateLimits();
    this.accountLimits = new Limits(l.accountRequestsPerMinute(), l.accountTokensPerMinute(), l.accountConcurrentRequests());
    this.keyLimits = new Limits(l.keyRequestsPerMinute(), l.keyTokensPerMinute(), l.keyConcurrentRequests());
    this.nanoTime = nanoTime;
  }

  /** Parser and generator buffers kept for reuse; beyond this many in use at once, they are allocated. */
  private static final int JSON_BUFFER_POOL_SIZE = 256;

  /**
   * The JSON mapper for request and response bodies: strict about what OpenAI's parsers reject
   * (trailing content, duplicate keys) so that a malformed body is a 400 here, not upstream.
   *
   * <p>Jackson's default buffer pool is thread-local; with one virtual thread per request, every
   * open stream kept its own parser buffers (~16 KB of char[] and more of byte[]) for its whole
   * life (docs/BENCHMARKS.md, 5,000 streams). A shared bounded pool keeps only what is in use.
   */
  public static ObjectMapper newObjectMapper() {
    JsonFactory factory = JsonFactory.builder().recyclerPool(JsonRecyclerPools.newBoundedPool(JSON_BUFFER_POOL_SIZE)).build();
    return JsonMapper.builder(factory)
        .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
        .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
        .build();
  }

  public UpstreamPool pool() {
    return pool;
  }

  /** Serves one generation request; throws {@link GatewayException} when it answers with an error. */
  public void handle(Endpoint endpoint, Principal principal, byte[] raw, ClientChannel channel, RequestRecord rec) {
    CompletionRequest req = CompletionRequest.parse(endpoint, raw, json);
    rec.model(req.model());
    rec.stream(req.stream());
    if (!pool.serves(req.model())) {
      throw new GatewayException(
          ErrorKind.MODEL_NOT_FOUND,
          "The model '" + req.model() + "' does not exist. Available models: " + String.join(", ", pool.models()) + ".",
          "model",
          null);
    }
    if (!principal.key().allowsModel(req.model())) {
      throw new GatewayException(
          ErrorKind.MODEL_NOT_ALLOWED,
          "This API key may not use the model '" + req.model() + "'; it may use: " + String.join(", ", principal.key().models()) + ".",
          "model",
          null);
    }
    long maxOutput = req.maxTokens() != null ? req.maxTokens() : scheduling.defaultMaxOutputTokens();
    // The output budget covers every choice the upstream will generate.
    long outputBudget = Math.multiplyExact(maxOutput, (long) req.choices());
    Charge charge = biller.open(req, outputBudget, principal.account().id(), principal.key().id(), rec);
    try {
      limitAndServe(req, principal, raw, maxOutput, outputBudget, charge, channel, rec);
    } finally {
      charge.releaseIfUnsettled(rec);
      rec.cost(charge.costNanos());
    }
  }

  private void limitAndServe(
      CompletionRequest req,
      Principal principal,
      byte[] raw,
      long maxOutput,
      long outputBudget,
      Charge charge,
      ClientChannel channel,
      RequestRecord rec) {
    long estimatedTokens = TokenEstimator.ofChars(req.promptChars()) + outputBudget;
    RateLimiter.Decision decision =
        limiter.tryAcquire(new LimitKeys(principal.account().id(), principal.key().id()), accountLimits, keyLimits, estimatedTokens);
    decision.snapshot().headers().forEach(channel::header);
    if (decision instanceof RateLimiter.Rejected rejected) {
      metrics.rateLimited(req.model(), rejected.scope().name().toLowerCase() + "_" + rejected.kind().name().toLowerCase());
      throw new GatewayException(
          ErrorKind.RATE_LIMIT_EXCEEDED, rejected.message(), null, Duration.ofSeconds(rejected.retryAfterSeconds()));
    }
    RateLimiter.Permit permit = ((RateLimiter.Admitted) decision).permit();
    ClientResponse out = new ClientResponse(channel, req.stream(), scheduling.deepseekKeepalive());
    try {
      byte[] upstreamBody = req.upstreamBody(json, raw, biller.enabled() ? maxOutput : null);
      admitAndRelay(req, principal, outputBudget, upstreamBody, charge, out, rec);
    } catch (GatewayException e) {
      if (!out.committed()) {
        throw e;
      }
      rec.outcome("failed_after_commit");
      out.failAfterCommit(errorJson(e.kind(), String.valueOf(e.getMessage())));
    } finally {
      try {
        // Tokens per minute were counted with the estimate; settle them to what was used.
        permit.settleTokens(Math.max(0, rec.usage().totalTokens()));
      } finally {
        permit.release();
      }
    }
  }

  /** Waits in the fair queue for a replica, then relays; always gives the capacity back. */
  private void admitAndRelay(
      CompletionRequest req, Principal principal, long maxOutput, byte[] upstreamBody, Charge charge, ClientResponse out, RequestRecord rec) {
    // FIFO (for comparison, and for operators who want it) is fair queueing with one shared account.
    boolean fifo = "fifo".equals(scheduling.policy());
    String fairShareAccount = fifo ? "*" : principal.account().id();
    // The account's tier: its strict priority band (FIFO keeps bands, so a premium tier still goes
    // first) and its weight for fair sharing within the band.
    TicketSpec spec =
        new TicketSpec(
            fairShareAccount,
            fifo ? 1.0 : principal.account().weight(),
            principal.account().band(),
            req.model(),
            TokenEstimator.ofChars(req.promptChars()),
            maxOutput,
            TimeUnit.MILLISECONDS.toNanos(scheduling.maxWaitMillis()),
            req.prefix());
    metrics.admissionArrival();
    Admission.Result admitted = admission.enqueue(spec);
    if (admitted instanceof Admission.Refused refused) {
      metrics.shed(req.model(), refused.reason().startsWith("predicted wait") ? "predicted_wait" : "queue_full");
      throw new GatewayException(
          ErrorKind.SERVER_OVERLOADED,
          "Jevons is at capacity for '" + req.model() + "': " + refused.reason() + ".",
          null,
          Duration.ofNanos(Math.max(refused.retryAfterNanos(), TimeUnit.SECONDS.toNanos(1))));
    }
    Ticket ticket = ((Admission.Waiting) admitted).ticket();
    rec.onFirstToken(() -> admission.prefilled(ticket));
    try {
      Replica first = awaitDispatch(ticket, out, rec);
      if (first != null) {
        relayWithRetries(req, ticket, first, upstreamBody, charge, out, rec);
      }
    } finally {
      // A ticket still waiting (an unexpected failure while queued) leaves the queue; one that was
      // dispatched gives its capacity back, exactly once either way.
      if (!admission.cancel(ticket) && ticket.state() == Ticket.State.DISPATCHED) {
        admission.complete(ticket, spec.weight(), rec.usage().promptTokens(), rec.usage().completionTokens());
      }
    }
  }

  /**
   * Blocks until the ticket is dispatched, sending keep-alives while it waits. Returns the replica
   * whose capacity it holds, or null when the client went away (the ticket is then cancelled).
   */
  private @Nullable Replica awaitDispatch(Ticket ticket, ClientResponse out, RequestRecord rec) {
    long interval = TimeUnit.MILLISECONDS.toNanos(scheduling.keepaliveIntervalMillis());
    while (true) {
      Ticket.State state;
      try {
        state = ticket.await(interval);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        admission.cancel(ticket);
        throw new GatewayException(ErrorKind.INTERNAL_ERROR, "Jevons is shutting down.");
      }
      switch (state) {
        case DISPATCHED -> {
          rec.queued(ticket.waitedNanos());
          metrics.queueWait(ticket.model(), ticket.waitedNanos());
          return (Replica) ticket.slot();
        }
        case SHED, EXPIRED -> {
          metrics.shed(ticket.model(), state == Ticket.State.EXPIRED ? "deadline" : "displaced");
          if (state == Ticket.State.EXPIRED) {
            // It waited its whole deadline: that wait counts in the governor's p95 queue wait.
            metrics.expiredInQueue(TimeUnit.MILLISECONDS.toNanos(scheduling.maxWaitMillis()));
          }
          throw new GatewayException(
                ErrorKind.SERVER_OVERLOADED,
                "Jevons is at capacity for '" + ticket.model() + "': " + ticket.reason() + ".",
                null,
                Duration.ofSeconds(5));
        }
        case CANCELLED -> {
          rec.outcome("client_gone");
          return null;
        }
        case QUEUED -> {
          if (!out.keepAlive()) {
            admission.cancel(ticket);
            rec.outcome("client_gone");
            return null;
          }
        }
      }
    }
  }

  /**
   * Relays on the dispatched replica; before the client has received any byte, a failure moves
   * the request to another replica with room (at most {@code max_attempts} in all).
   */
  private void relayWithRetries(
      CompletionRequest req, Ticket ticket, Replica first, byte[] upstreamBody, Charge charge, ClientResponse out, RequestRecord rec) {
    Set<Replica> tried = new HashSet<>();
    UpstreamException last = null;
    Replica replica = first;
    for (int attempt = 0; attempt < policy.maxAttempts() && replica != null; attempt++) {
      tried.add(replica);
      rec.attempt();
      rec.upstream(replica.name());
      try {
        if (req.stream()) {
          relayStream(req, replica, upstreamBody, charge, out, rec);
        } else {
          relayJson(req, replica, upstreamBody, charge, out, rec);
        }
        return;
      } catch (UpstreamException e) {
        // Only failures before the client received any data arrive here.
        pool.failed(replica, e);
        metrics.upstreamFailure(replica, e.kind().name().toLowerCase());
        last = e;
        log.debug("attempt {} on {} failed: {}", attempt + 1, replica.name(), e.getMessage());
        if (!e.retryable()) {
          break;
        }
      } finally {
        if (replica != first) {
          pool.release(replica);
          admission.pump();
        }
      }
      if (replica == first) {
        // The dispatched replica failed this request: free its slot now for waiting work, not
        // when the retry elsewhere finishes.
        admission.handBack(ticket);
      }
      replica = attempt + 1 < policy.maxAttempts() ? pool.acquire(req.model(), tried).orElse(null) : null;
    }
    throw clientError(req.model(), tried, last);
  }

  private GatewayException clientError(String model, Set<Replica> tried, @Nullable UpstreamException last) {
    if (last == null) {
      String why = pool.whyUnavailable(model, tried);
      if (pool.onlyBusy(model)) {
        return new GatewayException(ErrorKind.SERVER_OVERLOADED, why + "; retry shortly.", null, Duration.ofSeconds(1));
      }
      return new GatewayException(ErrorKind.UPSTREAM_ERROR, why + ".", null, Duration.ofSeconds(5));
    }
    String msg = last.upstreamMessage() != null ? last.upstreamMessage() : last.getMessage();
    return switch (last.kind()) {
      case FIRST_BYTE_TIMEOUT, IDLE_TIMEOUT ->
          new GatewayException(ErrorKind.UPSTREAM_TIMEOUT, "The inference server did not answer in time: " + last.getMessage(), null, null);
      case STATUS -> switch (last.status()) {
        case 400 -> new GatewayException(ErrorKind.INVALID_REQUEST, "The inference server rejected the request: " + msg, null, null);
        case 413 -> new GatewayException(ErrorKind.REQUEST_TOO_LARGE, "The inference server rejected the request as too large: " + msg, null, null);
        case 422 -> new GatewayException(ErrorKind.INVALID_PARAMETERS, "The inference server cannot honour the parameters: " + msg, null, null);
        case 429 -> new GatewayException(ErrorKind.SERVER_OVERLOADED, "Every inference server for '" + model + "' is busy: " + msg, null, Duration.ofSeconds(1));
        default -> new GatewayException(ErrorKind.UPSTREAM_ERROR, "The inference server failed: " + last.getMessage(), null, null);
      };
      default -> new GatewayException(ErrorKind.UPSTREAM_ERROR, "The inference server failed: " + last.getMessage(), null, null);
    };
  }

  private void relayJson(CompletionRequest req, Replica replica, byte[] body, Charge charge, ClientResponse out, RequestRecord rec)
      throws UpstreamException {
    byte[] answer;
    JsonNode upstreamUsage;
    try (UpstreamClient.Response resp = client.post(replica, req.endpoint().path(), body);
        Watchdog.Watch watch = watchdog.watch(millis(policy.idleTimeoutMillis()), resp::close)) {
      try {
        answer = readBounded(resp.body(), resp.contentLength());
      } catch (IOException e) {
        throw watch.expired()
            ? UpstreamException.of(UpstreamException.Kind.FIRST_BYTE_TIMEOUT, replica.name() + " stalled while sending its answer")
            : new UpstreamException(UpstreamException.Kind.CONNECT, replica.name() + " broke off its answer: " + e.getMessage(), 0, null, e);
      }
      upstreamUsage = usageOfAnswer(answer, replica);
    }
    Usage usage;
    if (upstreamUsage != null && upstreamUsage.isObject() && UsageJson.complete(upstreamUsage)) {
      usage = usageOf(upstreamUsage); // the usual answer: relayed byte for byte
    } else {
      ObjectNode node = readObject(answer, replica);
      if (upstreamUsage != null && upstreamUsage.isObject()) {
        usage = usageOf(upstreamUsage);
        node.set("usage", UsageJson.normalized(json, upstreamUsage, usage));
      } else {
        usage = new Usage(TokenEstimator.ofChars(req.promptChars()), TokenEstimator.ofChars(generatedChars(node)), 0, true);
        node.set("usage", UsageJson.normalized(json, null, usage));
      }
      answer = write(node);
    }
    pool.succeeded(replica);
    rec.usage(usage);
    rec.firstToken(nanoTime.getAsLong());
    // The charge is durable before the answer's last byte leaves.
    if (!charge.settle(usage, rec)) {
      throw new GatewayException(
          ErrorKind.SERVER_OVERLOADED, "The charge for this answer could not be recorded, so it is not delivered; retry shortly.", null,
          Duration.ofSeconds(5));
    }
    try {
      out.sendJson(200, answer);
    } catch (IOException | UncheckedIOException e) {
      rec.outcome("client_gone");
    }
  }

  private void relayStream(
      CompletionRequest req, Replica replica, byte[] body, Charge charge, ClientResponse response, RequestRecord rec)
      throws UpstreamException {
    UpstreamClient.Response resp = client.post(replica, req.endpoint().path(), body);
    Watchdog.Watch watch = watchdog.watch(millis(policy.firstByteTimeoutMillis()), resp::close);
    try (resp; watch) {
      SseReader reader = new SseReader(resp.body(), MAX_SSE_LINE_BYTES);
      String data;
      try {
        data = reader.nextData();
      } catch (IOException e) {
        throw watch.expired()
            ? UpstreamException.of(
                UpstreamException.Kind.FIRST_BYTE_TIMEOUT,
                replica.name() + " sent no event within " + policy.firstByteTimeoutMillis() + " ms")
            : new UpstreamException(UpstreamException.Kind.CONNECT, replica.name() + " broke off before its first event: " + e.getMessage(), 0, null, e);
      }
      if (data == null) {
        throw UpstreamException.of(UpstreamException.Kind.CONNECT, replica.name() + " ended the stream before its first event");
      }
      JsonNode firstNode = parseEvent(data);
      if (firstNode == null && !"[DONE]".equals(data)) {
        // Nothing has reached the client yet, so another replica may still answer properly.
        throw UpstreamException.of(UpstreamException.Kind.CONNECT, replica.name() + " sent a first event that is not JSON");
      }
      if (firstNode != null && firstNode.has("error")) {
        throw new UpstreamException(
            UpstreamException.Kind.STATUS, replica.name() + " answered with an error event", 500, firstNode.path("error").path("message").asText(null), null);
      }
      pool.succeeded(replica);
      StreamState state = new StreamState(req, json);
      OutputStream out;
      try {
        out = response.eventStream();
      } catch (IOException | UncheckedIOException e) {
        rec.outcome("client_gone");
        return;
      }
      relayEvents(req, replica, reader, watch, data, firstNode, state, charge, out, rec);
    }
  }

  /** Relays from the first event on; never throws for upstream or client failures. */
  private void relayEvents(
      CompletionRequest req,
      Replica replica,
      SseReader reader,
      Watchdog.Watch watch,
      String firstData,
      @Nullable JsonNode firstNode,
      StreamState state,
      Charge charge,
      OutputStream out,
      RequestRecord rec) {
    String data = firstData;
    JsonNode node = firstNode;
    String failure = null;
    ErrorKind failureKind = ErrorKind.UPSTREAM_ERROR;
    boolean done = false;
    Charge.Coverage coverage = Charge.Coverage.COVERED;
    long idleNanos = millis(policy.idleTimeoutMillis());
    try {
      while (true) {
        if ("[DONE]".equals(data)) {
          done = true;
          break;
        }
        if (node == null) {
          failure = "the inference server sent an event that is not JSON";
          break;
        }
        if (node.has("error")) {
          failure = "the inference server reported an error: " + node.path("error").path("message").asText("unknown");
          break;
        }
        long chunkTokens = StreamState.contentTokens((ObjectNode) node);
        if (chunkTokens > 0) {
          // No token reaches the client unless the hold already covers it.
          coverage = charge.cover(state.deliveredTokens() + chunkTokens);
          if (coverage != Charge.Coverage.COVERED) {
            break;
          }
        }
        byte[] chunk = state.process((ObjectNode) node, data);
        if (chunk != null) {
          // A slow client must not count against the upstream's idle timeout.
          watch.extend(idleNanos);
          writeEvent(out, chunk);
          if (state.deliveredTokens() > 0) {
            rec.firstToken(nanoTime.getAsLong());
          }
        }
        watch.extend(idleNanos);
        try {
          data = reader.nextData();
        } catch (IOException e) {
          if (watch.expired()) {
            failureKind = ErrorKind.UPSTREAM_TIMEOUT;
            failure = "the inference server sent nothing for " + policy.idleTimeoutMillis() + " ms";
          } else {
            failure = "the connection to the inference server broke: " + e.getMessage();
          }
          break;
        }
        if (data == null) {
          failure = "the inference server ended the stream without [DONE]";
          break;
        }
        node = parseEvent(data);
      }
      if (failure != null) {
        rec.outcome("upstream_failed");
        UpstreamException.Kind kind =
            failureKind == ErrorKind.UPSTREAM_TIMEOUT ? UpstreamException.Kind.IDLE_TIMEOUT : UpstreamException.Kind.BROKEN_STREAM;
        pool.failed(replica, UpstreamException.of(kind, failure));
        metrics.upstreamFailure(replica, kind.name().toLowerCase());
        writeEvent(out, errorEvent(failureKind, "The stream was cut short: " + failure + "."));
      }
      if (coverage == Charge.Coverage.INSUFFICIENT) {
        // Returning closes the upstream body, which cancels the generation.
        rec.outcome("insufficient_balance");
        metrics.streamEndedUnpaid(req.model());
        writeEvent(out, errorEvent(ErrorKind.INSUFFICIENT_BALANCE,
            "Insufficient balance: the stream was ended after " + state.deliveredTokens()
                + " output tokens, all that the available balance pays for; they are billed. Top up to continue."));
      } else if (coverage == Charge.Coverage.UNAVAILABLE) {
        rec.outcome("billing_failed");
        writeEvent(out, errorEvent(ErrorKind.SERVER_OVERLOADED,
            "Billing is temporarily unavailable, so the stream was ended after " + state.deliveredTokens() + " output tokens."));
      }
      rec.usage(state.usage(!done));
      if (done && rec.usage().completionTokens() > charge.heldOutputTokens()) {
        // The upstream reports more tokens than chunks (several tokens in one chunk): bill them if
        // the account can pay; if it cannot, they were delivered and are charged at most the hold.
        charge.coverDelivered(rec.usage().completionTokens());
      }
      // The charge is durable before the stream's last byte leaves; a stream whose charge could
      // not be recorded does not end as a success.
      if (!charge.settle(rec.usage(), rec)) {
        rec.outcome("billing_failed");
        writeEvent(out, errorEvent(ErrorKind.SERVER_OVERLOADED, "The charge for this response could not be recorded; it is not billed."));
      }
      if (req.includeUsage()) {
        writeEvent(out, state.usageChunk(!done));
      }
      out.write(DONE);
      out.close();
    } catch (IOException | UncheckedIOException e) {
      // The client went away: routine. Closing the upstream body (by the caller's
      // try-with-resources) cancels the generation.
      rec.outcome("client_gone");
      if (!charge.settled()) {
        rec.usage(state.usage(true));
        charge.settle(rec.usage(), rec);
      }
      log.debug("client went away during a stream from {}", replica.name());
    } finally {
      metrics.holdExtensions(req.model(), charge.extensions());
    }
  }

  private @Nullable JsonNode parseEvent(String data) {
    if ("[DONE]".equals(data)) {
      return null;
    }
    try {
      JsonNode n = json.readTree(data);
      return n != null && n.isObject() ? n : null;
    } catch (IOException e) {
      return null;
    }
  }

  private static void writeEvent(OutputStream out, byte[] json) throws IOException {
    out.write(DATA);
    out.write(json);
    out.write(EVENT_END);
    out.flush();
  }

  private byte[] errorJson(ErrorKind kind, String message) {
    return errorEvent(kind, message);
  }

  private byte[] errorEvent(ErrorKind kind, String message) {
    ObjectNode root = json.createObjectNode();
    ObjectNode err = root.putObject("error");
    err.put("message", message);
    err.put("type", kind.type());
    err.putNull("param");
    err.put("code", kind.code());
    return write(root);
  }

  Usage usageOf(JsonNode u) {
    return UsageJson.parse(u);
  }

  private static long generatedChars(ObjectNode node) {
    long chars = 0;
    for (JsonNode choice : node.path("choices")) {
      chars += choice.path("text").asText("").length();
      chars += choice.path("message").path("content").asText("").length();
      chars += choice.path("message").path("reasoning_content").asText("").length();
      JsonNode toolCalls = choice.path("message").path("tool_calls");
      chars += toolCalls.isMissingNode() || toolCalls.isNull() ? 0 : toolCalls.toString().length();
    }
    return chars;
  }

  private byte[] write(JsonNode node) {
    try {
      return json.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree must serialize", e);
    }
  }

  /**
   * The answer's top-level {@code usage} value (null when it has none), checking on the way that
   * the answer is one well-formed JSON object, as a tree read would, but without building a tree
   * of the whole answer: the other fields are only tokenized. Building the tree was the second
   * largest allocation of a non-streaming request, and the answer is relayed as it came unless
   * its usage needs completing.
   *
   * @throws UpstreamException (PROTOCOL) when the answer is not one JSON object
   */
  private @Nullable JsonNode usageOfAnswer(byte[] answer, Replica replica) throws UpstreamException {
    try (JsonParser p = json.createParser(answer)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        throw UpstreamException.of(UpstreamException.Kind.PROTOCOL, replica.name() + " answered with something other than a JSON object");
      }
      JsonNode usage = null;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        p.nextToken();
        if (name.equals("usage")) {
          usage = valueReader.readTree(p);
        } else {
          p.skipChildren();
        }
      }
      if (p.nextToken() != null) {
        throw new IOException("content after the JSON object");
      }
      return usage;
    } catch (IOException e) {
      throw new UpstreamException(UpstreamException.Kind.PROTOCOL, replica.name() + " answered with invalid JSON", 0, null, e);
    }
  }

  /** The whole answer as a tree, when its usage must be completed; {@link #usageOfAnswer} has seen it is one object. */
  private ObjectNode readObject(byte[] answer, Replica replica) throws UpstreamException {
    try {
      return (ObjectNode) json.readTree(answer);
    } catch (IOException | ClassCastException e) {
      // A string the scan only skipped can still fail here (one over Jackson's length limit).
      throw new UpstreamException(UpstreamException.Kind.PROTOCOL, replica.name() + " answered with invalid JSON", 0, null, e);
    }
  }

  /**
   * The whole body, at most {@link #MAX_RESPONSE_BYTES}. Read into an array of the declared
   * length when there is one (trusted up to 1 MB; beyond, the array grows as the bytes arrive),
   * so a typical answer costs one array of its own size: {@code readNBytes} allocated a 16 KB
   * buffer per call, a third of all the bytes a non-streaming request allocated (measured with
   * async-profiler's allocation mode), and so of its young collections.
   */
  static byte[] readBounded(InputStream in, long declaredLength) throws IOException {
    if (declaredLength > MAX_RESPONSE_BYTES) {
      throw new IOException("answer larger than " + MAX_RESPONSE_BYTES + " bytes");
    }
    byte[] buf = new byte[declaredLength >= 0 ? (int) Math.min(declaredLength, 1 << 20) : 1024];
    int n = 0;
    while (true) {
      if (n == buf.length) {
        // Full: the end of the body, or more than the array holds.
        int next = in.read();
        if (next < 0) {
          return buf;
        }
        if (buf.length >= MAX_RESPONSE_BYTES) {
          throw new IOException("answer larger than " + MAX_RESPONSE_BYTES + " bytes");
        }
        buf = Arrays.copyOf(buf, (int) Math.min(Math.max(1024L, (long) buf.length * 2), MAX_RESPONSE_BYTES));
        buf[n++] = (byte) next;
      }
      int r = in.read(buf, n, buf.length - n);
      if (r < 0) {
        return Arrays.copyOf(buf, n);
      }
      n += r;
    }
  }

  private static long millis(long ms) {
    return TimeUnit.MILLISECONDS.toNanos(ms);
  }
}
