package dev.jevons.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class TokenizerTest {
  @Test
  void counts_words_punctuation_and_splits_long_words() {
    assertThat(Tokenizer.tokenize("Hello, world!")).hasSize(4);
    assertThat(Tokenizer.tokenize(" internationalization")).hasSize(4); // 20 letters -> 6+6+6+2
    assertThat(Tokenizer.tokenize("a  b ")).hasSize(3);
    assertThat(Tokenizer.tokenize(" same")[0]).isEqualTo(Tokenizer.tokenize(" same")[0]);
    assertThat(Tokenizer.tokenize(" same")[0]).isNotEqualTo(Tokenizer.tokenize("same")[0]);
  }

  @Test
  void chats_sharing_a_system_prompt_share_a_token_prefix() {
    String system = "You are a helpful assistant. ".repeat(20);
    int[] a = Tokenizer.renderChat(List.of(
        new Tokenizer.Message("system", system), new Tokenizer.Message("user", "first question")));
    int[] b = Tokenizer.renderChat(List.of(
        new Tokenizer.Message("system", system), new Tokenizer.Message("user", "another one")));
    int common = 0;
    while (a[common] == b[common]) common++;
    assertThat(common).isGreaterThan(100);
  }

  @Test
  void generated_text_is_deterministic_for_a_seed() {
    int[] prompt = Tokenizer.tokenize("tell me a story");
    TextGenerator g1 = new TextGenerator(42, prompt);
    TextGenerator g2 = new TextGenerator(42, prompt);
    TextGenerator other = new TextGenerator(43, prompt);
    StringBuilder s1 = new StringBuilder(), s2 = new StringBuilder(), s3 = new StringBuilder();
    for (int i = 0; i < 30; i++) {
      s1.append(g1.token(i));
      s2.append(g2.token(i));
      s3.append(other.token(i));
    }
    assertThat(s1.toString()).isEqualTo(s2.toString()).isNotEqualTo(s3.toString());
    assertThat(g1.naturalLength()).isEqualTo(g2.naturalLength()).isBetween(20, 200);
  }
}
