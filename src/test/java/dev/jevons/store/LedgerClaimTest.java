package dev.jevons.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.jevons.billing.CreditKind;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.LedgerUnavailableException;
import dev.jevons.billing.SettleResult;
import dev.jevons.billing.LedgerStore;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletionException;
import java.time.Clock;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The ledger's claim on its database: one exclusive ledger, or any number of shared ones, never
 * both; released when the ledger closes or its process dies. On two pools (two sessions, on
 * PostgreSQL) of one database, and across processes on SQLite.
 */
class LedgerClaimTest {

  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void an_exclusive_ledger_excludes_every_other_and_shared_ones_coexist(TestDatabases.Kind kind, @TempDir Path dir) {
    try (TestDatabases.Scratch scratch = TestDatabases.scratch(kind, dir);
        Database first = scratch.open();
        Database second = scratch.open()) {
      SqlLedgerStore one = new SqlLedgerStore(first);
      SqlLedgerStore two = new SqlLedgerStore(second);

      try (Ledger exclusive = new Ledger(one, Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE)) {
        assertThatThrownBy(() -> new Ledger(two, Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE))
            .isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("in use by another Jevons process")
            .hasMessageContaining("billing.ledger: shared");
        assertThatThrownBy(() -> new Ledger(two, Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.SHARED))
            .isInstanceOf(IllegalStateException.class)
            .hasMessageContaining("held by a Jevons process with billing.ledger: exclusive");
      }

      try (Ledger a = new Ledger(one, Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.SHARED);
          Ledger b = new Ledger(two, Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.SHARED)) {
        assertThat(a.mode()).isEqualTo(b.mode());
        assertThatThrownBy(() -> new Ledger(one, Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE))
            .isInstanceOf(IllegalStateException.class);
      }

      // Every claim was released on close.
      new Ledger(two, Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE).close();
    }
  }

