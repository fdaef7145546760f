package dev.jevons.gateway;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.jspecify.annotations.Nullable;

/**
 * Usage objects in both directions. Jevons always answers with OpenAI's fields and DeepSeek's
 * cache fields together, whatever subset the upstream sent; extra upstream fields (such as
 * {@code completion_tokens_details}) are kept.
 */
final class UsageJson {
  private UsageJson() {}

  static Usage parse(JsonNode u) {
    long prompt = Math.max(0, u.path("prompt_tokens").asLong(0));
    long completion = Math.max(0, u.path("completion_tokens").asLong(0));
    long cached;
    JsonNode details = u.path("prompt_tokens_details").path("cached_tokens");
    if (details.isNumber()) {
      cached = details.asLong();
    } else {
      cached = u.path("prompt_cache_hit_tokens").asLong(0);
    }
    cached = Math.min(Math.max(0, cached), prompt);
    return new Usage(prompt, completion, cached, false);
  }

  /** Whether the upstream's usage already has every field Jevons promises. */
  static boolean complete(JsonNode u) {
    return u.path("prompt_tokens").isNumber()
        && u.path("completion_tokens").isNumber()
        && u.path("total_tokens").isNumber()
        && u.path("prompt_tokens_details").path("cached_tokens").isNumber()
        && u.path("prompt_cache_hit_tokens").isNumber()
        && u.path("prompt_cache_miss_tokens").isNumber();
  }

  static ObjectNode normalized(ObjectMapper json, @Nullable JsonNode upstream, Usage usage) {
    ObjectNode out = upstream instanceof ObjectNode o ? o.deepCopy() : json.createObjectNode();
    out.put("prompt_tokens", usage.promptTokens());
    out.put("completion_tokens", usage.completionTokens());
    out.put("total_tokens", usage.totalTokens());
    JsonNode details = out.get("prompt_tokens_details");
    ObjectNode d = details instanceof ObjectNode od ? od : out.putObject("prompt_tokens_details");
    d.put("cached_tokens", usage.cachedPromptTokens());
    out.put("prompt_cache_hit_tokens", usage.cachedPromptTokens());
    out.put("prompt_cache_miss_tokens", usage.missPromptTokens());
    return out;
  }
}
