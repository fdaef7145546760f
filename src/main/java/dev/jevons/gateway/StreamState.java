package dev.jevons.gateway;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import org.jspecify.annotations.Nullable;

/**
 * Per-stream bookkeeping of the relay: what was delivered, the upstream's usage report, and the
 * rewriting of chunks so the client sees OpenAI's framing for the options it chose.
 */
final class StreamState {
  private final CompletionRequest req;
  private final ObjectMapper json;
  private @Nullable Usage reported;
  private @Nullable ObjectNode reportedJson;
  private long deliveredTokens;
  private @Nullable ObjectNode template;

  StreamState(CompletionRequest req, ObjectMapper json) {
    this.req = req;
    this.json = json;
  }

  long deliveredTokens() {
    return deliveredTokens;
  }

  /**
   * The output tokens a chunk delivers: one per content-bearing choice (OpenAI-compatible servers
   * send one token per chunk and choice; docs/decisions.md).
   */
  static long contentTokens(ObjectNode node) {
    JsonNode choices = node.get("choices");
    if (choices == null) {
      return 0;
    }
    long tokens = 0;
    for (JsonNode c : choices) {
      if (!c.path("delta").path("content").asText("").isEmpty()
          || !c.path("delta").path("reasoning_content").asText("").isEmpty()
          || !c.path("text").asText("").isEmpty()
          || c.path("delta").has("tool_calls")) {
        tokens++;
      }
    }
    return tokens;
  }

  /**
   * Returns the bytes to send for this upstream chunk, or null when it is the upstream's usage
   * chunk (Jevons sends its own at the end, only if the client asked).
   */
  byte @Nullable [] process(ObjectNode node, String raw) {
    JsonNode usage = node.get("usage");
    boolean hasUsage = usage != null && usage.isObject();
    if (hasUsage) {
      reported = UsageJson.parse(usage);
      reportedJson = (ObjectNode) usage;
    }
    JsonNode choices = node.get("choices");
    if (template == null) {
      template = node.deepCopy();
    }
    if ((choices == null || choices.isEmpty()) && hasUsage) {
      return null;
    }
    deliveredTokens += contentTokens(node);
    if (req.includeUsage()) {
      if (usage != null && usage.isNull()) {
        return raw.getBytes(StandardCharsets.UTF_8);
      }
      node.putNull("usage");
      return write(node);
    }
    if (usage == null) {
      return raw.getBytes(StandardCharsets.UTF_8);
    }
    node.remove("usage");
    return write(node);
  }

  /**
   * The usage to meter: the upstream's report for a stream that completed; otherwise what was
   * delivered (a stream cut short is charged for the tokens the client received, never more).
   */
  Usage usage(boolean cutShort) {
    Usage r = reported;
    if (r != null && !cutShort) {
      return r;
    }
    long prompt = r != null ? r.promptTokens() : TokenEstimator.ofChars(req.promptChars());
    long cached = r != null ? r.cachedPromptTokens() : 0;
    long completion = r != null ? Math.min(r.completionTokens(), deliveredTokens) : deliveredTokens;
    return new Usage(prompt, completion, cached, true);
  }

  byte[] usageChunk(boolean cutShort) {
    Usage u = usage(cutShort);
    ObjectNode chunk = json.createObjectNode();
    ObjectNode t = template;
    if (t != null) {
      copy(t, chunk, "id");
      copy(t, chunk, "object");
      copy(t, chunk, "created");
      copy(t, chunk, "model");
      copy(t, chunk, "system_fingerprint");
    }
    if (!chunk.has("object")) {
      chunk.put("object", req.endpoint().chunkObject());
    }
    if (!chunk.has("model")) {
      chunk.put("model", req.model());
    }
    chunk.putArray("choices");
    chunk.set("usage", UsageJson.normalized(json, cutShort ? null : reportedJson, u));
    return write(chunk);
  }

  private static void copy(ObjectNode from, ObjectNode to, String field) {
    JsonNode v = from.get(field);
    if (v != null) {
      to.set(field, v);
    }
  }

  private byte[] write(JsonNode node) {
    try {
      return json.writeValueAsBytes(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a JSON tree must serialize", e);
    }
  }
}
