package dev.jevons.sim;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.CloseConnectionException;
import io.helidon.webserver.ServerConnectionException;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;

/*
 * The OpenAI-compatible routes of one simulated replica. Blocking code on Helidon's virtual
 * threads: a request is parsed, tokenized and submitted to the engine, then the handler thread
 * waits for the engine's tokens and writes them (stream) or the whole answer (non-stream).
 *
 * Client disconnects are noticed when a write fails, and the sequence is then cancelled in the
 * engine. A stream writes every token batch, and while it waits it writes an SSE comment
 * (": keep-alive") every keep-alive interval; a non-streaming request that is not done within one
 * interval commits a 200 and writes a newline each interval (leading whitespace is valid JSON), as
 * DeepSeek does. So a leaving client is noticed within one token or one interval (5 s), except a
 * non-streaming one that leaves during its first interval, whose sequence runs on until the next
 * write. The price: once a keep-alive went out, a later failure can only close the connection.
 */
final class OpenAiHandler {
  static final long KEEP_ALIVE_NANOS = TimeUnit.SECONDS.toNanos(5);
  private static final long STALL_LIMIT_NANOS = TimeUnit.MINUTES.toNanos(10);
  private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] KEEP_ALIVE = ": keep-alive\n\n".getBytes(StandardCharsets.US_ASCII);
  private static final int DEFAULT_LEGACY_MAX_TOKENS = 16; // OpenAI's default for /v1/completions

  private final SimConfig config;
  private final EngineRunner runner;
  private final SimMetrics metrics;
  private final FaultInjector faults;
  private final InstantSource clock;
  private final ObjectMapper json = new ObjectMapper();
  private final AtomicLong ids;
  private final byte @Nullable [] apiKey;
  private final String modelsBody;
  private final long keepAliveNanos;

  OpenAiHandler(
      SimConfig config,
      EngineRunner runner,
      SimMetrics metrics,
      InstantSource clock,
      long idSalt,
      long keepAliveNanos) {
    this.config = config;
    this.keepAliveNanos = keepAliveNanos;
    // Salted so replicas of one fleet (same seed) do not hand out the same ids.
    this.ids = new AtomicLong(PrefixCache.mix(idSalt));
    this.runner = runner;
    this.metrics = metrics;
    this.faults = new FaultInjector(config.faults(), config.seed());
    this.clock = clock;
    this.apiKey = config.apiKey() == null ? null : config.apiKey().getBytes(StandardCharsets.UTF_8);
    this.modelsBody = renderModels();
  }

  // ---- routes

  void models(ServerRequest req, ServerResponse res) {
    try {
      authenticate(req);
      sendJson(res, 200, modelsBody);
    } catch (SimHttpException e) {
      sendError(res, e);
    }
  }

  void metrics(ServerRequest req, ServerResponse res) {
    res.header(HeaderNames.CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
    res.send(metrics.render(config.models(), runner.stats()).getBytes(StandardCharsets.UTF_8));
  }

  void chat(ServerRequest req, ServerResponse res) {
    handle(req, res, true);
  }

  void completions(ServerRequest req, ServerResponse res) {
    handle(req, res, false);
  }

  // ---- pipeline

  private void handle(ServerRequest req, ServerResponse res, boolean chat) {
    try {
      authenticate(req);
      Call call = parse(req.content().as(byte[].class), chat);
      FaultInjector.Decision fault = faults.next();
      if (fault.error()) {
        metrics.faultError();
        throw new SimHttpException(
            500, "server_error", "internal_error", null, "simulated upstream failure (fault injection)");
      }
      EngineRunner.Live live;
      try {
        live = runner.submit(call.sequence());
      } catch (EngineOverloadedException e) {
        res.header(HeaderNames.RETRY_AFTER, "1");
        throw new SimHttpException(503, "server_error", "server_overloaded", null, e.getMessage());
      } catch (IllegalArgumentException e) {
        throw SimHttpException.badRequest("max_tokens", e.getMessage());
      }
      if (fault.slowFirstByte()) {
        metrics.faultSlow();
        sleepScaledMillis(config.faults().slowFirstByteMillis());
      }
      if (fault.disconnect()) metrics.faultDisconnect();
      if (call.stream()) {
        stream(res, call, live, fault.disconnect());
      } else {
        whole(res, call, live, fault.disconnect());
      }
    } catch (SimHttpException e) {
      sendError(res, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new CloseConnectionException("interrupted");
    }
  }

  private void whole(ServerResponse res, Call call, EngineRunner.Live live, boolean disconnect)
      throws InterruptedException {
    OutputStream os = null;
    long start = System.nanoTime();
    try {
      while (!live.ended()) {
        live.awaitBeyond(Integer.MAX_VALUE - 1, keepAliveNanos);
        if (live.ended()) break;
        if (runner.isClosed() || System.nanoTime() - start > STALL_LIMIT_NANOS) {
          runner.cancel(live);
          throw new CloseConnectionException("sequence stalled or server closing");
        }
        if (os == null) {
          res.header(HeaderNames.CONTENT_TYPE, "application/json");
          os = res.outputStream();
        }
        os.write('\n');
        os.flush();
      }
      if (!finished(live, call)) {
        throw new CloseConnectionException("sequence cancelled");
      }
      byte[] body = renderWhole(call, live.cachedTokens()).getBytes(StandardCharsets.UTF_8);
      if (os == null && !disconnect) {
        res.header(HeaderNames.CONTENT_TYPE, "application/json");
        res.send(body);
        return;
      }
      if (os == null) {
        res.header(HeaderNames.CONTENT_TYPE, "application/json");
        os = res.outputStream();
      }
      if (disconnect) {
        // Abrupt close mid-body: half the JSON, then the connection goes without a final chunk.
        os.write(body, 0, body.length / 2);
        os.flush();
        throw new CloseConnectionException("simulated disconnect (fault injection)");
      }
      os.write(body);
      os.close();
    } catch (IOException | UncheckedIOException e) {
      runner.cancel(live); // the client went away while waiting; routine
    } catch (ServerConnectionException e) {
      runner.cancel(live);
      throw e;
    }
  }

  private void stream(ServerResponse res, Call call, EngineRunner.Live live, boolean disconnect)
      throws InterruptedException {
    res.header(HeaderNames.CONTENT_TYPE, "text/event-stream");
    res.header(HeaderNames.CACHE_CONTROL, "no-cache");
    OutputStream os = null;
    int sent = 0;
    long idleSince = System.nanoTime();
    try {
      os = res.outputStream();
      while (true) {
        int emitted = live.awaitBeyond(sent, keepAliveNanos);
        if (emitted > sent) {
          idleSince = System.nanoTime();
          StringBuilder b = new StringBuilder(256 * (emitted - sent));
          for (int i = sent; i < emitted; i++) {
            // Only chat streams open with a role delta; legacy completions start with text.
            if (i == 0 && call.chat()) chunk(b, call, "{\"role\":\"assistant\",\"content\":\"\"}", null);
            if (disconnect && i == config.faults().disconnectAfterTokens()) break;
            tokenChunk(b, call, i);
          }
          os.write(b.toString().getBytes(StandardCharsets.UTF_8));
          os.flush();
          if (disconnect && emitted >= config.faults().disconnectAfterTokens()) {
            runner.cancel(live);
            throw new CloseConnectionException("simulated disconnect (fault injection)");
          }
          sent = emitted;
          continue;
        }
        if (live.ended()) break;
        if (runner.isClosed() || System.nanoTime() - idleSince > STALL_LIMIT_NANOS) {
          runner.cancel(live);
          throw new CloseConnectionException("sequence stalled or server closing");
        }
        os.write(KEEP_ALIVE);
        os.flush();
      }
      if (!finished(live, call)) {
        throw new CloseConnectionException("sequence cancelled");
      }
      StringBuilder b = new StringBuilder(512);
      chunk(b, call, "{}", call.finishReason());
      if (call.includeUsage()) {
        b.append("data: {\"id\":\"").append(call.id()).append("\",\"object\":\"")
            .append(call.chat() ? "chat.completion.chunk" : "text_completion")
            .append("\",\"created\":").append(call.created()).append(",\"model\":\"")
            .append(call.modelJson()).append("\",\"choices\":[],\"usage\":");
        usage(b, call, live.cachedTokens());
        b.append("}\n\n");
      }
      os.write(b.toString().getBytes(StandardCharsets.UTF_8));
      os.write(DONE);
      os.close();
    } catch (IOException | UncheckedIOException e) {
      // The client went away: routine, so no error log; free the engine slot at once.
      runner.cancel(live);
    } catch (ServerConnectionException e) {
      // Helidon's form of the same (a broken pipe while writing a chunk); it closes the connection.
      runner.cancel(live);
      throw e;
    }
  }

  private static boolean finished(EngineRunner.Live live, Call call) throws InterruptedException {
    return live.awaitBeyond(call.outputTokens() - 1, 0) >= call.outputTokens();
  }

  private void sleepScaledMillis(long millis) throws InterruptedException {
    long nanos = (long) (TimeUnit.MILLISECONDS.toNanos(millis) / config.timeScale());
    TimeUnit.NANOSECONDS.sleep(nanos);
  }

  // ---- request parsing

  /** Everything about one accepted request. */
  private record Call(
      boolean chat,
      String modelJson,
      boolean reasoner,
      boolean stream,
      boolean includeUsage,
      String id,
      long created,
      SequenceRequest sequence,
      int outputTokens,
      String finishReason,
      TextGenerator text) {
    int promptTokens() {
      return sequence.promptTokenIds().length;
    }

    /** Tokens [0, reasoningTokens) are reasoning_content (DeepSeek's reasoner streams it first). */
    int reasoningTokens() {
      return reasoner ? outputTokens / 3 : 0;
    }
  }

  private Call parse(byte[] body, boolean chat) {
    JsonNode root;
    try {
      root = json.readTree(body);
    } catch (JsonProcessingException e) {
      throw SimHttpException.badRequest(null, "malformed JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw SimHttpException.badRequest(null, "unreadable body");
    }
    if (root == null || !root.isObject()) {
      throw SimHttpException.badRequest(null, "the body must be a JSON object");
    }
    JsonNode modelNode = root.get("model");
    if (modelNode == null || !modelNode.isTextual()) {
      throw SimHttpException.badRequest("model", "'model' is required and must be a string");
    }
    String model = modelNode.textValue();
    if (!config.models().contains(model)) {
      throw new SimHttpException(404, "invalid_request_error", "model_not_found", "model",
          "The model '" + model + "' does not exist; served: " + String.join(", ", config.models()));
    }
    JsonNode n = root.get("n");
    if (n != null && !n.isNull() && !(n.isIntegralNumber() && n.asInt() == 1)) {
      throw SimHttpException.badRequest("n", "only n = 1 is supported");
    }
    int[] prompt = chat ? chatPrompt(root) : legacyPrompt(root);
    boolean stream = bool(root, "stream");
    JsonNode opts = root.get("stream_options");
    boolean includeUsage = stream && opts != null && opts.isObject() && bool(opts, "include_usage");

    int maxModelLen = runner.profile().maxModelLenTokens();
    Integer maxTokens = optionalInt(root, "max_completion_tokens", 1, maxModelLen);
    if (maxTokens == null) maxTokens = optionalInt(root, "max_tokens", 1, maxModelLen);
    if (maxTokens == null && !chat) maxTokens = DEFAULT_LEGACY_MAX_TOKENS;
    Integer minTokens = optionalInt(root, "min_tokens", 0, maxModelLen);
    boolean ignoreEos = bool(root, "ignore_eos");
    JsonNode seedNode = root.get("seed");
    long seed = config.seed();
    if (seedNode != null && !seedNode.isNull()) {
      if (!seedNode.isIntegralNumber() || !seedNode.canConvertToLong()) {
        throw SimHttpException.badRequest("seed", "'seed' must be an integer");
      }
      seed = seedNode.longValue();
    }
    TextGenerator text = new TextGenerator(seed, prompt);

    int wanted = Math.max(text.naturalLength(), minTokens == null ? 0 : minTokens);
    int output;
    String finish;
    if (ignoreEos && maxTokens != null) {
      output = maxTokens;
      finish = "length";
    } else if (maxTokens != null && wanted >= maxTokens) {
      output = maxTokens;
      finish = wanted == maxTokens && !ignoreEos ? "stop" : "length";
    } else {
      output = wanted;
      finish = "stop";
    }
    // Reserve what the client allows; without max_tokens the sim knows the EOS point, so it
    // reserves just that (a real server would reserve up to the model length).
    int reserve = maxTokens == null ? output : maxTokens;
    if (prompt.length + reserve > maxModelLen) {
      throw SimHttpException.badRequest("max_tokens",
          "prompt (" + prompt.length + " tokens) + max_tokens (" + reserve
              + ") exceeds the model length of " + maxModelLen + " tokens");
    }
    long created = clock.instant().getEpochSecond();
    String id = (chat ? "chatcmpl-" : "cmpl-") + idSuffix();
    return new Call(chat, jsonEscape(model), chat && model.contains("reasoner"), stream,
        includeUsage, id, created, new SequenceRequest(prompt, output, reserve), output, finish, text);
  }

  private int[] chatPrompt(JsonNode root) {
    JsonNode messages = root.get("messages");
    if (messages == null || !messages.isArray() || messages.isEmpty()) {
      throw SimHttpException.badRequest("messages", "'messages' must be a non-empty array");
    }
    List<Tokenizer.Message> list = new ArrayList<>(messages.size());
    for (JsonNode m : messages) {
      JsonNode role = m.get("role");
      if (role == null || !role.isTextual()) {
        throw SimHttpException.badRequest("messages", "every message needs a string 'role'");
      }
      list.add(new Tokenizer.Message(role.textValue(), content(m.get("content"))));
    }
    return Tokenizer.renderChat(list);
  }

  private static String content(@Nullable JsonNode content) {
    if (content == null || content.isNull()) return "";
    if (content.isTextual()) return content.textValue();
    if (content.isArray()) {
      StringBuilder b = new StringBuilder();
      for (JsonNode part : content) {
        JsonNode t = part.get("text");
        if (t != null && t.isTextual()) b.append(t.textValue());
      }
      return b.toString();
    }
    throw SimHttpException.badRequest("messages", "'content' must be a string or an array of parts");
  }

  private static int[] legacyPrompt(JsonNode root) {
    JsonNode p = root.get("prompt");
    String text;
    if (p != null && p.isTextual()) {
      text = p.textValue();
    } else if (p != null && p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
      text = p.get(0).textValue();
    } else {
      throw SimHttpException.badRequest("prompt", "'prompt' must be a string or an array of one string");
    }
    int[] ids = Tokenizer.tokenize(text);
    if (ids.length == 0) throw SimHttpException.badRequest("prompt", "'prompt' must not be empty");
    return ids;
  }

  private static boolean bool(JsonNode node, String field) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) return false;
    if (!v.isBoolean()) throw SimHttpException.badRequest(field, "'" + field + "' must be a boolean");
    return v.booleanValue();
  }

  private static @Nullable Integer optionalInt(JsonNode node, String field, int min, int max) {
    JsonNode v = node.get(field);
    if (v == null || v.isNull()) return null;
    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < min || v.intValue() > max) {
      throw SimHttpException.badRequest(field,
          "'" + field + "' must be an integer in [" + min + ", " + max + "]");
    }
    return v.intValue();
  }

  private void authenticate(ServerRequest req) {
    if (apiKey == null) return;
    String header = req.headers().first(HeaderNames.AUTHORIZATION).orElse("");
    byte[] given =
        header.startsWith("Bearer ")
            ? header.substring(7).trim().getBytes(StandardCharsets.UTF_8)
            : new byte[0];
    if (!MessageDigest.isEqual(given, apiKey)) {
      throw new SimHttpException(401, "invalid_request_error", "invalid_api_key", null,
          "Incorrect API key provided");
    }
  }

  // ---- rendering (by hand: the shapes are fixed and this is the hot path of the instant profile)

  private String renderWhole(Call call, int cachedTokens) {
    StringBuilder b = new StringBuilder(512 + call.outputTokens() * 10);
    b.append("{\"id\":\"").append(call.id()).append("\",\"object\":\"")
        .append(call.chat() ? "chat.completion" : "text_completion")
        .append("\",\"created\":").append(call.created())
        .append(",\"model\":\"").append(call.modelJson()).append("\",\"choices\":[{\"index\":0,");
    int r = call.reasoningTokens();
    if (call.chat()) {
      b.append("\"message\":{\"role\":\"assistant\",\"content\":\"");
      for (int i = r; i < call.outputTokens(); i++) b.append(call.text().token(i));
      b.append('"');
      if (call.reasoner()) {
        b.append(",\"reasoning_content\":\"");
        for (int i = 0; i < r; i++) b.append(call.text().token(i));
        b.append('"');
      }
      b.append("},");
    } else {
      b.append("\"text\":\"");
      for (int i = 0; i < call.outputTokens(); i++) b.append(call.text().token(i));
      b.append("\",");
    }
    b.append("\"logprobs\":null,\"finish_reason\":\"").append(call.finishReason())
        .append("\"}],\"usage\":");
    usage(b, call, cachedTokens);
    return b.append('}').toString();
  }

  private static void usage(StringBuilder b, Call call, int cachedTokens) {
    int prompt = call.promptTokens();
    b.append("{\"prompt_tokens\":").append(prompt)
        .append(",\"completion_tokens\":").append(call.outputTokens())
        .append(",\"total_tokens\":").append(prompt + call.outputTokens())
        .append(",\"prompt_tokens_details\":{\"cached_tokens\":").append(cachedTokens).append('}');
    if (call.reasoner()) {
      b.append(",\"completion_tokens_details\":{\"reasoning_tokens\":")
          .append(call.reasoningTokens()).append('}');
    }
    b.append(",\"prompt_cache_hit_tokens\":").append(cachedTokens)
        .append(",\"prompt_cache_miss_tokens\":").append(prompt - cachedTokens).append('}');
  }

  private static void tokenChunk(StringBuilder b, Call call, int i) {
    String word = call.text().token(i);
    if (!call.chat()) {
      chunk(b, call, "\"" + word + "\"", null);
    } else if (i < call.reasoningTokens()) {
      chunk(b, call, "{\"content\":null,\"reasoning_content\":\"" + word + "\"}", null);
    } else {
      chunk(b, call, "{\"content\":\"" + word + "\"}", null);
    }
  }

  /** One SSE event; for chat {@code payload} is the delta object, for legacy the text literal. */
  private static void chunk(StringBuilder b, Call call, String payload, @Nullable String finish) {
    b.append("data: {\"id\":\"").append(call.id()).append("\",\"object\":\"")
        .append(call.chat() ? "chat.completion.chunk" : "text_completion")
        .append("\",\"created\":").append(call.created())
        .append(",\"model\":\"").append(call.modelJson()).append("\",\"choices\":[{\"index\":0,");
    if (call.chat()) {
      b.append("\"delta\":").append(payload);
    } else {
      b.append("\"text\":").append(finish == null ? payload : "\"\"");
    }
    b.append(",\"logprobs\":null,\"finish_reason\":");
    if (finish == null) b.append("null"); else b.append('"').append(finish).append('"');
    b.append("}]");
    if (call.includeUsage()) b.append(",\"usage\":null");
    b.append("}\n\n");
  }

  private String renderModels() {
    StringBuilder b = new StringBuilder("{\"object\":\"list\",\"data\":[");
    long created = clock.instant().getEpochSecond();
    for (int i = 0; i < config.models().size(); i++) {
      if (i > 0) b.append(',');
      b.append("{\"id\":\"").append(jsonEscape(config.models().get(i)))
          .append("\",\"object\":\"model\",\"created\":").append(created)
          .append(",\"owned_by\":\"jevons-sim\"}");
    }
    return b.append("]}").toString();
  }

  static String errorBody(SimHttpException e) {
    StringBuilder b = new StringBuilder(256);
    b.append("{\"error\":{\"message\":\"").append(jsonEscape(String.valueOf(e.getMessage())))
        .append("\",\"type\":\"").append(e.type).append("\",\"param\":");
    if (e.param == null) b.append("null"); else b.append('"').append(e.param).append('"');
    return b.append(",\"code\":\"").append(e.code).append("\"}}").toString();
  }

  private static void sendError(ServerResponse res, SimHttpException e) {
    sendJson(res, e.status, errorBody(e));
  }

  private static void sendJson(ServerResponse res, int status, String body) {
    res.status(status);
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    res.send(body.getBytes(StandardCharsets.UTF_8));
  }

  private String idSuffix() {
    long r = PrefixCache.mix(config.seed() ^ PrefixCache.mix(ids.incrementAndGet()));
    String hex = Long.toHexString(r);
    return "0".repeat(16 - hex.length()) + hex;
  }

  static String jsonEscape(String s) {
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      String rep =
          switch (c) {
            case '"' -> "\\\"";
            case '\\' -> "\\\\";
            case '\n' -> "\\n";
            case '\r' -> "\\r";
            case '\t' -> "\\t";
            default -> c < 0x20 ? String.format("\\u%04x", (int) c) : null;
          };
      if (rep != null && b == null) b = new StringBuilder(s.length() + 16).append(s, 0, i);
      if (b != null) {
        if (rep != null) b.append(rep); else b.append(c);
      }
    }
    return b == null ? s : b.toString();
  }
}
