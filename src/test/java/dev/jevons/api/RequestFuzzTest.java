package dev.jevons.api;

import dev.jevons.TestApps;
import dev.jevons.TestFunds;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jevons.cli.JevonsApp;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.Set;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Example;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Whatever bytes arrive as a chat request, Jevons answers below 500, and every rejection has the
 * documented error shape. A mutated body that happens to be valid may be served (2xx).
 */
class RequestFuzzTest {
  static final String CHAT = "/v1/chat/completions";
  static final String VALID =
      "{\"model\":\"sim-chat\",\"max_tokens\":4,\"stream\":false,\"temperature\":0.5,"
          + "\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}";
  static final List<String> FIELDS =
      List.of(
          "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "min_tokens",
          "temperature", "top_p", "n", "stop", "seed", "presence_penalty", "frequency_penalty", "prompt", "user",
          "tools", "logprobs");
  static final ObjectMapper JSON = new ObjectMapper();

  static Path dataDir;
  static JevonsApp app;
  static ApiClient api;
  static String key;

  @BeforeContainer
  static void start() throws IOException {
    dataDir = Files.createTempDirectory("jevons-fuzz");
    app =
        JevonsApp.start(
            TestApps.instant(dataDir)
                .override("server.access_log", "false")
                .load());
    api = new ApiClient(app.port());
    key = app.accounts().issueKey(TestFunds.fund(app, app.accounts().createAccount("fuzz").id()), "k", Set.of(), null).secret();
  }

