import dev.jevons.store.Database;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.sql.Types;
import java.util.Locale;

/**
 * What the ledger's SQLite writes cost per billed request, without the gateway around them: the
 * rows a gateway charge writes (a debit entry, a usage record with its index, the account's
 * update once per commit), in commits of a given size, on Jevons' own schema (migrated by {@link
 * Database}), with the CPU of this one thread measured. Separates the row cost from the per-commit
 * cost (BEGIN/COMMIT, WAL frames, the sync), which the committer's batch size amortizes.
 *
 * <pre>
 * mvn -q -DskipTests package
 * java -cp 'target/classes:target/libs/*' bench/SqliteRowCost.java [ROWS] [REQUESTS_PER_COMMIT] [REQUESTS] [SYNC] [PAGE_SIZE]
 *   ROWS: both (default) | entry | usage | both-noindex; SYNC: FULL (Jevons' setting) | NORMAL | OFF
 *   | DATASYNC (NORMAL, plus an fdatasync of the WAL file after each commit, as SQLite's FULL but
 *   with fdatasync where this build of SQLite calls fsync)
 * </pre>
 *
 * Prints CPU and wall time per request of the second of two equal rounds (the first warms the JIT).
 */
public final class SqliteRowCost {
  public static void main(String[] args) throws Exception {
    String rows = args.length > 0 ? args[0] : "both";
    int perCommit = args.length > 1 ? Integer.parseInt(args[1]) : 15;
    int requests = args.length > 2 ? Integer.parseInt(args[2]) : 30_000;
    String sync = args.length > 3 ? args[3] : "FULL";
    int pageSize = args.length > 4 ? Integer.parseInt(args[4]) : 4096;
    if (!rows.matches("both|entry|usage|both-noindex") || !sync.matches("FULL|NORMAL|OFF|DATASYNC") || perCommit < 1 || requests < perCommit) {
      System.err.println("usage: SqliteRowCost [both|entry|usage|both-noindex] [requests per commit] [requests] [FULL|NORMAL|OFF|DATASYNC] [page size]");
      System.exit(2);
    }
    boolean entries = !rows.equals("usage");
    boolean usage = !rows.equals("entry");
    Path dir = Files.createTempDirectory("sqlite-row-cost");
    Path file = dir.resolve("ledger.db");
    try (Connection pre = DriverManager.getConnection("jdbc:sqlite:" + file); Statement s = pre.createStatement()) {
      s.execute("PRAGMA page_size=" + pageSize); // before the first table, so it sticks
      s.execute("VACUUM");
    }
    ThreadMXBean mx = ManagementFactory.getThreadMXBean();
    try (Database db = Database.open("jdbc:sqlite:" + file);
        Connection c = db.dataSource().getConnection();
        Statement s = c.createStatement()) {
      boolean datasync = sync.equals("DATASYNC");
      s.execute("PRAGMA synchronous=" + (datasync ? "NORMAL" : sync));
      Path wal = dir.resolve("ledger.db-wal");
      if (rows.equals("both-noindex")) {
        s.execute("DROP INDEX usage_records_account_time");
      }
      s.execute("INSERT INTO ledger_accounts VALUES ('acct-1', 1000000000000000000, 0, 1, 0, 0)");
      PreparedStatement begin = c.prepareStatement("BEGIN IMMEDIATE");
      PreparedStatement commit = c.prepareStatement("COMMIT");
      PreparedStatement account = c.prepareStatement(
          "UPDATE ledger_accounts SET topped_up = ?, credit_limit = ?, version = ?, updated_at = ? WHERE account_id = ? AND version = ?");
      PreparedStatement entry = c.prepareStatement("INSERT INTO ledger_entries (id, account_id, account_version, kind, amount,"
          + " reservation_id, grant_id, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
      PreparedStatement record = c.prepareStatement("INSERT INTO usage_records (id, account_id, key_id, model, price_version,"
          + " prompt_cache_hit_tokens, prompt_cache_miss_tokens, completion_tokens, cost, outcome, created_at, duration_ms, ttft_ms)"
          + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      long version = 1;
      long seq = 0;
      for (int round = 1; round <= 2; round++) {
        long cpu0 = mx.getCurrentThreadCpuTime();
        long wall0 = System.nanoTime();
        for (int done = 0; done < requests; done += perCommit) {
          begin.execute();
          for (int i = 0; i < perCommit; i++) {
            long now = System.currentTimeMillis();
            String id = String.format(Locale.ROOT, "%013x%020x", now, seq++); // time-ordered, as request ids are
            if (entries) {
              entry.setString(1, "p:" + id + ":0");
              entry.setString(2, "acct-1");
              entry.setLong(3, version + i + 1);
              entry.setString(4, "debit_topped_up");
              entry.setLong(5, -1_234_567);
              entry.setString(6, id);
              entry.setNull(7, Types.VARCHAR);
              entry.setNull(8, Types.BIGINT);
              entry.setLong(9, now);
              entry.addBatch();
            }
            if (usage) {
              record.setString(1, id);
              record.setString(2, "acct-1");
              record.setString(3, "key_0123456789ab");
              record.setString(4, "sim-chat");
              record.setString(5, "pv_0123456789abcdef");
              record.setLong(6, 0);
              record.setLong(7, 12);
              record.setLong(8, 16);
              record.setLong(9, 1_234_567);
              record.setString(10, "ok");
              record.setLong(11, now);
              record.setLong(12, 3);
              record.setLong(13, 1);
              record.addBatch();
            }
          }
          if (entries) {
            entry.executeBatch();
          }
          if (usage) {
            record.executeBatch();
          }
          account.setLong(1, 1_000_000_000_000_000_000L - seq);
          account.setLong(2, 0);
          account.setLong(3, version + perCommit);
          account.setLong(4, System.currentTimeMillis());
          account.setString(5, "acct-1");
          account.setLong(6, version);
          account.executeUpdate();
          version += perCommit;
          commit.execute();
          if (datasync) {
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(wal, java.nio.file.StandardOpenOption.WRITE)) {
              ch.force(false);
            }
          }
        }
        if (round == 2) {
          System.out.printf(Locale.ROOT, "rows %s, %d requests per commit, synchronous=%s, page %d: CPU %.1f us, wall %.1f us per request%n",
              rows, perCommit, sync, pageSize, (mx.getCurrentThreadCpuTime() - cpu0) / 1e3 / requests,
              (System.nanoTime() - wall0) / 1e3 / requests);
        }
      }
    } finally {
      try (var files = Files.list(dir)) {
        for (Path p : files.toList()) {
          Files.deleteIfExists(p);
        }
      }
      Files.deleteIfExists(dir);
    }
  }
}