  /**
   * The ledger's writer keeps one connection (and its prepared statements) from batch to batch,
   * yet between batches it holds no transaction, so other writers of the database are not locked
   * out (an IMMEDIATE transaction left open on SQLite would make them wait out the busy timeout),
   * and closing the ledger gives the connection back to the pool.
   */
  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void the_writer_keeps_its_connection_between_batches_without_locking_others_out(TestDatabases.Kind kind, @TempDir Path dir)
      throws Exception {
    try (TestDatabases.Scratch scratch = TestDatabases.scratch(kind, dir);
        Database db = scratch.open()) {
      var pool = ((com.zaxxer.hikari.HikariDataSource) db.dataSource()).getHikariPoolMXBean();
      try (Ledger ledger = new Ledger(new SqlLedgerStore(db), Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE)) {
        ledger.credit("c1", "acct", CreditKind.TOPPED_UP, 1_000_000_000L, null).get(10, TimeUnit.SECONDS);
        // The writer's connection, and on PostgreSQL the session that holds the claim's lock.
        int held = pool.getActiveConnections();
        assertThat(held).isEqualTo(kind == TestDatabases.Kind.SQLITE ? 1 : 2);
        for (int i = 0; i < 3; i++) {
          ledger.reserveNew("r" + i, "acct", 1_000L, Duration.ofMinutes(1)).get(10, TimeUnit.SECONDS);
          assertThat(ledger.post("r" + i, 500L).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
          assertThat(pool.getActiveConnections()).as("the same connections, batch after batch").isEqualTo(held);
        }
        try (Connection other = db.dataSource().getConnection(); Statement s = other.createStatement()) {
          s.setQueryTimeout(2);
          s.execute("UPDATE ledger_accounts SET updated_at = updated_at WHERE account_id = 'nobody'");
        }
        assertThat(ledger.balance("acct").availableNanos()).isEqualTo(1_000_000_000L - 1_500L);
      }
      assertThat(pool.getActiveConnections()).as("given back on close").isZero();
    }
  }

  /**
   * A batch that fails in the database (here a reused reservation id, which {@code reserveNew}
   * promises never happens, breaks the unique key) has the pool drop the writer's connection, so
   * no half-finished transaction is lent to anyone; the next batch gets a fresh one and succeeds,
   * and other writers are not locked out.
   */
  @ParameterizedTest
  @MethodSource("dev.jevons.store.TestDatabases#kinds")
  void a_failed_batch_drops_the_writers_connection_and_the_next_batch_succeeds(TestDatabases.Kind kind, @TempDir Path dir)
      throws Exception {
    try (TestDatabases.Scratch scratch = TestDatabases.scratch(kind, dir);
        Database db = scratch.open()) {
      SqlLedgerStore store = new SqlLedgerStore(db);
      try (Ledger first = new Ledger(store, Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE)) {
        first.credit("c1", "acct", CreditKind.TOPPED_UP, 1_000_000L, null).get(10, TimeUnit.SECONDS);
        first.reserveNew("r1", "acct", 1_000L, Duration.ofMinutes(1)).get(10, TimeUnit.SECONDS);
        assertThat(first.post("r1", 100L).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
      }
      try (Ledger again = new Ledger(store, Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE)) {
        again.reserveNew("r1", "acct", 1_000L, Duration.ofMinutes(1)).get(10, TimeUnit.SECONDS); // answered from memory
        assertThatThrownBy(() -> again.post("r1", 100L).get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(LedgerUnavailableException.class);

        again.reserveNew("r2", "acct", 1_000L, Duration.ofMinutes(1)).get(10, TimeUnit.SECONDS);
        assertThat(again.post("r2", 200L).get(10, TimeUnit.SECONDS).status()).isEqualTo(SettleResult.Status.POSTED);
        try (Connection other = db.dataSource().getConnection(); Statement s = other.createStatement()) {
          s.setQueryTimeout(2);
          s.execute("UPDATE ledger_accounts SET updated_at = updated_at WHERE account_id = 'nobody'");
        }
        assertThat(again.balance("acct").toppedUpNanos()).isEqualTo(1_000_000L - 100L - 200L);
      }
      var pool = ((com.zaxxer.hikari.HikariDataSource) db.dataSource()).getHikariPoolMXBean();
      assertThat(pool.getActiveConnections()).as("nothing kept after close").isZero();
    }
  }

  @Test
  void an_exclusive_ledger_whose_postgres_session_ends_takes_its_claim_again() throws Exception {
    try (TestDatabases.Scratch scratch = TestDatabases.scratchPostgres();
        Database first = scratch.open();
        Database second = scratch.open();
        Ledger ledger = new Ledger(new SqlLedgerStore(first), Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE)) {
      ledger.credit("top", "acct", CreditKind.TOPPED_UP, 10_000, null).join();
      ledger.reserve("held", "acct", 1_000, Duration.ofMinutes(5)).join();
      ledger.flush().join();

      // End the claim's session from outside, as a server restart or a dropped connection would.
      try (Connection c = second.dataSource().getConnection(); Statement st = c.createStatement()) {
        st.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()");
      }

      // The ledger notices within its check interval and claims again: then another claim is refused.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      boolean claimedAgain = false;
      while (!claimedAgain && System.nanoTime() < deadline) {
        try {
          new SqlLedgerStore(second).claim(Ledger.Mode.EXCLUSIVE).close(); // free for a moment: not yet
          Thread.sleep(200);
        } catch (IllegalStateException held) {
          claimedAgain = true;
        }
      }
      assertThat(claimedAgain).as("the ledger took its claim again").isTrue();
      SettleResult posted = null;
      while (posted == null && System.nanoTime() < deadline) {
        try {
          posted = ledger.post("held", 600).join();
        } catch (CompletionException refusedWhileLost) {
          assertThat(refusedWhileLost).hasCauseInstanceOf(LedgerUnavailableException.class);
          Thread.sleep(100);
        }
      }
      assertThat(posted).isNotNull();
      assertThat(posted.status()).as("the written hold reloads from the store").isEqualTo(SettleResult.Status.POSTED);
      assertThat(ledger.balance("acct").totalNanos()).isEqualTo(9_400);
    }
  }

  @Test
  void one_sqlite_file_reached_by_two_names_is_one_claim(@TempDir Path dir) throws Exception {
    TestDatabases.Scratch scratch = TestDatabases.scratchSqlite(dir);
    Path file = Database.sqliteFile(scratch.jdbcUrl());
    String otherName = "jdbc:sqlite:" + file.getParent().resolve("..").resolve(file.getParent().getFileName()).resolve(file.getFileName());
    try (Database first = scratch.open(); Database second = Database.open(otherName);
        Ledger exclusive = new Ledger(new SqlLedgerStore(first), Clock.systemUTC(), Ledger.Options.DEFAULTS, Ledger.Mode.EXCLUSIVE)) {
      assertThat(exclusive.mode()).isEqualTo(Ledger.Mode.EXCLUSIVE);
      assertThatThrownBy(() -> new SqlLedgerStore(second).claim(Ledger.Mode.EXCLUSIVE))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("in use by another Jevons process");
    }
  }

  @Test
  void a_sqlite_claim_excludes_another_process_until_that_process_lets_go(@TempDir Path dir) throws Exception {
    TestDatabases.Scratch scratch = TestDatabases.scratchSqlite(dir);
    try (Database db = scratch.open()) {
      LedgerStore store = new SqlLedgerStore(db);
      Path lockFile = Path.of(Database.sqliteFile(scratch.jdbcUrl()).toRealPath() + ".ledger.lock");
      Process holder = new ProcessBuilder(javaBinary(), "-cp", System.getProperty("java.class.path"), ClaimHolder.class.getName(),
          lockFile.toString())
          .redirectErrorStream(true)
          .start();
      try {
        BufferedReader out = new BufferedReader(new InputStreamReader(holder.getInputStream(), StandardCharsets.UTF_8));
        assertThat(out.readLine()).isEqualTo("held");

        assertThatThrownBy(() -> store.claim(Ledger.Mode.SHARED)).isInstanceOf(IllegalStateException.class);

        holder.getOutputStream().close(); // the holder exits, and its lock goes with it
        assertThat(holder.waitFor(30, TimeUnit.SECONDS)).isTrue();
        store.claim(Ledger.Mode.EXCLUSIVE).close();
      } finally {
        holder.destroyForcibly();
      }
    }
  }

  private static String javaBinary() {
    return ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
  }

  /** Another process: claims the lock file exclusively, says so, and holds it until stdin closes. */
  public static final class ClaimHolder {
    public static void main(String[] args) throws Exception {
      Claims.Claim claim = Claims.onFile(Path.of(args[0]), true);
      System.out.println(claim == null ? "refused" : "held");
      System.out.flush();
      while (System.in.read() >= 0) {
        // wait for the parent to close our stdin
      }
      if (claim != null) {
        claim.close();
      }
    }
  }
}
