package dev.jevons.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.jspecify.annotations.Nullable;

/**
 * The demo's HTTP side: every operator and customer action goes through Jevons' real API on a real
 * socket (JDK HttpClient, HTTP/1.1, one virtual thread per exchange). Operator calls that answer
 * anything but the expected status throw {@link DemoFailure}: the demo stops rather than carry on
 * with a step that did not happen.
 */
final class DemoHttp implements AutoCloseable {
  static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);

  /** A plain answer: status, body, and the {@code Retry-After} header in seconds when there was one. */
  record Answer(int status, String body, OptionalLong retryAfterSeconds) {
    /** The OpenAI-shaped error code of an error answer, or "" when there is none. */
    String errorCode(ObjectMapper json) {
      try {
        return json.readTree(body).path("error").path("code").asText("");
      } catch (JsonProcessingException e) {
        return "";
      }
    }
  }

  /** What one streamed chat completion came to. */
  record Chat(Outcome outcome, int status, long ttftNanos, long completionTokens, String detail) {}

  enum Outcome {
    /** Completed with a usage chunk and [DONE]. */
    OK,
    /** 503 server_overloaded at arrival: shed early, before any prefill. */
    SHED,
    /** A 200 stream that waited in the queue and was shed at its deadline (an in-stream server_overloaded error). */
    SHED_LATE,
    /** 402 insufficient_balance. */
    NO_BALANCE,
    /** 429 rate_limit_exceeded. */
    RATE_LIMITED,
    /** Anything else: a failure of the system under test, counted and reported. */
    ERROR
  }

  private final URI base;
  private final String adminToken;
  private final ObjectMapper json;
  private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
  private final HttpClient http;

  DemoHttp(URI base, String adminToken, ObjectMapper json) {
    this.base = base;
    this.adminToken = adminToken;
    this.json = json;
    this.http =
        HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).executor(executor).build();
  }

  ObjectMapper json() {
    return json;
  }

  ObjectNode object() {
    return json.createObjectNode();
  }

  /** An operator call that must answer {@code expected}; its JSON answer. */
  JsonNode admin(String method, String path, @Nullable JsonNode body, int expected) {
    Answer a = send(method, path, adminToken, body == null ? null : body.toString());
    if (a.status() != expected) {
      throw new DemoFailure(method + " " + path + " answered " + a.status() + " (expected " + expected + "): " + abbreviate(a.body()));
    }
    return parse(method + " " + path, a.body());
  }

  /** Any call, any answer; {@code bearer} may be null (public routes). */
  Answer send(String method, String path, @Nullable String bearer, @Nullable String body) {
    HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(ADMIN_TIMEOUT);
    if (bearer != null) {
      b.header("Authorization", "Bearer " + bearer);
    }
    if (body != null) {
      b.header("Content-Type", "application/json");
    }
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    try {
      HttpResponse<String> res = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
      return new Answer(res.statusCode(), res.body(), retryAfter(res));
    } catch (IOException e) {
      throw new DemoFailure(method + " " + path + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DemoFailure(method + " " + path + " was interrupted", e);
    }
  }

  /**
   * A streamed chat completion (OpenAI SSE), read to its end or cut at {@code cutAtNanos} (the
   * client gives up). TTFT is from sending to the first content chunk.
   */
  Chat chat(String key, String body, long cutAtNanos) {
    return chat(base.resolve("/v1/chat/completions"), key, body, cutAtNanos);
  }

  /** The same against any OpenAI-compatible URL (the simulator, to measure the fleet); {@code key} may be null. */
  Chat chat(URI url, @Nullable String key, String body, long cutAtNanos) {
    long t0 = System.nanoTime();
    HttpRequest.Builder b =
        HttpRequest.newBuilder(url)
            .timeout(Duration.ofNanos(Math.max(1_000_000, cutAtNanos - t0)))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body));
    if (key != null) {
      b.header("Authorization", "Bearer " + key);
    }
    HttpRequest req = b.build();
    long first = -1;
    long tokens = -1;
    try {
      HttpResponse<InputStream> res = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
      try (InputStream in = res.body()) {
        if (res.statusCode() != 200) {
          String text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
          Answer a = new Answer(res.statusCode(), text, OptionalLong.empty());
          return new Chat(classify(res.statusCode(), a.errorCode(json)), res.statusCode(), -1, 0, abbreviate(text));
        }
        BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
        for (String line = reader.readLine(); line != null; line = reader.readLine()) {
          if (!line.startsWith("data: ")) {
            continue; // keep-alive comments while queued, blank separators
          }
          if (line.equals("data: [DONE]")) {
            if (first < 0 || tokens < 0) {
              return new Chat(Outcome.ERROR, 200, first < 0 ? -1 : first - t0, Math.max(0, tokens), "stream ended without content or usage");
            }
            return new Chat(Outcome.OK, 200, first - t0, tokens, "");
          }
          JsonNode event = json.readTree(line.substring(6));
          if (event.has("error")) {
            String code = event.path("error").path("code").asText("");
            // Shed at the queue deadline after the 200 (the stream had only keep-alives so far).
            Outcome o = first < 0 && code.equals("server_overloaded") ? Outcome.SHED_LATE : Outcome.ERROR;
            return new Chat(o, 200, first < 0 ? -1 : first - t0, Math.max(0, tokens), code + ": " + event.path("error").path("message").asText(""));
          }
          JsonNode choices = event.path("choices");
          if (first < 0 && choices.isArray() && !choices.isEmpty() && !choices.get(0).path("delta").path("content").asText("").isEmpty()) {
            first = System.nanoTime();
          }
          JsonNode usage = event.path("usage");
          if (usage.isObject()) {
            tokens = usage.path("completion_tokens").asLong(0);
          }
        }
        return new Chat(Outcome.ERROR, 200, first < 0 ? -1 : first - t0, Math.max(0, tokens), "stream closed without [DONE]");
      }
    } catch (HttpTimeoutException e) {
      return new Chat(Outcome.ERROR, 0, first < 0 ? -1 : first - t0, 0, "cut by the client after " + Duration.ofNanos(cutAtNanos - t0).toMillis() + " ms");
    } catch (IOException e) {
      return new Chat(Outcome.ERROR, 0, first < 0 ? -1 : first - t0, 0, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Chat(Outcome.ERROR, 0, -1, 0, "interrupted");
    }
  }

  static Outcome classify(int status, String code) {
    return switch (status) {
      case 402 -> Outcome.NO_BALANCE;
      case 429 -> Outcome.RATE_LIMITED;
      case 503 -> code.equals("server_overloaded") ? Outcome.SHED : Outcome.ERROR;
      default -> Outcome.ERROR;
    };
  }

  JsonNode parse(String what, String body) {
    try {
      return json.readTree(body);
    } catch (JsonProcessingException e) {
      throw new DemoFailure(what + " answered something that is not JSON: " + abbreviate(body), e);
    }
  }

  private static OptionalLong retryAfter(HttpResponse<?> res) {
    return res.headers().firstValue("Retry-After").map(v -> {
      try {
        return OptionalLong.of(Long.parseLong(v.trim()));
      } catch (NumberFormatException e) {
        return OptionalLong.empty();
      }
    }).orElse(OptionalLong.empty());
  }

  static String abbreviate(String s) {
    String one = s.replace('\n', ' ').strip();
    return one.length() <= 300 ? one : one.substring(0, 300) + "...";
  }

  /** Values of the Prometheus text format lines named {@code metric}, summed over their labels. */
  static double sumMetric(String text, String metric) {
    double sum = 0;
    boolean seen = false;
    for (String line : text.split("\n")) {
      if (line.startsWith("#") || !(line.startsWith(metric + "{") || line.startsWith(metric + " "))) {
        continue;
      }
      String[] parts = line.trim().split("\\s+");
      String value = line.contains("}") ? line.substring(line.lastIndexOf('}') + 1).trim().split("\\s+")[0] : parts[1];
      try {
        double v = Double.parseDouble(value);
        if (!Double.isNaN(v)) {
          sum += v;
          seen = true;
        }
      } catch (NumberFormatException e) {
        // Not a sample line of this metric.
      }
    }
    return seen ? sum : Double.NaN;
  }

  @Override
  public void close() {
    // Requests still open are cut: the demo is over.
    http.shutdownNow();
    executor.shutdownNow();
  }
}
