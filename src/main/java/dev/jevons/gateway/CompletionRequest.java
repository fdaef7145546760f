package dev.jevons.gateway;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.io.JsonEOFException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.CharConversionException;
import java.io.IOException;
import dev.jevons.scheduler.PromptPrefix;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * A generation request, parsed and checked before any upstream work. Fields Jevons does not look
 * at pass through unchanged: the upstream is the authority on sampling parameters it supports.
 *
 * <p>Errors: a value that breaks OpenAI's schema (wrong type, below a minimum) is a 400 naming
 * the parameter, as OpenAI answers; a well-formed value that cannot be honoured (e.g. {@code
 * min_tokens} above {@code max_tokens}) is a 422.
 */
public record CompletionRequest(
    Endpoint endpoint,
    String model,
    boolean stream,
    boolean includeUsage,
    @Nullable Long maxTokens,
    int choices,
    long promptChars,
    long promptBytes,
    int promptParts,
    ObjectNode body) {

  static final long MAX_OUTPUT_TOKENS = 1L << 20;
  private static final int MAX_MESSAGES = 100_000;
  private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool", "function");

  static CompletionRequest parse(Endpoint endpoint, byte[] raw, ObjectMapper json) {
    if (raw.length == 0) {
      throw GatewayException.invalid(null, "The request body is empty; expected a JSON object.");
    }
    JsonNode root;
    try {
      root = json.readTree(raw);
    } catch (CharConversionException e) {
      throw GatewayException.invalid(null, "The request body is not valid UTF-8.");
    } catch (JsonEOFException e) {
      throw GatewayException.invalid(null, "The request body is not valid JSON: it ends in the middle of a value.");
    } catch (JsonParseException e) {
      String msg = e.getOriginalMessage();
      if (msg != null && (msg.contains("UTF-8") || msg.contains("UTF8") || msg.contains("surrogate"))) {
        throw GatewayException.invalid(null, "The request body is not valid UTF-8.");
      }
      throw GatewayException.invalid(
          null,
          "The request body is not valid JSON (line " + e.getLocation().getLineNr() + ", column "
              + e.getLocation().getColumnNr() + "): " + firstLine(msg));
    } catch (JsonProcessingException e) {
      throw GatewayException.invalid(null, "The request body is not valid JSON: " + firstLine(e.getOriginalMessage()));
    } catch (IOException e) {
      throw GatewayException.invalid(null, "The request body could not be read: " + e.getMessage());
    }
    if (root == null || !root.isObject()) {
      throw GatewayException.invalid(null, "The request body must be a JSON object.");
    }
    ObjectNode body = (ObjectNode) root;

    String model = requiredString(body, "model");
    if (model.length() > 256) {
      throw GatewayException.invalid("model", "'model' is longer than 256 characters.");
    }
    boolean stream = optionalBoolean(body, "stream", false);
    boolean includeUsage = false;
    JsonNode options = body.get("stream_options");
    if (options != null && !options.isNull()) {
      if (!options.isObject()) {
        throw GatewayException.invalid("stream_options", "'stream_options' must be an object.");
      }
      if (!stream) {
        throw GatewayException.invalid("stream_options", "'stream_options' is only allowed when 'stream' is true.");
      }
      includeUsage = optionalBoolean((ObjectNode) options, "include_usage", false);
    }

    Long maxTokens = optionalPositive(body, "max_tokens");
    Long maxCompletion = optionalPositive(body, "max_completion_tokens");
    if (maxCompletion != null) {
      maxTokens = maxCompletion;
    }
    if (maxTokens != null && maxTokens > MAX_OUTPUT_TOKENS) {
      throw new GatewayException(
          ErrorKind.INVALID_PARAMETERS,
          "max_tokens " + maxTokens + " exceeds the largest output any model here can produce (" + MAX_OUTPUT_TOKENS + ").",
          maxCompletion != null ? "max_completion_tokens" : "max_tokens",
          null);
    }
    Long minTokens = optionalNonNegative(body, "min_tokens");
    if (minTokens != null && maxTokens != null && minTokens > maxTokens) {
      throw new GatewayException(
          ErrorKind.INVALID_PARAMETERS,
          "min_tokens (" + minTokens + ") is larger than max_tokens (" + maxTokens + "); no output can satisfy both.",
          "min_tokens",
          null);
    }
    optionalNumber(body, "temperature", 0, 2);
    optionalNumber(body, "top_p", 0, 1);
    optionalNumber(body, "presence_penalty", -2, 2);
    optionalNumber(body, "frequency_penalty", -2, 2);
    Long n = optionalPositive(body, "n");
    if (n != null && n > 128) {
      throw GatewayException.invalid("n", "'n' must be at most 128.");
    }
    Long bestOf = optionalPositive(body, "best_of");
    if (bestOf != null && bestOf > 128) {
      throw GatewayException.invalid("best_of", "'best_of' must be at most 128.");
    }
    // Every generated choice costs output tokens: n answers (or best_of candidates) each up to max_tokens.
    int choices = (int) Math.max(n == null ? 1 : n, bestOf == null ? 1 : bestOf);
    checkStop(body);
    JsonNode seed = body.get("seed");
    if (seed != null && !seed.isNull() && !seed.canConvertToLong()) {
      throw GatewayException.invalid("seed", "'seed' must be an integer.");
    }

    long promptChars = endpoint == Endpoint.CHAT ? checkMessages(body) : checkPrompt(body);
    long[] bytesAndParts = promptBytes(endpoint, body);
    return new CompletionRequest(
        endpoint, model, stream, includeUsage, maxTokens, choices, promptChars, bytesAndParts[0], (int) bytesAndParts[1], body);
  }

  /**
   * An upper bound on the prompt's tokens, for the ledger hold: a byte-level BPE token is at least
   * one UTF-8 byte, so tokens <= bytes; chat templates add a few tokens per message, bounded here
   * by 16 per part plus 16 (docs/decisions.md).
   */
  long promptTokensUpperBound() {
    return promptBytes + 16L * promptParts + 16;
  }

  private static long[] promptBytes(Endpoint endpoint, ObjectNode body) {
    long bytes = 0;
    int parts = 0;
    if (endpoint == Endpoint.CHAT) {
      for (JsonNode m : body.path("messages")) {
        parts++;
        JsonNode content = m.get("content");
        if (content != null && content.isTextual()) {
          bytes += utf8Length(content.asText());
        } else if (content != null && content.isArray()) {
          for (JsonNode part : content) {
            parts++;
            // Non-text parts (images, audio) are priced by the upstream in tokens we cannot bound
            // from here; count their JSON size, which is larger than any encoding of them.
            bytes += part.has("text") ? utf8Length(part.path("text").asText("")) : part.toString().length();
          }
        }
        // Tool calls and names also reach the template.
        bytes += m.has("tool_calls") ? m.get("tool_calls").toString().length() : 0;
      }
      bytes += body.has("tools") ? body.get("tools").toString().length() : 0;
    } else {
      JsonNode p = body.get("prompt");
      parts = 1;
      if (p != null && p.isTextual()) {
        bytes = utf8Length(p.asText());
      } else if (p != null) {
        for (JsonNode x : p) {
          parts++;
          bytes += x.isTextual() ? utf8Length(x.asText()) : (x.isArray() ? x.size() : 1);
        }
      }
    }
    return new long[] {bytes, parts};
  }

  private static long utf8Length(String s) {
    long n = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        n += 1;
      } else if (c < 0x800) {
        n += 2;
      } else if (Character.isHighSurrogate(c)) {
        n += 4;
        i++;
      } else {
        n += 3;
      }
    }
    return n;
  }

  /** Block hashes of the prompt as an inference server's prefix cache would see it. */
  PromptPrefix prefix() {
    if (endpoint == Endpoint.COMPLETIONS) {
      JsonNode p = body.get("prompt");
      if (p != null && p.isTextual()) {
        return PromptPrefix.ofPrompt(p.asText());
      }
      return PromptPrefix.ofPrompt(p == null ? "" : p.toString());
    }
    List<PromptPrefix.Message> messages = new ArrayList<>();
    for (JsonNode m : body.path("messages")) {
      JsonNode content = m.get("content");
      String text;
      if (content == null || content.isNull()) {
        text = "";
      } else if (content.isTextual()) {
        text = content.asText();
      } else {
        StringBuilder b = new StringBuilder();
        for (JsonNode part : content) {
          b.append(part.path("text").asText(""));
        }
        text = b.toString();
      }
      messages.add(new PromptPrefix.Message(m.path("role").asText(""), text));
    }
    return PromptPrefix.ofMessages(messages);
  }

  /**
   * The body the upstream receives: a stream always asks for usage, so Jevons can meter it, and
   * with billing on a request without {@code max_tokens} gets the cap its hold covers.
   */
  byte[] upstreamBody(ObjectMapper json, byte[] original, @Nullable Long capMaxTokens) {
    boolean addUsage = stream && !includeUsage;
    // With billing on the upstream always receives max_tokens, the cap the hold covers, even when
    // the client sent only max_completion_tokens (which not every server honours).
    boolean addCap = capMaxTokens != null && !body.has("max_tokens");
    if (!addUsage && !addCap) {
      return original;
    }
    ObjectNode copy = body.deepCopy();
    if (addUsage) {
      copy.putObject("stream_options").put("include_usage", true);
    }
    if (addCap) {
      // The ledger holds funds for at most this many output tokens; the upstream must stop there.
      // max_tokens rather than max_completion_tokens: every OpenAI-compatible server knows it.
      copy.put("max_tokens", capMaxTokens);
    }
    try {
      return json.writeValueAsBytes(copy);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a parsed JSON tree must serialize", e);
    }
  }

  private static long checkMessages(ObjectNode body) {
    JsonNode messages = body.get("messages");
    if (messages == null || messages.isNull()) {
      throw GatewayException.invalid("messages", "Missing required parameter: 'messages'.");
    }
    if (!messages.isArray()) {
      throw GatewayException.invalid("messages", "'messages' must be an array of message objects.");
    }
    if (messages.isEmpty()) {
      throw GatewayException.invalid("messages", "'messages' must contain at least one message.");
    }
    if (messages.size() > MAX_MESSAGES) {
      throw GatewayException.invalid("messages", "'messages' has more than " + MAX_MESSAGES + " entries.");
    }
    long chars = 0;
    for (int i = 0; i < messages.size(); i++) {
      JsonNode m = messages.get(i);
      String at = "messages[" + i + "]";
      if (!m.isObject()) {
        throw GatewayException.invalid(at, "'" + at + "' must be an object with 'role' and 'content'.");
      }
      JsonNode role = m.get("role");
      if (role == null || !role.isTextual()) {
        throw GatewayException.invalid(at + ".role", "Missing required parameter: '" + at + ".role'.");
      }
      if (!ROLES.contains(role.asText())) {
        throw GatewayException.invalid(
            at + ".role", "'" + at + ".role' is '" + role.asText() + "'; accepted: " + String.join(", ", ROLES) + ".");
      }
      JsonNode content = m.get("content");
      if (content == null || content.isNull()) {
        if (!"assistant".equals(role.asText())) {
          throw GatewayException.invalid(at + ".content", "Missing required parameter: '" + at + ".content'.");
        }
      } else if (content.isTextual()) {
        chars += content.asText().length();
      } else if (content.isArray()) {
        for (JsonNode part : content) {
          if (!part.isObject()) {
            throw GatewayException.invalid(at + ".content", "'" + at + ".content' parts must be objects.");
          }
          chars += part.path("text").asText("").length();
        }
      } else {
        throw GatewayException.invalid(at + ".content", "'" + at + ".content' must be a string or an array of content parts.");
      }
    }
    return chars;
  }

  private static long checkPrompt(ObjectNode body) {
    JsonNode prompt = body.get("prompt");
    if (prompt == null || prompt.isNull()) {
      throw GatewayException.invalid("prompt", "Missing required parameter: 'prompt'.");
    }
    if (prompt.isTextual()) {
      return prompt.asText().length();
    }
    if (prompt.isArray() && !prompt.isEmpty()) {
      long chars = 0;
      for (JsonNode p : prompt) {
        if (p.isTextual()) {
          chars += p.asText().length();
        } else if (p.isIntegralNumber()) {
          chars += 4;
        } else if (p.isArray()) {
          chars += 4L * p.size();
        } else {
          throw GatewayException.invalid("prompt", "'prompt' must be a string, an array of strings or an array of token ids.");
        }
      }
      return chars;
    }
    throw GatewayException.invalid("prompt", "'prompt' must be a string, an array of strings or an array of token ids.");
  }

  private static void checkStop(ObjectNode body) {
    JsonNode stop = body.get("stop");
    if (stop == null || stop.isNull() || stop.isTextual()) {
      return;
    }
    if (!stop.isArray() || stop.size() > 4) {
      throw GatewayException.invalid("stop", "'stop' must be a string or an array of at most 4 strings.");
    }
    for (JsonNode s : stop) {
      if (!s.isTextual()) {
        throw GatewayException.invalid("stop", "'stop' must be a string or an array of at most 4 strings.");
      }
    }
  }

  private static String requiredString(ObjectNode body, String name) {
    JsonNode v = body.get(name);
    if (v == null || v.isNull()) {
      throw GatewayException.invalid(name, "Missing required parameter: '" + name + "'.");
    }
    if (!v.isTextual() || v.asText().isBlank()) {
      throw GatewayException.invalid(name, "'" + name + "' must be a non-empty string.");
    }
    return v.asText();
  }

  private static boolean optionalBoolean(ObjectNode body, String name, boolean dflt) {
    JsonNode v = body.get(name);
    if (v == null || v.isNull()) {
      return dflt;
    }
    if (!v.isBoolean()) {
      throw GatewayException.invalid(name, "'" + name + "' must be a boolean.");
    }
    return v.asBoolean();
  }

  private static @Nullable Long optionalPositive(ObjectNode body, String name) {
    Long v = optionalInteger(body, name);
    if (v != null && v < 1) {
      throw GatewayException.invalid(name, "'" + name + "' must be at least 1; got " + v + ".");
    }
    return v;
  }

  private static @Nullable Long optionalNonNegative(ObjectNode body, String name) {
    Long v = optionalInteger(body, name);
    if (v != null && v < 0) {
      throw GatewayException.invalid(name, "'" + name + "' must be at least 0; got " + v + ".");
    }
    return v;
  }

  private static @Nullable Long optionalInteger(ObjectNode body, String name) {
    JsonNode v = body.get(name);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isIntegralNumber() || !v.canConvertToLong()) {
      throw GatewayException.invalid(name, "'" + name + "' must be an integer.");
    }
    return v.asLong();
  }

  private static void optionalNumber(ObjectNode body, String name, double min, double max) {
    JsonNode v = body.get(name);
    if (v == null || v.isNull()) {
      return;
    }
    if (!v.isNumber()) {
      throw GatewayException.invalid(name, "'" + name + "' must be a number.");
    }
    double d = v.asDouble();
    if (!(d >= min && d <= max)) {
      throw GatewayException.invalid(name, "'" + name + "' must be between " + fmt(min) + " and " + fmt(max) + "; got " + v + ".");
    }
  }

  private static String fmt(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
  }

  private static String firstLine(@Nullable String s) {
    if (s == null) {
      return "syntax error";
    }
    int nl = s.indexOf('\n');
    String line = nl < 0 ? s : s.substring(0, nl);
    return line.length() > 200 ? line.substring(0, 200) : line;
  }
}
