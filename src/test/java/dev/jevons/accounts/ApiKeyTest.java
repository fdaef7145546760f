package dev.jevons.accounts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Instant;
import java.util.HashSet;
import java.util.Set;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

class ApiKeyTest {

  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  @Property
  void is_usable_exactly_while_unrevoked_and_before_its_expiry(
      @ForAll @LongRange(min = -10_000, max = 10_000) long nowOffsetMillis,
      @ForAll @LongRange(min = -10_000, max = 10_000) long expiryOffsetMillis,
      @ForAll boolean expires,
      @ForAll boolean revoked) {
    Instant now = T0.plusMillis(nowOffsetMillis);
    @Nullable Instant expiresAt = expires ? T0.plusMillis(expiryOffsetMillis) : null;
    ApiKey key = key(Set.of(), expiresAt, revoked ? T0 : null);

    boolean expected = !revoked && (!expires || nowOffsetMillis < expiryOffsetMillis);

    assertThat(key.isUsableAt(now)).isEqualTo(expected);
  }

  @Test
  void keeps_its_own_copy_of_the_model_list() {
    Set<String> models = new HashSet<>(Set.of("b", "a"));
    ApiKey key = key(models, null, null);
    models.add("c");

    assertThat(key.models()).containsExactly("a", "b");
    assertThat(key.allowsModel("c")).isFalse();
    assertThatThrownBy(() -> key.models().add("d")).isInstanceOf(UnsupportedOperationException.class);
  }

  @Test
  void refuses_a_principal_whose_key_belongs_to_another_account() {
    Account other = new Account("acct_other", "Other", AccountStatus.ACTIVE, T0);

    assertThatThrownBy(() -> new Principal(other, key(Set.of(), null, null)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("acct_other");
  }

  static ApiKey key(Set<String> models, @Nullable Instant expiresAt, @Nullable Instant revokedAt) {
    return new ApiKey("key_1", "acct_1", "k", "sk-12345678", models, expiresAt, revokedAt, T0);
  }
}
