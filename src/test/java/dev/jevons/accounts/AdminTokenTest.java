package dev.jevons.accounts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.security.SecureRandom;
import org.junit.jupiter.api.Test;

class AdminTokenTest {

  static final String TOKEN = "correct-horse-battery-staple-42";

  @Test
  void matches_exactly_the_configured_token() {
    AdminToken token = AdminToken.of(TOKEN);

    assertThat(token.matches(TOKEN)).isTrue();
    assertThat(token.matches(TOKEN.substring(0, TOKEN.length() - 1) + "3")).isFalse();
    assertThat(token.matches(TOKEN + "x")).isFalse();
    assertThat(token.matches("")).isFalse();
    assertThat(token.matches(null)).isFalse();
    assertThat(token.matches("x".repeat(100_000))).isFalse();
  }

  @Test
  void keeps_only_a_digest_so_the_token_is_not_in_its_string_form() {
    AdminToken token = AdminToken.of(TOKEN);

    assertThat(token.toString()).doesNotContain(TOKEN.substring(0, 8));
    assertThat(token.masked()).isEqualTo("****e-42");
  }

  @Test
  void refuses_tokens_too_short_to_be_secret_or_with_whitespace() {
    assertThatThrownBy(() -> AdminToken.of("secret"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("16");
    assertThatThrownBy(() -> AdminToken.of("a token with spaces in it"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void generates_distinct_random_tokens_that_it_accepts() {
    SecureRandom random = new SecureRandom();
    String one = AdminToken.generate(random);
    String two = AdminToken.generate(random);

    assertThat(one).matches("jadm-[0-9A-Za-z]{43}").isNotEqualTo(two);
    assertThat(AdminToken.of(one).matches(one)).isTrue();
    assertThat(AdminToken.of(one).masked()).doesNotContain(one.substring(5, 20));
  }
}