  @AfterContainer
  static void stop() throws IOException {
    if (app != null) {
      app.close();
    }
    try (Stream<Path> files = Files.walk(dataDir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  private static void assertAnsweredCleanly(byte[] body) {
    HttpResponse<String> res = api.post(CHAT, key, body);
    assertThat(res.statusCode())
        .as("status for body %s; answer %s", preview(body), res.body())
        .isLessThan(500);
    if (res.statusCode() >= 300) {
      ApiClient.assertErrorShape(res);
    }
  }

  private static String preview(byte[] body) {
    String s = new String(body, StandardCharsets.UTF_8);
    return s.length() > 300 ? s.substring(0, 300) + "...(" + body.length + " bytes)" : s;
  }

  @Property(tries = 200)
  void random_bytes_are_rejected_cleanly(@ForAll("noise") byte[] body) {
    assertAnsweredCleanly(body);
  }

  @Property(tries = 300)
  void mutated_valid_bodies_are_answered_cleanly(@ForAll("mutatedBodies") byte[] body) {
    assertAnsweredCleanly(body);
  }

  @Property(tries = 300)
  void any_json_value_in_any_known_field_is_answered_cleanly(
      @ForAll("fields") String field, @ForAll("jsonValues") String value) {
    // Spliced as text, not through a JSON tree, so that values a parser refuses still get sent.
    Map<String, String> body = new LinkedHashMap<>();
    body.put("model", "\"sim-chat\"");
    body.put("max_tokens", "4");
    body.put("messages", "[{\"role\":\"user\",\"content\":\"hello there\"}]");
    if (field.equals("messages.content")) {
      body.put("messages", "[{\"role\":\"user\",\"content\":" + value + "}]");
    } else {
      body.put(field, value);
    }
    StringJoiner json = new StringJoiner(",", "{", "}");
    body.forEach((k, v) -> json.add("\"" + k + "\":" + v));
    assertAnsweredCleanly(json.toString().getBytes(StandardCharsets.UTF_8));
  }

  @Property(tries = 200)
  void any_json_value_in_any_admin_field_is_answered_cleanly(
      @ForAll("adminFields") String field, @ForAll("jsonValues") String value) {
    String account = app.accounts().createAccount("fuzz-admin").id();
    String body = "{\"" + field + "\":" + value + "}";
    for (String path : List.of("/admin/v1/accounts", "/admin/v1/accounts/" + account + "/keys")) {
      HttpResponse<String> res = api.post(path, app.adminToken(), body);
      assertThat(res.statusCode()).as("status for %s on %s; answer %s", body.length() > 300 ? body.substring(0, 300) : body, path, res.body())
          .isLessThan(500);
      if (res.statusCode() >= 300) {
        ApiClient.assertErrorShape(res);
      }
    }
  }

  @Provide
  Arbitrary<String> adminFields() {
    return Arbitraries.of("name", "models", "expires_at", "status");
  }

  @Example
  void a_deeply_nested_value_is_rejected_cleanly() {
    String deep = "[".repeat(100_000) + "]".repeat(100_000);
    assertAnsweredCleanly(("{\"model\":\"sim-chat\",\"messages\":" + deep + "}").getBytes(StandardCharsets.UTF_8));
  }

  @Example
  void a_huge_number_is_rejected_cleanly() {
    String huge = "9".repeat(200_000);
    assertAnsweredCleanly(
        ("{\"model\":\"sim-chat\",\"max_tokens\":" + huge + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
            .getBytes(StandardCharsets.UTF_8));
    assertAnsweredCleanly(
        ("{\"model\":\"sim-chat\",\"temperature\":1e99999,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
            .getBytes(StandardCharsets.UTF_8));
  }

  @Example
  void a_very_long_model_name_is_rejected_cleanly() {
    assertAnsweredCleanly(
        ("{\"model\":\"" + "m".repeat(1_000_000) + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")
            .getBytes(StandardCharsets.UTF_8));
  }

  @Example
  void the_server_is_healthy_after_the_fuzzing() {
    assertThat(api.get("/health", null).statusCode()).isEqualTo(200);
  }

  @Provide
  Arbitrary<byte[]> noise() {
    Arbitrary<byte[]> raw = Arbitraries.bytes().array(byte[].class).ofMaxSize(2000);
    Arbitrary<byte[]> jsonish =
        Arbitraries.strings().withChars("{}[]\":,0123456789.-+eEtrufalsn \\u").ofMaxLength(500)
            .map(s -> s.getBytes(StandardCharsets.UTF_8));
    return Arbitraries.oneOf(raw, jsonish);
  }

  @Provide
  Arbitrary<String> fields() {
    return Arbitraries.oneOf(Arbitraries.of(FIELDS), Arbitraries.just("messages.content"));
  }

  @Provide
  Arbitrary<String> jsonValues() {
    Arbitrary<String> scalars =
        Arbitraries.of(
            "null", "true", "false", "0", "-0", "1", "-1", "2", "4", "1.5", "-1.5", "0.0", "1e3", "1E-7",
            "1048577", "2147483648", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
            "99999999999999999999999999", "1e308", "-1e308", "1e-400", "\"\"", "\"10\"", "\"yes\"", "\"sim-chat\"",
            "\"user\"", "\"\\u0000\"", "\"\\ud800\"", "{}", "[]", "[null]", "[1,2,3]", "[\"a\",\"b\",\"c\",\"d\",\"e\"]",
            "{\"include_usage\":\"yes\"}", "{\"include_usage\":true}", "[{\"role\":\"user\"}]",
            "[{\"role\":\"wizard\",\"content\":\"x\"}]", "[{\"role\":\"user\",\"content\":[1]}]",
            "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":7}]}]", "[[[[[[[[[[]]]]]]]]]]");
    Arbitrary<String> ints = Arbitraries.longs().between(-20, 20).map(String::valueOf);
    Arbitrary<String> strings =
        Arbitraries.strings().all().ofMaxLength(50).map(s -> {
          try {
            return JSON.writeValueAsString(s);
          } catch (IOException e) {
            throw new IllegalStateException(e);
          }
        });
    Arbitrary<String> longString = Arbitraries.integers().between(1_000, 200_000).map(n -> "\"" + "x".repeat(n) + "\"");
    Arbitrary<String> nested = Arbitraries.integers().between(1, 2_000).map(n -> "[".repeat(n) + "]".repeat(n));
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(6, scalars),
        net.jqwik.api.Tuple.of(2, ints),
        net.jqwik.api.Tuple.of(2, strings),
        net.jqwik.api.Tuple.of(1, longString),
        net.jqwik.api.Tuple.of(1, nested));
  }

  @Provide
  Arbitrary<byte[]> mutatedBodies() {
    byte[] valid = VALID.getBytes(StandardCharsets.UTF_8);
    Arbitrary<Integer> at = Arbitraries.integers().between(0, valid.length);
    Arbitrary<byte[]> truncated = at.map(i -> java.util.Arrays.copyOf(valid, i));
    Arbitrary<byte[]> flipped =
        Combinators.combine(at.list().ofMinSize(1).ofMaxSize(5), Arbitraries.bytes())
            .as((positions, b) -> {
              byte[] copy = valid.clone();
              for (int p : positions) {
                copy[Math.min(p, copy.length - 1)] ^= (byte) (b == 0 ? 1 : b);
              }
              return copy;
            });
    Arbitrary<byte[]> inserted =
        Combinators.combine(at, jsonValues().map(s -> s.getBytes(StandardCharsets.UTF_8)))
            .as((p, snippet) -> {
              byte[] out = new byte[valid.length + snippet.length];
              System.arraycopy(valid, 0, out, 0, p);
              System.arraycopy(snippet, 0, out, p, snippet.length);
              System.arraycopy(valid, p, out, p + snippet.length, valid.length - p);
              return out;
            });
    Arbitrary<byte[]> deleted =
        Combinators.combine(at, Arbitraries.integers().between(1, 20))
            .as((p, n) -> {
              int end = Math.min(valid.length, p + n);
              byte[] out = new byte[valid.length - (end - p)];
              System.arraycopy(valid, 0, out, 0, p);
              System.arraycopy(valid, end, out, p, valid.length - end);
              return out;
            });
    return Arbitraries.oneOf(truncated, flipped, inserted, deleted);
  }
}
