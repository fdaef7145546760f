package dev.jevons.accounts;

import dev.jevons.MutableClock;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class AccountsTest {

  static final Instant T0 = Instant.parse("2025-02-06T08:00:00.123456789Z");

  final MutableClock clock = new MutableClock(T0);
  final InMemoryAccountStore store = new InMemoryAccountStore();
  final Accounts accounts = new Accounts(store, clock, new SecureRandom());

  // --- key format and entropy

  @Test
  void issues_secrets_of_sk_followed_by_43_base62_characters() {
    String accountId = accounts.createAccount("Acme").id();

    for (int i = 0; i < 50; i++) {
      String secret = accounts.issueKey(accountId, "k" + i, Set.of(), null).secret();
      assertThat(secret).matches("sk-[0-9A-Za-z]{43}");
    }
  }

  @Test
  void draws_32_bytes_from_the_secure_random_for_every_secret() {
    AtomicInteger largestDraw = new AtomicInteger();
    SecureRandom counting =
        new SecureRandom() {
          @Override
          public void nextBytes(byte[] bytes) {
            largestDraw.accumulateAndGet(bytes.length, Math::max);
            super.nextBytes(bytes);
          }
        };
    Accounts withCountingRandom = new Accounts(store, clock, counting);
    String accountId = withCountingRandom.createAccount("Acme").id();

    withCountingRandom.issueKey(accountId, "k", Set.of(), null);

    assertThat(largestDraw.get()).isGreaterThanOrEqualTo(32);
  }

  @Test
  void never_issues_the_same_secret_or_id_twice() {
    String accountId = accounts.createAccount("Acme").id();
    Set<String> secrets = new HashSet<>();
    Set<String> ids = new HashSet<>();

    for (int i = 0; i < 1000; i++) {
      IssuedKey issued = accounts.issueKey(accountId, "k", Set.of(), null);
      secrets.add(issued.secret());
      ids.add(issued.key().id());
    }

    assertThat(secrets).hasSize(1000);
    assertThat(ids).hasSize(1000);
  }

  @Test
  void shows_a_key_by_sk_and_the_first_eight_characters_of_its_secret() {
    IssuedKey issued = accounts.issueKey(accounts.createAccount("Acme").id(), "k", Set.of(), null);

    assertThat(issued.key().prefix()).hasSize(11).isEqualTo(issued.secret().substring(0, 11));
  }

  @Test
  void names_accounts_and_keys_by_kind_and_random_base62() {
    Account account = accounts.createAccount("Acme");
    ApiKey key = accounts.issueKey(account.id(), "k", Set.of(), null).key();

    assertThat(account.id()).matches("acct_[0-9A-Za-z]{22}");
    assertThat(key.id()).matches("key_[0-9A-Za-z]{22}");
  }

  @Test
  void hands_the_store_the_sha256_of_the_secret_and_never_the_secret() throws Exception {
    IssuedKey issued = accounts.issueKey(accounts.createAccount("Acme").id(), "k", Set.of(), null);
    String sha256 =
        java.util.HexFormat.of()
            .formatHex(MessageDigest.getInstance("SHA-256").digest(issued.secret().getBytes(StandardCharsets.UTF_8)));

    assertThat(store.keyIdByHash).containsEntry(sha256, issued.key().id());
    assertThat(store.keys.get(issued.key().id()).toString()).doesNotContain(issued.secret().substring(11));
  }

  @Test
  void does_not_print_the_secret_of_an_issued_key() {
    IssuedKey issued = accounts.issueKey(accounts.createAccount("Acme").id(), "k", Set.of(), null);

    assertThat(issued.toString()).doesNotContain(issued.secret()).contains(issued.key().prefix());
  }

  // --- authentication

  @Test
  void authenticates_a_freshly_issued_key_as_its_account() {
    Account account = accounts.createAccount("Acme");
    IssuedKey issued = accounts.issueKey(account.id(), "k", Set.of(), null);

    assertThat(accounts.authenticate(issued.secret())).contains(new Principal(account, issued.key()));
  }

  @Test
  void rejects_unknown_missing_and_malformed_secrets() {
    accounts.issueKey(accounts.createAccount("Acme").id(), "k", Set.of(), null);

    assertThat(accounts.authenticate("sk-" + "A".repeat(43))).isEmpty();
    assertThat(accounts.authenticate(null)).isEmpty();
    assertThat(accounts.authenticate("")).isEmpty();
    assertThat(accounts.authenticate("Bearer something")).isEmpty();
  }

  @Test
  void rejects_absurdly_long_secrets_without_asking_the_store() {
    assertThat(accounts.authenticate("sk-" + "a".repeat(10_000))).isEmpty();

    assertThat(store.principalLookups).hasValue(0);
  }

  @Test
  void asks_the_store_about_a_known_key_once_per_second_however_often_it_is_presented() {
    IssuedKey issued = accounts.issueKey(accounts.createAccount("Acme").id(), "k", Set.of(), null);

    for (int i = 0; i < 100; i++) {
      assertThat(accounts.authenticate(issued.secret())).isPresent();
    }
    assertThat(store.principalLookups).hasValue(1);

    clock.advance(Duration.ofMillis(1001));
    accounts.authenticate(issued.secret());
    assertThat(store.principalLookups).hasValue(2);
  }

  @Test
  void asks_the_store_about_a_wrong_key_once_per_second_however_often_it_is_guessed() {
    String guess = "sk-" + "x".repeat(43);

    for (int i = 0; i < 100; i++) {
      assertThat(accounts.authenticate(guess)).isEmpty();
    }
    assertThat(store.principalLookups).hasValue(1);

    clock.advance(Duration.ofMillis(1001));
    accounts.authenticate(guess);
    assertThat(store.principalLookups).hasValue(2);
  }

  @Test
  void accepts_a_key_at_once_even_if_its_secret_was_presented_before_it_was_issued() {
    SecureRandom zeros =
        new SecureRandom() {
          @Override
          public void nextBytes(byte[] bytes) {
            java.util.Arrays.fill(bytes, (byte) 0);
          }
        };
    Accounts predictable = new Accounts(store, clock, zeros);
    String foreseenSecret = "sk-" + "0".repeat(43);
    assertThat(predictable.authenticate(foreseenSecret)).isEmpty();

    IssuedKey issued = predictable.issueKey(predictable.createAccount("Acme").id(), "k", Set.of(), null);

    assertThat(issued.secret()).isEqualTo(foreseenSecret);
    assertThat(predictable.authenticate(foreseenSecret)).isPresent();
  }

  @Test
  void stops_accepting_a_key_at_once_when_it_is_revoked_on_this_node() {
    IssuedKey issued = accounts.issueKey(accounts.createAccount("Acme").id(), "k", Set.of(), null);
    assertThat(accounts.authenticate(issued.secret())).isPresent();

    accounts.revokeKey(issued.key().id());

    assertThat(accounts.authenticate(issued.secret())).isEmpty();
  }

  @Test
  void stops_accepting_a_key_within_one_second_when_it_is_revoked_on_another_node() {
    IssuedKey issued = accounts.issueKey(accounts.createAccount("Acme").id(), "k", Set.of(), null);
    assertThat(accounts.authenticate(issued.secret())).isPresent();

    store.revokeKey(issued.key().id(), clock.instant());
    clock.advance(Duration.ofSeconds(1));

    assertThat(accounts.authenticate(issued.secret())).isEmpty();
  }

  @Test
  void stops_accepting_keys_of_an_account_at_once_when_it_is_suspended_and_again_when_reactivated() {
    Account account = accounts.createAccount("Acme");
    IssuedKey issued = accounts.issueKey(account.id(), "k", Set.of(), null);
    assertThat(accounts.authenticate(issued.secret())).isPresent();

    accounts.setStatus(account.id(), AccountStatus.SUSPENDED);
    assertThat(accounts.authenticate(issued.secret())).isEmpty();

    accounts.setStatus(account.id(), AccountStatus.ACTIVE);
    assertThat(accounts.authenticate(issued.secret())).isPresent();
  }

  @Test
  void stops_accepting_keys_of_an_account_suspended_on_another_node_within_one_second() {
    Account account = accounts.createAccount("Acme");
    IssuedKey issued = accounts.issueKey(account.id(), "k", Set.of(), null);
    assertThat(accounts.authenticate(issued.secret())).isPresent();

    store.updateAccountStatus(account.id(), AccountStatus.SUSPENDED);
    clock.advance(Duration.ofSeconds(1));

    assertThat(accounts.authenticate(issued.secret())).isEmpty();
  }

  @Test
  void stops_accepting_a_key_at_its_expiry_instant_even_while_it_is_cached() {
    IssuedKey issued =
        accounts.issueKey(accounts.createAccount("Acme").id(), "k", Set.of(), T0.plusMillis(500));
    assertThat(accounts.authenticate(issued.secret())).isPresent();

    clock.advance(Duration.ofMillis(499));
    assertThat(accounts.authenticate(issued.secret())).isPresent();
    clock.advance(Duration.ofMillis(1));
    assertThat(accounts.authenticate(issued.secret())).isEmpty();
  }

  // --- keys

  @Test
  void restricts_a_key_to_its_models_and_lets_an_unrestricted_key_use_all() {
    String accountId = accounts.createAccount("Acme").id();
    ApiKey restricted = accounts.issueKey(accountId, "k", Set.of("deepseek-chat"), null).key();
    ApiKey open = accounts.issueKey(accountId, "k", Set.of(), null).key();

    assertThat(restricted.allowsModel("deepseek-chat")).isTrue();
    assertThat(restricted.allowsModel("deepseek-reasoner")).isFalse();
    assertThat(open.allowsModel("anything")).isTrue();
  }

  @Test
  void refuses_an_expiry_that_is_not_in_the_future() {
    String accountId = accounts.createAccount("Acme").id();

    assertThatThrownBy(() -> accounts.issueKey(accountId, "k", Set.of(), T0.minusSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not in the future");
    assertThatThrownBy(() -> accounts.issueKey(accountId, "k", Set.of(), T0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void refuses_model_names_that_are_empty_or_contain_whitespace() {
    String accountId = accounts.createAccount("Acme").id();

    assertThatThrownBy(() -> accounts.issueKey(accountId, "k", Set.of("two words"), null))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> accounts.issueKey(accountId, "k", Set.of(""), null))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void refuses_to_issue_a_key_for_an_unknown_account_naming_it() {
    assertThatThrownBy(() -> accounts.issueKey("acct_nope", "k", Set.of(), null))
        .isInstanceOf(NoSuchAccountException.class)
        .hasMessageContaining("acct_nope");
  }

  @Test
  void revokes_a_key_idempotently_keeping_the_first_revocation_time() {
    ApiKey key = accounts.issueKey(accounts.createAccount("Acme").id(), "k", Set.of(), null).key();

    ApiKey first = accounts.revokeKey(key.id());
    clock.advance(Duration.ofMinutes(5));
    ApiKey again = accounts.revokeKey(key.id());

    assertThat(first.revokedAt()).isEqualTo(T0.truncatedTo(java.time.temporal.ChronoUnit.MILLIS));
    assertThat(again).isEqualTo(first);
  }

  @Test
  void refuses_to_revoke_an_unknown_key_naming_it() {
    assertThatThrownBy(() -> accounts.revokeKey("key_nope"))
        .isInstanceOf(NoSuchKeyException.class)
        .hasMessageContaining("key_nope");
  }

  @Test
  void lists_the_keys_of_an_account_including_revoked_ones() {
    String accountId = accounts.createAccount("Acme").id();
    ApiKey first = accounts.issueKey(accountId, "first", Set.of(), null).key();
    clock.advance(Duration.ofSeconds(1));
    ApiKey second = accounts.issueKey(accountId, "second", Set.of(), null).key();
    accounts.revokeKey(first.id());

    assertThat(accounts.keysOf(accountId)).extracting(ApiKey::id).containsExactly(first.id(), second.id());
  }

  // --- accounts

  @Test
  void creates_an_active_account_with_a_trimmed_name_at_millisecond_precision() {
    Account account = accounts.createAccount("  Acme Ltd  ");

    assertThat(account.name()).isEqualTo("Acme Ltd");
    assertThat(account.status()).isEqualTo(AccountStatus.ACTIVE);
    assertThat(account.createdAt()).isEqualTo(Instant.parse("2025-02-06T08:00:00.123Z"));
    assertThat(accounts.account(account.id())).contains(account);
  }

  @Test
  void refuses_account_names_that_are_blank_too_long_or_contain_control_characters() {
    assertThat(accounts.createAccount("x".repeat(200)).name()).hasSize(200);

    assertThatThrownBy(() -> accounts.createAccount("   "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("blank");
    assertThatThrownBy(() -> accounts.createAccount("x".repeat(201)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("200");
    assertThatThrownBy(() -> accounts.createAccount("a\nb"))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void refuses_to_change_the_status_of_an_unknown_account_naming_it() {
    assertThatThrownBy(() -> accounts.setStatus("acct_nope", AccountStatus.SUSPENDED))
        .isInstanceOf(NoSuchAccountException.class)
        .hasMessageContaining("acct_nope");
  }

  @Test
  void pages_through_accounts_in_id_order_and_refuses_a_page_size_below_one() {
    for (int i = 0; i < 5; i++) {
      accounts.createAccount("a" + i);
    }

    List<Account> first = accounts.listAccounts(3, null);
    List<Account> rest = accounts.listAccounts(3, first.getLast().id());

    assertThat(first).hasSize(3);
    assertThat(rest).hasSize(2);
    assertThat(first.getLast().id()).isLessThan(rest.getFirst().id());
    assertThatThrownBy(() -> accounts.listAccounts(0, null)).isInstanceOf(IllegalArgumentException.class);
  }
}
