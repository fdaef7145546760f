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
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class MigrationTest {

  @TempDir Path dir;

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void migrates_an_empty_database_to_the_latest_version(TestDatabases.Kind kind) throws Exception {
    try (Database db = TestDatabases.open(kind, dir)) {
      assertThat(appliedVersions(db)).isEqualTo(shippedVersions(kind));
      assertThat(count(db, "SELECT COUNT(*) FROM accounts")).isZero();
      assertThat(count(db, "SELECT COUNT(*) FROM api_keys")).isZero();
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void opening_a_migrated_database_again_applies_nothing_and_keeps_its_data(TestDatabases.Kind kind)
      throws Exception {
    try (TestDatabases.Scratch scratch = TestDatabases.scratch(kind, dir)) {
      try (Database db = scratch.open()) {
        new SqlAccountStore(db).insertAccount(new Account("acct_a", "Acme", AccountStatus.ACTIVE, Instant.EPOCH));
      }
      try (Database db = scratch.open()) {
        assertThat(appliedVersions(db)).isEqualTo(shippedVersions(kind));
        assertThat(new SqlAccountStore(db).findAccount("acct_a")).isPresent();
      }
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void applies_a_new_migration_on_the_next_start(TestDatabases.Kind kind) throws Exception {
    Path migrations = Files.createDirectories(dir.resolve("migrations"));
    Files.writeString(migrations.resolve("V1__first.sql"), "CREATE TABLE first_table (id BIGINT);");
    try (TestDatabases.Scratch scratch = TestDatabases.scratch(kind, dir)) {
      List<String> location = List.of("filesystem:" + migrations);
      scratch.open(location).close();
      Files.writeString(migrations.resolve("V2__second.sql"), "CREATE TABLE second_table (id BIGINT);");

      try (Database db = scratch.open(location)) {
        assertThat(appliedVersions(db)).containsExactly("1", "2");
        assertThat(count(db, "SELECT COUNT(*) FROM second_table")).isZero();
      }
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void refuses_to_start_when_an_applied_migration_was_edited(TestDatabases.Kind kind) throws Exception {
    Path migrations = Files.createDirectories(dir.resolve("migrations"));
    Path v1 = migrations.resolve("V1__first.sql");
    Files.writeString(v1, "CREATE TABLE first_table (id BIGINT);");
    try (TestDatabases.Scratch scratch = TestDatabases.scratch(kind, dir)) {
      List<String> location = List.of("filesystem:" + migrations);
      scratch.open(location).close();
      Files.writeString(v1, "CREATE TABLE first_table (id BIGINT, extra TEXT);");

      assertThatThrownBy(() -> scratch.open(location))
          .isInstanceOf(StoreException.class)
          .hasMessageContaining("checksum mismatch")
          .hasMessageContaining("cannot migrate database " + scratch.jdbcUrl());
    }
  }

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void leaves_no_trace_of_a_migration_that_failed_halfway(TestDatabases.Kind kind) throws Exception {
    Path migrations = Files.createDirectories(dir.resolve("migrations"));
    Files.writeString(
        migrations.resolve("V1__broken.sql"),
        "CREATE TABLE half_done (id BIGINT);\nINSERT INTO no_such_table VALUES (1);");
    try (TestDatabases.Scratch scratch = TestDatabases.scratch(kind, dir)) {
      List<String> location = List.of("filesystem:" + migrations);

      assertThatThrownBy(() -> scratch.open(location)).isInstanceOf(StoreException.class);

      Files.writeString(migrations.resolve("V1__broken.sql"), "CREATE TABLE half_done (id BIGINT);");
      try (Database db = scratch.open(location)) {
        assertThat(appliedVersions(db)).containsExactly("1");
      }
    }
  }

  @Test
  void gateway_nodes_opening_a_fresh_postgres_database_together_migrate_it_exactly_once() throws Exception {
    int nodes = 4;
    try (TestDatabases.Scratch scratch = TestDatabases.scratchPostgres();
        ExecutorService executor = Executors.newFixedThreadPool(nodes)) {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Database>> opened = new ArrayList<>();
      for (int i = 0; i < nodes; i++) {
        opened.add(
            executor.submit(
                () -> {
                  start.await();
                  return scratch.open();
                }));
      }
      start.countDown();
      List<Database> databases = new ArrayList<>();
      try {
        for (Future<Database> f : opened) {
          databases.add(f.get(30, TimeUnit.SECONDS));
        }
        assertThat(appliedVersions(databases.getFirst())).isEqualTo(shippedVersions(TestDatabases.Kind.POSTGRESQL));
      } finally {
        databases.forEach(Database::close);
      }
    }
  }

  /**
   * Migrates {@code scratch} with the common migrations up to {@code version} only: a database as
   * an earlier Jevons left it.
   */
  private static void migrateCommonUpTo(TestDatabases.Scratch scratch, String version) {
    org.flywaydb.core.Flyway.configure(Database.class.getClassLoader())
        .dataSource(scratch.jdbcUrl(), scratch.user(), null)
        .locations(Database.MIGRATIONS)
        .placeholders(java.util.Map.of("binary_collation", (scratch.kind() == TestDatabases.Kind.SQLITE ? Dialect.SQLITE : Dialect.POSTGRESQL).binaryCollation()))
        .target(version)
        .load()
        .migrate();
  }

  /**
   * V9 lets a usage record journal its request's debit (account_version); records written before
   * it keep their debit entries and read as before, on both databases.
   */
  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void v9_keeps_earlier_usage_records_and_their_debit_entries(TestDatabases.Kind kind) throws Exception {
    try (TestDatabases.Scratch scratch = kind == TestDatabases.Kind.SQLITE ? TestDatabases.scratchSqlite(dir) : TestDatabases.scratchPostgres()) {
      migrateCommonUpTo(scratch, "7");
      try (Connection c = java.sql.DriverManager.getConnection(scratch.jdbcUrl(), scratch.user(), null); Statement s = c.createStatement()) {
        s.execute("INSERT INTO ledger_accounts VALUES ('acct', 900, 0, 2, 1, 2)");
        s.execute("INSERT INTO ledger_entries VALUES ('c:top', 'acct', 1, 'top_up', 1000, NULL, NULL, NULL, 1)");
        s.execute("INSERT INTO ledger_entries VALUES ('p:r0:0', 'acct', 2, 'debit_topped_up', -100, 'r0', NULL, NULL, 2)");
        s.execute("INSERT INTO usage_records VALUES ('r0', 'acct', 'key', 'm', NULL, 0, 1, 2, 100, 'ok', 2, 5, 1)");
      }
      try (Database after = scratch.open()) {
        assertThat(appliedVersions(after)).isEqualTo(shippedVersions(kind));
        assertThat(count(after, "SELECT COUNT(*) FROM usage_records WHERE id = 'r0' AND account_version IS NULL")).isEqualTo(1);
        LedgerJournalAudit audit = LedgerJournalAudit.of(after);
        assertThat(audit.postedDebitsNanos).isEqualTo(100);
        try (dev.jevons.billing.Ledger ledger = new dev.jevons.billing.Ledger(
            new SqlLedgerStore(after), java.time.Clock.systemUTC(),
            new dev.jevons.billing.Ledger.Options(65_536, 2_048, 100_000, 10_000, 10, 60_000, 0, 0), // hold and post in one batch
            dev.jevons.billing.Ledger.Mode.EXCLUSIVE)) {
          assertThat(ledger.reserveNew("r1", "acct", 50, java.time.Duration.ofMinutes(5)).get(10, TimeUnit.SECONDS).reserved()).isTrue();
          assertThat(ledger.post("r1", 30, new dev.jevons.billing.UsageRecord("r1", "acct", "key", "m", null, 0, 1, 2, 0, "ok", 3, 5, 1))
              .get(10, TimeUnit.SECONDS).status()).isEqualTo(dev.jevons.billing.SettleResult.Status.POSTED);
        }
        assertThat(count(after, "SELECT account_version FROM usage_records WHERE id = 'r1'")).isEqualTo(3);
        assertThat(count(after, "SELECT COUNT(*) FROM ledger_entries WHERE id = 'p:r1:0'")).isZero();
        assertThat(LedgerJournalAudit.of(after).postedDebitsNanos).isEqualTo(130);
      }
    }
  }

  /**
   * The versions of the migrations shipped in src/main/resources/db/migration (and db/sqlite for
   * SQLite), in order, so that each part adding its migration (V2 prices, V3 ledger, ...) need not
   * edit this test.
   */
  private static List<String> shippedVersions(TestDatabases.Kind kind) throws Exception {
    List<String> folders = kind == TestDatabases.Kind.SQLITE ? List.of("db/migration", "db/sqlite") : List.of("db/migration");
    List<String> versions = new ArrayList<>();
    for (String folder : folders) {
      java.net.URL location = Database.class.getClassLoader().getResource(folder);
      try (var files = java.nio.file.Files.list(Path.of(location.toURI()))) {
        files.map(f -> f.getFileName().toString())
            .filter(n -> n.matches("V\\d+__.*\\.sql"))
            .map(n -> n.substring(1, n.indexOf("__")))
            .forEach(versions::add);
      }
    }
    versions.sort(java.util.Comparator.comparingInt(Integer::parseInt));
    return versions;
  }

  /**
   * V8 (SQLite only) rebuilds the ledger and usage tables WITHOUT ROWID: a database that ran the
   * common migrations and holds rows keeps every row, and the ledger works on the new tables.
   */
  @Test
  void sqlite_v8_keeps_the_rows_of_a_database_migrated_before_it() throws Exception {
    try (TestDatabases.Scratch scratch = TestDatabases.scratchSqlite(dir)) {
      migrateCommonUpTo(scratch, "7");
      try (Connection c = java.sql.DriverManager.getConnection(scratch.jdbcUrl()); Statement s = c.createStatement()) {
        s.execute("INSERT INTO ledger_accounts VALUES ('acct', 900, 0, 3, 1, 2)");
        s.execute("INSERT INTO ledger_reservations VALUES ('r1', 'acct', 'pending', 50, 50, 0, 9999999999999, 9999999999999, 1, 1)");
        s.execute("INSERT INTO ledger_entries VALUES ('c:top', 'acct', 1, 'top_up', 1000, NULL, NULL, NULL, 1)");
        s.execute("INSERT INTO ledger_entries VALUES ('p:r0:0', 'acct', 3, 'debit_topped_up', -100, 'r0', NULL, NULL, 2)");
        s.execute("INSERT INTO usage_records VALUES ('r0', 'acct', 'key', 'm', NULL, 0, 1, 2, 100, 'ok', 2, 5, 1)");
      }
      try (Database after = scratch.open()) {
        assertThat(appliedVersions(after)).isEqualTo(shippedVersions(TestDatabases.Kind.SQLITE));
        assertThat(count(after, "SELECT COUNT(*) FROM ledger_entries")).isEqualTo(2);
        assertThat(count(after, "SELECT SUM(amount) FROM ledger_entries")).isEqualTo(900);
        assertThat(count(after, "SELECT topped_up FROM ledger_accounts WHERE account_id = 'acct'")).isEqualTo(900);
        assertThat(count(after, "SELECT COUNT(*) FROM ledger_reservations WHERE state = 'pending'")).isEqualTo(1);
        assertThat(count(after, "SELECT cost FROM usage_records WHERE id = 'r0'")).isEqualTo(100);
        for (String table : List.of("ledger_accounts", "ledger_reservations", "ledger_entries", "usage_records")) {
          assertThat(count(after, "SELECT COUNT(*) FROM sqlite_master WHERE name = '" + table + "' AND sql LIKE '%WITHOUT ROWID%'"))
              .as(table).isEqualTo(1);
        }
        assertThat(count(after, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN"
            + " ('ledger_reservations_pending_by_expiry', 'usage_records_account_time')")).isEqualTo(2);
        try (dev.jevons.billing.Ledger ledger = new dev.jevons.billing.Ledger(new SqlLedgerStore(after), java.time.Clock.systemUTC())) {
          assertThat(ledger.balance("acct").toppedUpNanos()).isEqualTo(900);
          assertThat(ledger.post("r1", 30).get(10, TimeUnit.SECONDS).status()).isEqualTo(dev.jevons.billing.SettleResult.Status.POSTED);
        }
        assertThat(count(after, "SELECT topped_up FROM ledger_accounts WHERE account_id = 'acct'")).isEqualTo(870);
      }
    }
  }

  /** A version is used by one folder only: PostgreSQL must never skip a common migration SQLite has. */
  @org.junit.jupiter.api.Test
  void sqlite_only_migrations_use_versions_no_common_migration_has() throws Exception {
    List<String> sqlite = shippedVersions(TestDatabases.Kind.SQLITE);
    assertThat(sqlite).doesNotHaveDuplicates();
    assertThat(sqlite).containsAll(shippedVersions(TestDatabases.Kind.POSTGRESQL));
  }

  private static List<String> appliedVersions(Database db) throws Exception {
    List<String> versions = new ArrayList<>();
    try (Connection c = db.dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT version FROM flyway_schema_history WHERE success AND version IS NOT NULL"
                    + " ORDER BY installed_rank")) {
      while (rs.next()) {
        versions.add(rs.getString(1));
      }
    }
    return versions;
  }

  private static long count(Database db, String sql) throws Exception {
    try (Connection c = db.dataSource().getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
