package dev.jevons.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.jevons.accounts.Account;
import dev.jevons.accounts.AccountStatus;
import dev.jevons.accounts.Accounts;
import dev.jevons.accounts.ApiKey;
import dev.jevons.accounts.IssuedKey;
import dev.jevons.accounts.Principal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link SqlAccountStore} must do, run once per database kind by the subclasses. One
 * database per class, emptied before each test, keeps the PostgreSQL run quick.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AccountStoreContract {

  static final Instant T0 = Instant.parse("2026-02-06T08:00:00.123Z");

  Database database;
  SqlAccountStore store;

  abstract Database openDatabase(Path dir);

  @BeforeAll
  void open(@TempDir Path dir) {
    database = openDatabase(dir);
    store = new SqlAccountStore(database);
  }

  @BeforeEach
  void empty() throws Exception {
    try (Connection c = database.dataSource().getConnection();
        var s = c.createStatement()) {
      s.executeUpdate("DELETE FROM api_keys");
      s.executeUpdate("DELETE FROM accounts");
    }
  }

  @AfterAll
  void close() {
    if (database != null) { // null when the database could not be opened, e.g. skipped
      database.close();
    }
  }

  @Test
  void finds_an_inserted_account_exactly_as_it_was_inserted() {
    Account account = new Account("acct_a", "Acme Ltd", AccountStatus.ACTIVE, T0);
    store.insertAccount(account);

    assertThat(store.findAccount("acct_a")).contains(account);
  }

  @Test
  void finds_no_account_for_an_unknown_id() {
    assertThat(store.findAccount("acct_missing")).isEmpty();
  }

  @Test
  void refuses_a_second_account_with_the_same_id() {
    store.insertAccount(new Account("acct_a", "one", AccountStatus.ACTIVE, T0));

    assertThatThrownBy(() -> store.insertAccount(new Account("acct_a", "two", AccountStatus.ACTIVE, T0)))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("acct_a");
  }

  @Test
  void lists_accounts_page_by_page_in_code_point_order_of_id() {
    List<String> ids = List.of("acct_b", "acct_A", "acct_a", "acct_0", "acct_Z", "acct_z", "acct_9");
    for (String id : ids) {
      store.insertAccount(new Account(id, id, AccountStatus.ACTIVE, T0));
    }

    List<String> seen = new ArrayList<>();
    String after = null;
    List<Account> page;
    do {
      page = store.listAccounts(3, after);
      assertThat(page.size()).isLessThanOrEqualTo(3);
      page.forEach(a -> seen.add(a.id()));
      after = page.isEmpty() ? after : page.getLast().id();
    } while (!page.isEmpty());

    assertThat(seen).containsExactlyElementsOf(ids.stream().sorted().toList());
  }

  @Test
  void updates_the_status_of_an_account_and_reports_an_unknown_one_as_empty() {
    store.insertAccount(new Account("acct_a", "Acme", AccountStatus.ACTIVE, T0));

    assertThat(store.updateAccountStatus("acct_a", AccountStatus.SUSPENDED))
        .contains(new Account("acct_a", "Acme", AccountStatus.SUSPENDED, T0));
    assertThat(store.findAccount("acct_a").orElseThrow().status()).isEqualTo(AccountStatus.SUSPENDED);
    assertThat(store.updateAccountStatus("acct_missing", AccountStatus.ACTIVE)).isEmpty();
  }

  @Test
  void keeps_an_accounts_tier_and_starts_new_accounts_in_the_default_one() {
    store.insertAccount(new Account("acct_a", "Acme", AccountStatus.ACTIVE, T0));
    assertThat(store.findAccount("acct_a").orElseThrow().band()).isEqualTo(Account.DEFAULT_BAND);
    assertThat(store.updateAccountTier("acct_a", 0, 5)).contains(new Account("acct_a", "Acme", AccountStatus.ACTIVE, T0, 0, 5));
    assertThat(store.updateAccountStatus("acct_a", AccountStatus.SUSPENDED).orElseThrow().weight()).isEqualTo(5);
    store.insertKey(new ApiKey("key_t", "acct_a", "ci", "sk-Tier0000", Set.of(), null, null, T0), "hash-tier");
    assertThat(store.findPrincipalByKeyHash("hash-tier").orElseThrow().account().band()).isZero();
    assertThat(store.updateAccountTier("acct_missing", 0, 1)).isEmpty();
  }

  @Test
  void reads_a_key_back_with_its_model_list_expiry_and_creation_time() {
    store.insertAccount(new Account("acct_a", "Acme", AccountStatus.ACTIVE, T0));
    ApiKey key =
        new ApiKey(
            "key_1", "acct_a", "ci", "sk-AbC12xYz", Set.of("deepseek-chat", "meta/llama:8b"),
            T0.plusSeconds(3600), null, T0);
    store.insertKey(key, "hash1");

    assertThat(store.findKey("key_1")).contains(key);
  }

  @Test
  void reads_a_key_for_all_models_back_with_an_empty_model_list() {
    store.insertAccount(new Account("acct_a", "Acme", AccountStatus.ACTIVE, T0));
    store.insertKey(key("key_1", "acct_a", T0), "hash1");

    assertThat(store.findKey("key_1").orElseThrow().models()).isEmpty();
    assertThat(store.findKey("key_1").orElseThrow().expiresAt()).isNull();
  }

  @Test
  void refuses_a_key_for_an_account_that_does_not_exist() {
    assertThatThrownBy(() -> store.insertKey(key("key_1", "acct_missing", T0), "hash1"))
        .isInstanceOf(StoreException.class);
  }

  @Test
  void refuses_a_second_key_with_the_same_secret_hash() {
    store.insertAccount(new Account("acct_a", "Acme", AccountStatus.ACTIVE, T0));
    store.insertKey(key("key_1", "acct_a", T0), "same");

    assertThatThrownBy(() -> store.insertKey(key("key_2", "acct_a", T0), "same"))
        .isInstanceOf(StoreException.class);
  }

  @Test
  void lists_the_keys_of_one_account_oldest_first() {
    store.insertAccount(new Account("acct_a", "Acme", AccountStatus.ACTIVE, T0));
    store.insertAccount(new Account("acct_b", "Other", AccountStatus.ACTIVE, T0));
    store.insertKey(key("key_late", "acct_a", T0.plusSeconds(2)), "h1");
    store.insertKey(key("key_early", "acct_a", T0.plusSeconds(1)), "h2");
    store.insertKey(key("key_other", "acct_b", T0), "h3");

    assertThat(store.keysOf("acct_a")).extracting(ApiKey::id).containsExactly("key_early", "key_late");
    assertThat(store.keysOf("acct_missing")).isEmpty();
  }

  @Test
  void keeps_the_first_revocation_time_when_a_key_is_revoked_twice() {
    store.insertAccount(new Account("acct_a", "Acme", AccountStatus.ACTIVE, T0));
    store.insertKey(key("key_1", "acct_a", T0), "h1");

    ApiKey first = store.revokeKey("key_1", T0.plusSeconds(10)).orElseThrow();
    ApiKey second = store.revokeKey("key_1", T0.plusSeconds(20)).orElseThrow();

    assertThat(first.revokedAt()).isEqualTo(T0.plusSeconds(10));
    assertThat(second).isEqualTo(first);
    assertThat(store.revokeKey("key_missing", T0)).isEmpty();
  }

  @Test
  void finds_key_and_account_by_secret_hash_whatever_their_state() {
    store.insertAccount(new Account("acct_a", "Acme", AccountStatus.ACTIVE, T0));
    store.insertKey(key("key_1", "acct_a", T0), "h1");
    store.revokeKey("key_1", T0.plusSeconds(1));
    store.updateAccountStatus("acct_a", AccountStatus.SUSPENDED);

    Principal principal = store.findPrincipalByKeyHash("h1").orElseThrow();

    assertThat(principal.account().status()).isEqualTo(AccountStatus.SUSPENDED);
    assertThat(principal.key().revokedAt()).isEqualTo(T0.plusSeconds(1));
    assertThat(store.findPrincipalByKeyHash("unknown")).isEmpty();
  }

  @Test
  void stores_only_the_hash_of_an_issued_secret_never_the_secret() throws Exception {
    Accounts accounts = new Accounts(store, Clock.fixed(T0, ZoneOffset.UTC), new SecureRandom());
    Account account = accounts.createAccount("Acme");
    IssuedKey issued = accounts.issueKey(account.id(), "prod", Set.of(), null);

    List<String> row = new ArrayList<>();
    try (Connection c = database.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT * FROM api_keys WHERE id = ?")) {
      ps.setString(1, issued.key().id());
      try (ResultSet rs = ps.executeQuery()) {
        assertThat(rs.next()).isTrue();
        for (int i = 1; i <= rs.getMetaData().getColumnCount(); i++) {
          row.add(String.valueOf(rs.getString(i)));
        }
      }
    }
    String secretBody = issued.secret().substring("sk-".length());
    String expectedHash =
        HexFormat.of()
            .formatHex(
                MessageDigest.getInstance("SHA-256")
                    .digest(issued.secret().getBytes(StandardCharsets.UTF_8)));

    assertThat(row).noneMatch(value -> value.contains(secretBody.substring(8)));
    assertThat(row).contains(expectedHash);
    assertThat(accounts.authenticate(issued.secret()))
        .hasValueSatisfying(p -> assertThat(p.key()).isEqualTo(issued.key()));
  }

  static ApiKey key(String id, String accountId, Instant createdAt) {
    return new ApiKey(id, accountId, "key " + id, "sk-" + id, Set.of(), null, null, createdAt);
  }
}
