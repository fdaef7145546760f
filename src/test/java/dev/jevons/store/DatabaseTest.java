package dev.jevons.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.jevons.accounts.Account;
import dev.jevons.accounts.AccountStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class DatabaseTest {

  @TempDir Path dir;

  @Test
  void sets_up_sqlite_connections_for_money_with_wal_full_sync_foreign_keys_and_a_busy_timeout()
      throws Exception {
    try (Database db = TestDatabases.sqlite(dir);
        Connection c = db.dataSource().getConnection()) {
      assertThat(pragma(c, "journal_mode")).isEqualTo("wal");
      assertThat(pragma(c, "synchronous")).isEqualTo("2"); // FULL
      assertThat(pragma(c, "foreign_keys")).isEqualTo("1");
      assertThat(pragma(c, "busy_timeout")).isEqualTo("5000");
    }
  }

  @Test
  void creates_the_missing_parent_directories_of_a_sqlite_file() {
    Path file = dir.resolve("a/b/jevons.db");

    try (Database db = Database.open("jdbc:sqlite:" + file)) {
      assertThat(db.dialect()).isEqualTo(Dialect.SQLITE);
    }
    assertThat(Files.exists(file)).isTrue();
  }

  @Test
  void refuses_an_in_memory_sqlite_database_because_each_pooled_connection_would_see_another() {
    assertThatThrownBy(() -> Database.open("jdbc:sqlite::memory:"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("not in memory");
  }

  @Test
  void refuses_a_url_of_another_database_without_showing_its_password() {
    assertThatThrownBy(() -> Database.open("jdbc:mysql://db/jevons?user=a&password=hunter2"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("jdbc:mysql://db/jevons")
        .hasMessageNotContaining("hunter2");
  }

  @Test
  void reports_an_unreachable_postgres_server_by_its_url_without_the_password() {
    String url = "jdbc:postgresql://127.0.0.1:1/jevons?password=hunter2&connectTimeout=1";

    assertThatThrownBy(() -> Database.open(url, "jevons", "hunter3"))
        .isInstanceOf(StoreException.class)
        .hasMessageContaining("jdbc:postgresql://127.0.0.1:1/jevons?password=****")
        .hasMessageNotContaining("hunter2")
        .hasMessageNotContaining("hunter3");
  }

  @Test
  void masks_passwords_in_query_parameters_and_user_info() {
    assertThat(Database.redact("jdbc:postgresql://h/db?user=u&password=p&ssl=true"))
        .isEqualTo("jdbc:postgresql://h/db?user=u&password=****&ssl=true");
    assertThat(Database.redact("jdbc:postgresql://u:secret@h/db")).isEqualTo("jdbc:postgresql://u:****@h/db");
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void knows_its_dialect_and_can_be_closed_twice(TestDatabases.Kind kind) {
    Database db = TestDatabases.open(kind, dir);

    assertThat(db.dialect().name()).isEqualTo(kind.name());
    db.close();
    db.close();
  }

  @Test
  void orders_ids_by_code_point_even_in_a_postgres_database_with_a_natural_language_collation() {
    try (TestDatabases.Scratch scratch =
            TestDatabases.scratchPostgresDatabase("TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en' LOCALE 'C.UTF-8'");
        Database db = scratch.open()) {
      SqlAccountStore store = new SqlAccountStore(db);
      List<String> ids = List.of("acct_b", "acct_B", "acct_a", "acct_A", "acct_0");
      for (String id : ids) {
        store.insertAccount(new Account(id, id, AccountStatus.ACTIVE, Instant.EPOCH));
      }

      assertThat(store.listAccounts(10, null))
          .extracting(Account::id)
          .containsExactly("acct_0", "acct_A", "acct_B", "acct_a", "acct_b");
      assertThat(store.listAccounts(10, "acct_B")).extracting(Account::id).containsExactly("acct_a", "acct_b");
    }
  }

  @Test
  void begins_sqlite_transactions_immediately_so_a_second_writer_waits_instead_of_failing_later()
      throws Exception {
    try (Database db = TestDatabases.sqlite(dir);
        Connection holder = db.dataSource().getConnection();
        Connection other = db.dataSource().getConnection()) {
      holder.setAutoCommit(false);
      try (Statement s = holder.createStatement()) {
        s.executeQuery("SELECT COUNT(*) FROM accounts").close();
      }
      // With the busy timeout off, a write lock already held shows up at once as SQLITE_BUSY.
      try (Statement s = other.createStatement()) {
        s.execute("PRAGMA busy_timeout = 0");
        assertThatThrownBy(() -> s.executeUpdate("DELETE FROM accounts"))
            .hasMessageContaining("SQLITE_BUSY");
        s.execute("PRAGMA busy_timeout = 5000");
      }
      holder.rollback();
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void lets_more_concurrent_writers_than_connections_queue_without_busy_errors(TestDatabases.Kind kind)
      throws Exception {
    int writers = 8;
    int transactionsEach = 10;
    try (Database db = TestDatabases.open(kind, dir);
        ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor()) {
      String insert = "INSERT INTO accounts (id, name, status, created_at) VALUES (?, 'n', 'active', 0)";
      List<Future<?>> done = new ArrayList<>();
      for (int w = 0; w < writers; w++) {
        int writer = w;
        done.add(
            executor.submit(
                () -> {
                  for (int t = 0; t < transactionsEach; t++) {
                    String id = "acct_" + writer + "_" + t;
                    db.inTransaction("insert " + id, c -> {
                      try (var ps = c.prepareStatement(insert)) {
                        ps.setString(1, id);
                        return ps.executeUpdate();
                      }
                    });
                  }
                  return null;
                }));
      }
      for (Future<?> f : done) {
        f.get(60, TimeUnit.SECONDS);
      }

      assertThat(new SqlAccountStore(db).listAccounts(1000, null)).hasSize(writers * transactionsEach);
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void commits_a_transaction_that_returns_and_rolls_back_one_that_throws(TestDatabases.Kind kind) {
    try (Database db = TestDatabases.open(kind, dir)) {
      SqlAccountStore store = new SqlAccountStore(db);
      String insert = "INSERT INTO accounts (id, name, status, created_at) VALUES (?, 'n', 'active', 0)";

      db.inTransaction("insert one", c -> {
        try (var ps = c.prepareStatement(insert)) {
          ps.setString(1, "acct_kept");
          return ps.executeUpdate();
        }
      });
      assertThatThrownBy(
              () ->
                  db.inTransaction("insert two", c -> {
                    try (var ps = c.prepareStatement(insert)) {
                      ps.setString(1, "acct_lost");
                      ps.executeUpdate();
                      ps.setString(1, "acct_kept");
                      return ps.executeUpdate();
                    }
                  }))
          .isInstanceOf(StoreException.class)
          .hasMessageStartingWith("cannot insert two: ");

      assertThat(store.findAccount("acct_kept")).isPresent();
      assertThat(store.findAccount("acct_lost")).isEmpty();
    }
  }

  private static String pragma(Connection c, String name) throws Exception {
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("PRAGMA " + name)) {
      rs.next();
      return rs.getString(1);
    }
  }
}
