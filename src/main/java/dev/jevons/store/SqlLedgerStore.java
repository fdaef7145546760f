package dev.jevons.store;

import dev.jevons.billing.EntryKind;
import dev.jevons.billing.LedgerConflictException;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.LedgerStore;
import dev.jevons.billing.UsageLog;
import dev.jevons.billing.UsageRecord;
import dev.jevons.billing.ReservationState;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * {@link LedgerStore} on the V3 ledger tables, in SQL that runs on SQLite and PostgreSQL alike.
 * Reads are auto-committed (on SQLite they never take the write lock); {@link #write} is one
 * transaction of batched statements. Lookups by many ids go in chunks of {@value #IN_CHUNK} per
 * statement, well under SQLite's 32,766 parameter limit.
 */
public final class SqlLedgerStore implements LedgerStore, UsageLog {
  private static final String USAGE_COLUMNS =
      "id, account_id, key_id, model, price_version, prompt_cache_hit_tokens, prompt_cache_miss_tokens, completion_tokens,"
          + " cost, outcome, created_at, duration_ms, ttft_ms";
  static final int IN_CHUNK = 500;
  static final int ROWS_PER_STATEMENT = 200;
  /** A writer's connection idle this long is checked before its next batch. */
  static final long WRITER_IDLE_CHECK_NANOS = TimeUnit.SECONDS.toNanos(10);
  /** How long closing the claim waits for a batch being written before leaving the connection to the pool's close. */
  static final long WRITER_CLOSE_WAIT_SECONDS = 10;

  private static final String RESERVATION_COLUMNS =
      "id, account_id, state, original_hold, hold, posted, original_expires_at, expires_at, created_at, updated_at";
  private static final String ENTRY_COLUMNS =
      "id, account_id, account_version, kind, amount, reservation_id, grant_id, expires_at, created_at";

  private final Database database;
  private final DataSource dataSource;
  private final ReentrantLock writerLock = new ReentrantLock();
  /** The writer's connection, open from the first batch until the claim is closed; under writerLock. */
  private @Nullable Writer writer;

  public SqlLedgerStore(Database database) {
    this.database = database;
    this.dataSource = database.dataSource();
  }

  @Override
  public Map<String, AccountRow> load(Collection<String> accountIds) {
    Map<String, long[]> accounts = new HashMap<>();
    Map<String, List<GrantRow>> grants = new HashMap<>();
    Map<String, List<ReservationRow>> pending = new HashMap<>();
    try (Connection c = dataSource.getConnection()) {
      // Read all three tables in one snapshot: without it a concurrent batch could show an account
      // row of one version beside reservations of another. (PostgreSQL: REPEATABLE READ; SQLite:
      // a read transaction in WAL mode is a snapshot and takes no write lock.)
      boolean sqlite = database.dialect() == Dialect.SQLITE;
      if (!sqlite) {
        c.setTransactionIsolation(Connection.TRANSACTION_REPEATABLE_READ);
        c.setAutoCommit(false);
      } else {
        c.setAutoCommit(true);
        try (var s = c.createStatement()) {
          s.execute("BEGIN DEFERRED");
        }
      }
      try {
        for (List<String> chunk : chunks(accountIds)) {
          String in = placeholders(chunk.size());
          try (PreparedStatement ps = c.prepareStatement(
              "SELECT account_id, version, topped_up, credit_limit FROM ledger_accounts WHERE account_id IN (" + in + ")")) {
            bind(ps, chunk);
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) {
                accounts.put(rs.getString(1), new long[] {rs.getLong(2), rs.getLong(3), rs.getLong(4)});
              }
            }
          }
          try (PreparedStatement ps = c.prepareStatement(
              "SELECT id, account_id, amount, remaining, expires_at, created_at FROM ledger_grants"
                  + " WHERE remaining > 0 AND account_id IN (" + in + ")")) {
            bind(ps, chunk);
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) {
                GrantRow g = new GrantRow(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getLong(5), rs.getLong(6));
                grants.computeIfAbsent(g.accountId(), k -> new ArrayList<>()).add(g);
              }
            }
          }
          try (PreparedStatement ps = c.prepareStatement(
              "SELECT " + RESERVATION_COLUMNS + " FROM ledger_reservations WHERE state = 'pending' AND account_id IN (" + in + ")")) {
            bind(ps, chunk);
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) {
                ReservationRow r = reservation(rs);
                pending.computeIfAbsent(r.accountId(), k -> new ArrayList<>()).add(r);
              }
            }
          }
        }
      } finally {
        if (sqlite) {
          try (var s = c.createStatement()) {
            s.execute("COMMIT");
          }
        } else {
          c.commit();
        }
      }
    } catch (SQLException e) {
      throw failure("load ledger accounts", e);
    }
    Map<String, AccountRow> rows = new HashMap<>();
    accounts.forEach((id, v) -> rows.put(id, new AccountRow(
        id, v[0], v[1], v[2], grants.getOrDefault(id, List.of()), pending.getOrDefault(id, List.of()))));
    return rows;
  }

  @Override
  public Map<String, ReservationRow> findReservations(Collection<String> reservationIds) {
    return findByIds("SELECT " + RESERVATION_COLUMNS + " FROM ledger_reservations WHERE id IN ", reservationIds,
        SqlLedgerStore::reservation, ReservationRow::id, "find reservations");
  }

  @Override
  public Map<String, EntryRow> findEntries(Collection<String> entryIds) {
    return findByIds("SELECT " + ENTRY_COLUMNS + " FROM ledger_entries WHERE id IN ", entryIds,
        SqlLedgerStore::entry, EntryRow::id, "find ledger entries");
  }

  @Override
  public List<String> accountsWithDue(long nowMillis, int limit) {
    String sql = "SELECT account_id FROM ledger_reservations WHERE state = 'pending' AND expires_at <= ?"
        + " UNION SELECT account_id FROM ledger_grants WHERE remaining > 0 AND expires_at <= ? LIMIT ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setLong(1, nowMillis);
      ps.setLong(2, nowMillis);
      ps.setInt(3, limit);
      List<String> ids = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          ids.add(rs.getString(1));
        }
      }
      return ids;
    } catch (SQLException e) {
      throw failure("find due reservations and grants", e);
    }
  }

  /**
   * Writes the batch in one transaction on the writer's own connection, which it keeps with its
   * prepared statements from batch to batch (until its store's claim is closed or a write fails):
   * SQLite compiles no statement again (measured: preparing them anew per batch was ~6 us of a
   * billed request's CPU), and the pool is not asked for a connection per batch. A second ledger
   * writing through this store object at the same moment gets a pooled connection for its batch.
   */
  @Override
  public void write(Batch batch) {
    if (!writerLock.tryLock()) {
      Writer other = new Writer();
      boolean written = false;
      try {
        other.write(batch);
        written = true;
      } finally {
        other.close(!written);
      }
      return;
    }
    try {
      if (writer != null && !writer.usable()) {
        writer.close(true);
        writer = null;
      }
      if (writer == null) {
        writer = new Writer();
      }
      writer.write(batch);
    } catch (LedgerConflictException e) {
      throw e; // rolled back; the connection and its statements are as good as before
    } catch (RuntimeException | Error e) {
      // The connection may be broken or still in a transaction, a statement may hold a half-built
      // batch: the pool drops the connection rather than lend it to anyone else.
      if (writer != null) {
        writer.close(true);
        writer = null;
      }
      throw e;
    } finally {
      writerLock.unlock();
    }
  }

  /** Gives the writer's connection back; waits a bounded time for a write in progress. */
  private void closeWriter() {
    try {
      if (!writerLock.tryLock(WRITER_CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
        return; // a write is stuck (in the database): it closes nothing; the pool's close will
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return;
    }
    try {
      if (writer != null) {
        writer.close(false);
        writer = null;
      }
    } finally {
      writerLock.unlock();
    }
  }

  /**
   * A connection for writing batches and the statements prepared on it. On SQLite it stays in
   * auto-commit mode and brackets each batch with BEGIN IMMEDIATE and COMMIT itself: sqlite-jdbc
   * would begin the next transaction at once after a commit, and an IMMEDIATE one held between
   * batches would lock every other writer out.
   */
  private final class Writer {
    private final Connection connection;
    private final Map<String, PreparedStatement> statements = new HashMap<>();
    private final boolean sqlite = database.dialect() == Dialect.SQLITE;
    private long lastUsedNanos = System.nanoTime();

    Writer() {
      Connection c = null;
      try {
        c = dataSource.getConnection();
        if (!sqlite) {
          c.setAutoCommit(false);
        }
      } catch (SQLException e) {
        if (c != null) {
          database.discard(c);
        }
        throw failure("open the ledger writer's connection", e);
      }
      connection = c;
    }

    /**
     * Whether the connection can still be used: after an idle spell it is checked first (a
     * PostgreSQL server restarted, or a network path that drops idle connections), as the pool
     * would check it on lending; a connection in use is never checked by the pool.
     */
    boolean usable() {
      if (System.nanoTime() - lastUsedNanos < WRITER_IDLE_CHECK_NANOS) {
        return true;
      }
      try {
        return connection.isValid(2);
      } catch (SQLException e) {
        return false;
      }
    }

    void write(Batch batch) {
      lastUsedNanos = System.nanoTime();
      try {
        if (sqlite) {
          statement("BEGIN IMMEDIATE").execute();
        }
        try {
          writeRows(this, batch);
          if (sqlite) {
            statement("COMMIT").execute();
          } else {
            connection.commit();
          }
        } catch (SQLException | RuntimeException | Error e) {
          rollback(e);
          throw e;
        }
      } catch (SQLException e) {
        throw failure("write a ledger batch", e);
      }
    }

    private void rollback(Throwable failure) {
      try {
        if (sqlite) {
          statement("ROLLBACK").execute();
        } else {
          connection.rollback();
        }
      } catch (SQLException e) {
        failure.addSuppressed(e);
      }
    }

    /** A statement prepared once on this connection and kept; its batch is empty after each execution. */
    PreparedStatement statement(String sql) throws SQLException {
      PreparedStatement ps = statements.get(sql);
      if (ps == null) {
        ps = connection.prepareStatement(sql);
        statements.put(sql, ps);
      }
      return ps;
    }

    /** A statement for one use, of SQL that varies with the batch (rare or PostgreSQL-only paths). */
    PreparedStatement oneOff(String sql) throws SQLException {
      return connection.prepareStatement(sql);
    }

    /** Gives the connection back to the pool, or, when {@code broken}, has the pool drop it. */
    void close(boolean broken) {
      if (broken) {
        database.discard(connection);
        return;
      }
      try {
        connection.close(); // closes the statements; Hikari takes the connection back
      } catch (SQLException e) {
        database.discard(connection);
      }
    }
  }

  /** The batch's rows, in the writer's open transaction. */
  private void writeRows(Writer c, Batch batch) throws SQLException {
    writeAccounts(c, batch.accounts());
    batchInsert(c, "ledger_grants (id, account_id, amount, remaining, expires_at, created_at)", 6, batch.newGrants(), (ps, i, g) -> {
      ps.setString(i, g.id());
      ps.setString(i + 1, g.accountId());
      ps.setLong(i + 2, g.amountNanos());
      ps.setLong(i + 3, g.remainingNanos());
      ps.setLong(i + 4, g.expiresAtMillis());
      ps.setLong(i + 5, g.createdAtMillis());
    });
    updateRows(c, "UPDATE ledger_grants SET remaining = ? WHERE id = ?", batch.changedGrants(), (ps, i, g) -> {
      ps.setLong(i, g.remainingNanos());
      ps.setString(i + 1, g.id());
    });
    batchInsert(c, "ledger_reservations (" + RESERVATION_COLUMNS + ")", 10, batch.newReservations(), (ps, i, r) -> {
      ps.setString(i, r.id());
      ps.setString(i + 1, r.accountId());
      ps.setString(i + 2, stateCode(r.state()));
      ps.setLong(i + 3, r.originalHoldNanos());
      ps.setLong(i + 4, r.holdNanos());
      ps.setLong(i + 5, r.postedNanos());
      ps.setLong(i + 6, r.originalExpiresAtMillis());
      ps.setLong(i + 7, r.expiresAtMillis());
      ps.setLong(i + 8, r.createdAtMillis());
      ps.setLong(i + 9, r.updatedAtMillis());
    });
    updateRows(c, "UPDATE ledger_reservations SET state = ?, hold = ?, posted = ?, expires_at = ?, updated_at = ? WHERE id = ?",
        batch.changedReservations(), (ps, i, r) -> {
          ps.setString(i, stateCode(r.state()));
          ps.setLong(i + 1, r.holdNanos());
          ps.setLong(i + 2, r.postedNanos());
          ps.setLong(i + 3, r.expiresAtMillis());
          ps.setLong(i + 4, r.updatedAtMillis());
          ps.setString(i + 5, r.id());
        });
    batchInsert(c, "ledger_entries (" + ENTRY_COLUMNS + ")", 9, batch.entries(), (ps, i, e) -> {
      ps.setString(i, e.id());
      ps.setString(i + 1, e.accountId());
      ps.setLong(i + 2, e.accountVersion());
      ps.setString(i + 3, e.kind().name().toLowerCase(Locale.ROOT));
      ps.setLong(i + 4, e.amountNanos());
      setNullableString(ps, i + 5, e.reservationId());
      setNullableString(ps, i + 6, e.grantId());
      if (e.expiresAtMillis() == null) {
        ps.setNull(i + 7, Types.BIGINT);
      } else {
        ps.setLong(i + 7, e.expiresAtMillis());
      }
      ps.setLong(i + 8, e.createdAtMillis());
    });
    batchInsert(c, "usage_records (" + USAGE_COLUMNS + ", account_version)", 14, batch.usage(), (ps, i, row) -> {
      UsageRecord u = row.record();
      ps.setString(i, u.id());
      ps.setString(i + 1, u.accountId());
      ps.setString(i + 2, u.keyId());
      ps.setString(i + 3, u.model());
      ps.setString(i + 4, u.priceVersionId());
      ps.setLong(i + 5, u.promptCacheHitTokens());
      ps.setLong(i + 6, u.promptCacheMissTokens());
      ps.setLong(i + 7, u.completionTokens());
      ps.setLong(i + 8, u.costNanos());
      ps.setString(i + 9, u.outcome());
      ps.setLong(i + 10, u.createdAtMillis());
      ps.setLong(i + 11, u.durationMillis());
      ps.setLong(i + 12, u.timeToFirstTokenMillis());
      Long version = row.accountVersion();
      if (version == null) {
        ps.setNull(i + 13, Types.BIGINT);
      } else {
        ps.setLong(i + 13, version);
      }
    });
  }

  /**
   * Claims the ledger of this database ({@link Claims}): exclusively for a ledger that answers
   * from memory, shared for ledgers on several nodes.
   */
  @Override
  public Claim claim(Ledger.Mode mode) {
    boolean exclusive = mode == Ledger.Mode.EXCLUSIVE;
    Claims.Claim claim = database.claim("ledger", exclusive);
    if (claim == null) {
      throw new IllegalStateException(exclusive
          ? "the ledger in " + database.url() + " is in use by another Jevons process; with billing.ledger: exclusive (the"
              + " default) only one process may write it. To run several nodes on one database, set billing.ledger: shared on"
              + " every node."
          : "the ledger in " + database.url() + " is held by a Jevons process with billing.ledger: exclusive; to run several"
              + " nodes on one database, set billing.ledger: shared on every node.");
    }
    return new Claim() {
      @Override
      public boolean held() {
        return claim.held();
      }

      @Override
      public void close() {
        closeWriter(); // a ledger's writer is done when its claim is
        claim.close();
      }
    };
  }

  @Override
  public List<UsageRecord> between(String accountId, long fromMillis, long toMillis, UsageLog.@Nullable Position after, int limit) {
    // A plain read, outside a transaction: on SQLite a transaction would take the write lock the
    // ledger's writer needs.
    try (Connection c = database.dataSource().getConnection()) {
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT " + USAGE_COLUMNS + " FROM usage_records WHERE account_id = ? AND created_at >= ? AND created_at < ?"
              + (after == null ? "" : " AND (created_at > ? OR (created_at = ? AND id > ?))")
              + " ORDER BY created_at, id LIMIT ?")) {
        int i = 1;
        ps.setString(i++, accountId);
        ps.setLong(i++, fromMillis);
        ps.setLong(i++, toMillis);
        if (after != null) {
          ps.setLong(i++, after.createdAtMillis());
          ps.setLong(i++, after.createdAtMillis());
          ps.setString(i++, after.id());
        }
        ps.setInt(i, limit);
        List<UsageRecord> out = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            out.add(new UsageRecord(
                rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getString(5), rs.getLong(6), rs.getLong(7),
                rs.getLong(8), rs.getLong(9), rs.getString(10), rs.getLong(11), rs.getLong(12), rs.getLong(13)));
          }
        }
        return out;
      }
    } catch (SQLException e) {
      throw new StoreException("cannot read usage records of " + accountId + ": " + e.getMessage(), e);
    }
  }

  @Override
  public Optional<UsageLog.Position> position(String accountId, String id) {
    try (Connection c = database.dataSource().getConnection();
        PreparedStatement ps = c.prepareStatement("SELECT created_at FROM usage_records WHERE id = ? AND account_id = ?")) {
      ps.setString(1, id);
      ps.setString(2, accountId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(new UsageLog.Position(rs.getLong(1), id)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw new StoreException("cannot read usage record " + id + ": " + e.getMessage(), e);
    }
  }

  /**
   * Inserts new accounts and updates the others where their version is still the expected one.
   * Any row not written means another writer got there first: the exception rolls the transaction
   * back. On PostgreSQL the rows are first locked in account id order (the batch comes sorted), so
   * two nodes' batches cannot deadlock; SQLite's transaction already holds the database's write lock.
   */
  private void writeAccounts(Writer c, List<AccountWrite> accounts) throws SQLException {
    List<AccountWrite> inserts = new ArrayList<>();
    List<AccountWrite> updates = new ArrayList<>();
    for (AccountWrite a : accounts) {
      (a.expectedVersion() == 0 ? inserts : updates).add(a);
    }
    int inserted = insertRows(c, "ledger_accounts (account_id, topped_up, credit_limit, version, created_at, updated_at)", 6, inserts,
        " ON CONFLICT (account_id) DO NOTHING", (ps, i, a) -> {
          ps.setString(i, a.accountId());
          ps.setLong(i + 1, a.toppedUpNanos());
          ps.setLong(i + 2, a.creditLimitNanos());
          ps.setLong(i + 3, a.newVersion());
          ps.setLong(i + 4, a.atMillis());
          ps.setLong(i + 5, a.atMillis());
        });
    if (inserted != inserts.size()) {
      throw new LedgerConflictException(ids(inserts));
    }
    if (updates.isEmpty()) {
      return;
    }
    if (database.dialect() == Dialect.POSTGRESQL) {
      for (List<AccountWrite> chunk : chunks(updates, ROWS_PER_STATEMENT)) {
        try (PreparedStatement ps = c.oneOff(
            "SELECT account_id FROM ledger_accounts WHERE account_id IN (" + placeholders(chunk.size()) + ") ORDER BY account_id FOR UPDATE")) {
          bind(ps, chunk.stream().map(AccountWrite::accountId).toList());
          ps.executeQuery().close();
        }
      }
    }
    int updated = updateRows(c,
        "UPDATE ledger_accounts SET topped_up = ?, credit_limit = ?, version = ?, updated_at = ? WHERE account_id = ? AND version = ?",
        updates, (ps, i, a) -> {
          ps.setLong(i, a.toppedUpNanos());
          ps.setLong(i + 1, a.creditLimitNanos());
          ps.setLong(i + 2, a.newVersion());
          ps.setLong(i + 3, a.atMillis());
          ps.setString(i + 4, a.accountId());
          ps.setLong(i + 5, a.expectedVersion());
        });
    if (updated != updates.size()) {
      // Which ones is not worth a query: the ledger forgets all of them and applies the batch again.
      throw new LedgerConflictException(ids(updates));
    }
  }

  private static TreeSet<String> ids(List<AccountWrite> writes) {
    TreeSet<String> ids = new TreeSet<>();
    writes.forEach(w -> ids.add(w.accountId()));
    return ids;
  }

  @FunctionalInterface
  private interface RowBinder<T> {
    /** Binds {@code row}'s values from parameter index {@code first} on. */
    void bind(PreparedStatement ps, int first, T row) throws SQLException;
  }

  /**
   * Inserts {@code rows} with one single-row statement, prepared once and executed as a JDBC
   * batch. Measured (docs/BENCHMARKS.md, ledger): multi-row VALUES statements of varying length
   * made SQLite compile a new statement of up to 200 x width parameters for every chunk of every
   * batch, 28% of the ledger writer's time; a single-row statement compiles once per batch and
   * steps once per row. On PostgreSQL the driver's {@code reWriteBatchedInserts} turns the batch
   * back into multi-row statements of a few fixed sizes, which the server keeps prepared.
   * Update counts are not checked here (the driver may rewrite them away); only account writes,
   * which detect conflicts by their counts, use {@link #insertRows}.
   */
  private static <T> void batchInsert(Writer c, String tableAndColumns, int width, List<T> rows, RowBinder<T> binder) throws SQLException {
    if (rows.isEmpty()) {
      return;
    }
    PreparedStatement ps = c.statement("INSERT INTO " + tableAndColumns + " VALUES (" + placeholders(width) + ")");
    for (T row : rows) {
      binder.bind(ps, 1, row);
      ps.addBatch();
    }
    ps.executeBatch();
  }

  /**
   * Multi-row INSERTs of up to {@value #ROWS_PER_STATEMENT} rows each, whose update count is
   * exact on both databases; used only for new accounts (rare: an account's first operation),
   * where the count detects another node's insert. Everything else uses {@link #batchInsert}.
   */
  private static <T> int insertRows(Writer c, String tableAndColumns, int width, List<T> rows, String suffix, RowBinder<T> binder)
      throws SQLException {
    int written = 0;
    String row = "(" + placeholders(width) + ")";
    for (List<T> chunk : chunks(rows, ROWS_PER_STATEMENT)) {
      String sql = "INSERT INTO " + tableAndColumns + " VALUES " + (row + ",").repeat(chunk.size() - 1) + row + suffix;
      try (PreparedStatement ps = c.oneOff(sql)) {
        for (int r = 0; r < chunk.size(); r++) {
          binder.bind(ps, 1 + r * width, chunk.get(r));
        }
        written += ps.executeUpdate();
      }
    }
    return written;
  }

  /**
   * Runs the single-row UPDATE {@code sql} once per row, as a JDBC batch of one statement prepared
   * once (see batchInsert): each row is found by its key on both databases. Answers the rows
   * written (exact: updates are not rewritten).
   */
  private static <T> int updateRows(Writer c, String sql, List<T> rows, RowBinder<T> binder) throws SQLException {
    if (rows.isEmpty()) {
      return 0;
    }
    PreparedStatement ps = c.statement(sql);
    for (T r : rows) {
      binder.bind(ps, 1, r);
      ps.addBatch();
    }
    int written = 0;
    for (int count : ps.executeBatch()) {
      written += count;
    }
    return written;
  }

  private <T> Map<String, T> findByIds(
      String sqlPrefix, Collection<String> ids, RowReader<T> reader, Function<T, String> idOf, String what) {
    Map<String, T> found = new HashMap<>();
    try (Connection c = dataSource.getConnection()) {
      for (List<String> chunk : chunks(ids)) {
        try (PreparedStatement ps = c.prepareStatement(sqlPrefix + "(" + placeholders(chunk.size()) + ")")) {
          bind(ps, chunk);
          try (ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
              T row = reader.read(rs);
              found.put(idOf.apply(row), row);
            }
          }
        }
      }
    } catch (SQLException e) {
      throw failure(what, e);
    }
    return found;
  }

  @FunctionalInterface
  private interface RowReader<T> {
    T read(ResultSet rs) throws SQLException;
  }

  private static ReservationRow reservation(ResultSet rs) throws SQLException {
    return new ReservationRow(
        rs.getString(1), rs.getString(2), ReservationState.valueOf(rs.getString(3).toUpperCase(Locale.ROOT)),
        rs.getLong(4), rs.getLong(5), rs.getLong(6), rs.getLong(7), rs.getLong(8), rs.getLong(9), rs.getLong(10));
  }

  private static EntryRow entry(ResultSet rs) throws SQLException {
    long expiresAt = rs.getLong(8);
    Long expiresAtMillis = rs.wasNull() ? null : expiresAt;
    return new EntryRow(
        rs.getString(1), rs.getString(2), rs.getLong(3), EntryKind.valueOf(rs.getString(4).toUpperCase(Locale.ROOT)),
        rs.getLong(5), rs.getString(6), rs.getString(7), expiresAtMillis, rs.getLong(9));
  }

  private static String stateCode(ReservationState state) {
    return state.name().toLowerCase(Locale.ROOT);
  }

  private static void setNullableString(PreparedStatement ps, int index, @Nullable String value) throws SQLException {
    if (value == null) {
      ps.setNull(index, Types.VARCHAR);
    } else {
      ps.setString(index, value);
    }
  }

  private static List<List<String>> chunks(Collection<String> ids) {
    return chunks(new ArrayList<>(ids), IN_CHUNK);
  }

  private static <T> List<List<T>> chunks(List<T> all, int size) {
    List<List<T>> chunks = new ArrayList<>();
    for (int i = 0; i < all.size(); i += size) {
      chunks.add(all.subList(i, Math.min(all.size(), i + size)));
    }
    return chunks;
  }

  private static String placeholders(int n) {
    return "?,".repeat(n - 1) + "?";
  }

  private static void bind(PreparedStatement ps, List<String> values) throws SQLException {
    for (int i = 0; i < values.size(); i++) {
      ps.setString(i + 1, values.get(i));
    }
  }

  private static StoreException failure(String what, SQLException e) {
    return new StoreException("cannot " + what + ": " + e.getMessage(), e);
  }
}
