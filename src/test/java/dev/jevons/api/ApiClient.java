package dev.jevons.api;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A JDK HttpClient bound to one running Jevons, with the assertions every error test shares: the
 * status, and the documented body {@code {"error":{"message","type","param","code"}}}.
 */
final class ApiClient {
  static final Duration TIMEOUT = Duration.ofSeconds(10);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final HttpClient http =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(TIMEOUT).build();
  private final URI base;

  ApiClient(int port) {
    this.base = URI.create("http://127.0.0.1:" + port);
  }

  HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(base.resolve(path)).timeout(TIMEOUT);
  }

  HttpResponse<String> send(HttpRequest request) {
    try {
      return http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new AssertionError("request to " + request.uri() + " failed: " + e, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  HttpResponse<String> post(String path, String bearer, byte[] body) {
    HttpRequest.Builder b =
        request(path).header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body));
    if (bearer != null) {
      b.header("Authorization", "Bearer " + bearer);
    }
    return send(b.build());
  }

  HttpResponse<String> post(String path, String bearer, String body) {
    return post(path, bearer, body.getBytes(StandardCharsets.UTF_8));
  }

  HttpResponse<String> get(String path, String bearer) {
    HttpRequest.Builder b = request(path).GET();
    if (bearer != null) {
      b.header("Authorization", "Bearer " + bearer);
    }
    return send(b.build());
  }

  /** Asserts the status and the error shape; returns the "error" object for further checks. */
  static JsonNode assertError(HttpResponse<String> res, int status, String code) {
    assertThat(res.statusCode()).as("status of %s; body %s", res.request().uri(), res.body()).isEqualTo(status);
    JsonNode error = assertErrorShape(res);
    assertThat(error.get("code").asText()).as("code in %s", res.body()).isEqualTo(code);
    return error;
  }

  /** Asserts only the documented shape: an object "error" with exactly the four members. */
  static JsonNode assertErrorShape(HttpResponse<String> res) {
    assertThat(res.headers().firstValue("content-type")).as("content type of %s", res.body()).hasValueSatisfying(
        ct -> assertThat(ct).startsWith("application/json"));
    JsonNode root;
    try {
      root = JSON.readTree(res.body());
    } catch (IOException e) {
      throw new AssertionError("error body is not JSON: " + res.body(), e);
    }
    assertThat(root.isObject()).as("body %s", res.body()).isTrue();
    JsonNode error = root.get("error");
    assertThat(error).as("'error' in %s", res.body()).isNotNull();
    assertThat(error.isObject()).as("'error' in %s", res.body()).isTrue();
    assertThat(error.get("message")).as("message in %s", res.body()).isNotNull();
    assertThat(error.get("message").isTextual()).isTrue();
    assertThat(error.get("message").asText()).isNotBlank().doesNotContain("Exception").doesNotContain("\tat ");
    assertThat(error.get("type")).as("type in %s", res.body()).isNotNull();
    assertThat(error.get("type").isTextual()).isTrue();
    assertThat(error.has("param")).as("param in %s", res.body()).isTrue();
    assertThat(error.get("param").isNull() || error.get("param").isTextual()).isTrue();
    assertThat(error.get("code")).as("code in %s", res.body()).isNotNull();
    assertThat(error.get("code").isTextual()).isTrue();
    return error;
  }
}
