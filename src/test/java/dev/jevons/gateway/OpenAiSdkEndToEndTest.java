package dev.jevons.gateway;

import dev.jevons.TestApps;
import dev.jevons.TestFunds;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.NotFoundException;
import com.openai.errors.PermissionDeniedException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.completions.CompletionUsage;
import com.openai.models.models.Model;
import dev.jevons.accounts.Account;
import dev.jevons.cli.JevonsApp;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The API surface driven by the official OpenAI Java SDK, against Jevons in front of the simulator. */
class OpenAiSdkEndToEndTest {
  @TempDir static Path data;
  static JevonsApp app;
  static OpenAIClient client;
  static String secret;

  @BeforeAll
  static void start() {
    app =
        JevonsApp.start(
            TestApps.instant(data)
                .load());
    Account account = app.accounts().createAccount("sdk-test");
    TestFunds.fund(app, account.id());
    secret = app.accounts().issueKey(account.id(), "sdk", Set.of(), null).secret();
    client = sdk(secret);
  }

  @AfterAll
  static void stop() {
    client.close();
    app.close();
  }

  static OpenAIClient sdk(String key) {
    return OpenAIOkHttpClient.builder().apiKey(key).baseUrl(app.baseUrl() + "/v1").maxRetries(0).build();
  }

  private static ChatCompletionCreateParams.Builder chat(String text) {
    return ChatCompletionCreateParams.builder().model("sim-chat").addUserMessage(text).maxCompletionTokens(12);
  }

  @Test
  void lists_the_models_the_simulated_replicas_serve() {
    List<String> ids = client.models().list().data().stream().map(Model::id).toList();
    assertThat(ids).containsExactlyInAnyOrder("sim-chat", "sim-reasoner");
    assertThat(client.models().retrieve("sim-reasoner").id()).isEqualTo("sim-reasoner");
  }

  @Test
  void answers_a_chat_completion_with_usage_including_cache_fields() {
    ChatCompletion c = client.chat().completions().create(chat("Say hello to Jevons").build());
    assertThat(c.choices()).hasSize(1);
    assertThat(c.choices().get(0).message().content()).isPresent().get().asString().isNotBlank();
    CompletionUsage usage = c.usage().orElseThrow();
    assertThat(usage.completionTokens()).isBetween(1L, 12L);
    assertThat(usage.promptTokens()).isPositive();
    assertThat(usage.totalTokens()).isEqualTo(usage.promptTokens() + usage.completionTokens());
    long cached = usage.promptTokensDetails().orElseThrow().cachedTokens().orElseThrow();
    JsonValue hit = usage._additionalProperties().get("prompt_cache_hit_tokens");
    JsonValue miss = usage._additionalProperties().get("prompt_cache_miss_tokens");
    assertThat(((Number) hit.asNumber().orElseThrow()).longValue()).isEqualTo(cached);
    assertThat(((Number) miss.asNumber().orElseThrow()).longValue()).isEqualTo(usage.promptTokens() - cached);
  }

  @Test
  void reports_cached_prompt_tokens_for_a_repeated_long_prompt() {
    String system = "You are a careful assistant. ".repeat(80);
    ChatCompletionCreateParams params = chat("What is 2+2?").addSystemMessage(system).build();
    long best = 0;
    // Replicas are chosen by load, so the second request may land on the other replica; a third
    // request then hits one of the two warm caches.
    for (int i = 0; i < 3; i++) {
      CompletionUsage u = client.chat().completions().create(params).usage().orElseThrow();
      best = Math.max(best, u.promptTokensDetails().orElseThrow().cachedTokens().orElse(0L));
    }
    assertThat(best).isPositive();
    assertThat(best % 64).isZero();
  }

  @Test
  void streams_chunks_without_a_usage_chunk_when_not_asked() {
    List<ChatCompletionChunk> chunks = new ArrayList<>();
    try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(chat("Stream please").build())) {
      s.stream().forEach(chunks::add);
    }
    assertThat(chunks).isNotEmpty();
    assertThat(chunks).allSatisfy(c -> assertThat(c.usage()).isEmpty());
    assertThat(chunks).allSatisfy(c -> assertThat(c.choices()).isNotEmpty());
    String text = chunks.stream().flatMap(c -> c.choices().stream()).map(ch -> ch.delta().content().orElse("")).reduce("", String::concat);
    assertThat(text).isNotBlank();
    assertThat(chunks.get(chunks.size() - 1).choices().get(0).finishReason()).isPresent();
  }

  @Test
  void streams_exactly_one_final_usage_chunk_when_asked() {
    List<ChatCompletionChunk> chunks = new ArrayList<>();
    ChatCompletionCreateParams params =
        chat("Stream with usage").streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
    try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params)) {
      s.stream().forEach(chunks::add);
    }
    List<ChatCompletionChunk> withUsage = chunks.stream().filter(c -> c.usage().isPresent()).toList();
    assertThat(withUsage).hasSize(1);
    ChatCompletionChunk last = chunks.get(chunks.size() - 1);
    assertThat(last.usage()).isPresent();
    assertThat(last.choices()).isEmpty();
    long contentChunks =
        chunks.stream().filter(c -> c.choices().stream().anyMatch(ch -> !ch.delta().content().orElse("").isEmpty())).count();
    assertThat(last.usage().get().completionTokens()).isEqualTo(contentChunks);
  }

  @Test
  void answers_legacy_completions_streaming_and_not() {
    Completion c =
        client.completions().create(CompletionCreateParams.builder().model("sim-chat").prompt("Once upon a time").maxTokens(6).build());
    assertThat(c.choices().get(0).text()).isNotBlank();
    assertThat(c.usage().orElseThrow().completionTokens()).isBetween(1L, 6L);

    StringBuilder text = new StringBuilder();
    try (StreamResponse<Completion> s =
        client.completions().createStreaming(CompletionCreateParams.builder().model("sim-chat").prompt("Once").maxTokens(6).build())) {
      s.stream().forEach(chunk -> chunk.choices().forEach(ch -> text.append(ch.text())));
    }
    assertThat(text.toString()).isNotBlank();
  }

  @Test
  void refuses_unknown_keys_unknown_models_and_models_outside_the_allow_list() {
    OpenAIClient wrong = sdk("sk-not-a-real-key-000000000000000000000");
    assertThatThrownBy(() -> wrong.chat().completions().create(chat("hi").build())).isInstanceOf(UnauthorizedException.class);
    wrong.close();
    assertThatThrownBy(() -> client.chat().completions().create(chat("hi").model("no-such-model").build()))
        .isInstanceOf(NotFoundException.class)
        .hasMessageContaining("does not exist");
    Account a = app.accounts().createAccount("restricted");
    TestFunds.fund(app, a.id());
    String restricted = app.accounts().issueKey(a.id(), "only-reasoner", Set.of("sim-reasoner"), null).secret();
    OpenAIClient limited = sdk(restricted);
    assertThatThrownBy(() -> limited.chat().completions().create(chat("hi").build()))
        .isInstanceOf(PermissionDeniedException.class)
        .hasMessageContaining("may not use");
    assertThat(limited.models().list().data().stream().map(Model::id).toList()).containsExactly("sim-reasoner");
    limited.close();
  }

  @Test
  void a_revoked_key_stops_working() {
    Account a = app.accounts().createAccount("revoke-me");
    TestFunds.fund(app, a.id());
    var issued = app.accounts().issueKey(a.id(), "k", Set.of(), null);
    OpenAIClient c = sdk(issued.secret());
    assertThat(c.models().list().data()).isNotEmpty();
    app.accounts().revokeKey(issued.key().id());
    assertThatThrownBy(() -> c.models().list()).isInstanceOf(UnauthorizedException.class);
    c.close();
  }
}
