package dev.jevons.store;

import dev.jevons.billing.EntryKind;
import dev.jevons.billing.LedgerConflictException;
import dev.jevons.billing.LedgerStore;
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
import java.util.TreeSet;
import java.util.function.Function;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * {@link LedgerStore} on the V3 ledger tables, in SQL that runs on SQLite and PostgreSQL alike.
 * Reads are auto-committed (on SQLite they never take the write lock); {@link #write} is one
 * transaction of batched statements. Lookups by many ids go in chunks of {@value #IN_CHUNK} per
 * statement, well under SQLite's 32,766 parameter limit.
 */
public final class SqlLedgerStore implements LedgerStore {
  static final int IN_CHUNK = 500;

  private static final String RESERVATION_COLUMNS =
      "id, account_id, state, original_hold, hold, posted, original_expires_at, expires_at, created_at, updated_at";
  private static final String ENTRY_COLUMNS =
      "id, account_id, account_version, kind, amount, reservation_id, grant_id, expires_at, created_at";

  private final Database database;
  private final DataSource dataSource;

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

  @Override
  public void write(Batch batch) {
    database.inTransaction("write a ledger batch", c -> {
      writeAccounts(c, batch.accounts());
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO ledger_grants (id, account_id, amount, remaining, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)")) {
        for (GrantRow g : batch.newGrants()) {
          ps.setString(1, g.id());
          ps.setString(2, g.accountId());
          ps.setLong(3, g.amountNanos());
          ps.setLong(4, g.remainingNanos());
          ps.setLong(5, g.expiresAtMillis());
          ps.setLong(6, g.createdAtMillis());
          ps.addBatch();
        }
        executeIfAny(ps, batch.newGrants().size());
      }
      try (PreparedStatement ps = c.prepareStatement("UPDATE ledger_grants SET remaining = ? WHERE id = ?")) {
        for (GrantRow g : batch.changedGrants()) {
          ps.setLong(1, g.remainingNanos());
          ps.setString(2, g.id());
          ps.addBatch();
        }
        executeIfAny(ps, batch.changedGrants().size());
      }
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO ledger_reservations (" + RESERVATION_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
        for (ReservationRow r : batch.newReservations()) {
          ps.setString(1, r.id());
          ps.setString(2, r.accountId());
          ps.setString(3, stateCode(r.state()));
          ps.setLong(4, r.originalHoldNanos());
          ps.setLong(5, r.holdNanos());
          ps.setLong(6, r.postedNanos());
          ps.setLong(7, r.originalExpiresAtMillis());
          ps.setLong(8, r.expiresAtMillis());
          ps.setLong(9, r.createdAtMillis());
          ps.setLong(10, r.updatedAtMillis());
          ps.addBatch();
        }
        executeIfAny(ps, batch.newReservations().size());
      }
      try (PreparedStatement ps = c.prepareStatement(
          "UPDATE ledger_reservations SET state = ?, hold = ?, posted = ?, expires_at = ?, updated_at = ? WHERE id = ?")) {
        for (ReservationRow r : batch.changedReservations()) {
          ps.setString(1, stateCode(r.state()));
          ps.setLong(2, r.holdNanos());
          ps.setLong(3, r.postedNanos());
          ps.setLong(4, r.expiresAtMillis());
          ps.setLong(5, r.updatedAtMillis());
          ps.setString(6, r.id());
          ps.addBatch();
        }
        executeIfAny(ps, batch.changedReservations().size());
      }
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO ledger_entries (" + ENTRY_COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
        for (EntryRow e : batch.entries()) {
          ps.setString(1, e.id());
          ps.setString(2, e.accountId());
          ps.setLong(3, e.accountVersion());
          ps.setString(4, e.kind().name().toLowerCase(Locale.ROOT));
          ps.setLong(5, e.amountNanos());
          setNullableString(ps, 6, e.reservationId());
          setNullableString(ps, 7, e.grantId());
          if (e.expiresAtMillis() == null) {
            ps.setNull(8, Types.BIGINT);
          } else {
            ps.setLong(8, e.expiresAtMillis());
          }
          ps.setLong(9, e.createdAtMillis());
          ps.addBatch();
        }
        executeIfAny(ps, batch.entries().size());
      }
      return null;
    });
  }

  /**
   * Inserts new accounts and updates the others where their version is still the expected one, in
   * account id order (the batch comes sorted). Any row not written means another writer got there
   * first: the exception rolls the transaction back.
   */
  private static void writeAccounts(Connection c, List<AccountWrite> accounts) throws SQLException {
    List<AccountWrite> inserts = new ArrayList<>();
    List<AccountWrite> updates = new ArrayList<>();
    for (AccountWrite a : accounts) {
      (a.expectedVersion() == 0 ? inserts : updates).add(a);
    }
    TreeSet<String> conflicts = new TreeSet<>();
    if (!inserts.isEmpty()) {
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO ledger_accounts (account_id, topped_up, credit_limit, version, created_at, updated_at)"
              + " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id) DO NOTHING")) {
        for (AccountWrite a : inserts) {
          ps.setString(1, a.accountId());
          ps.setLong(2, a.toppedUpNanos());
          ps.setLong(3, a.creditLimitNanos());
          ps.setLong(4, a.newVersion());
          ps.setLong(5, a.atMillis());
          ps.setLong(6, a.atMillis());
          ps.addBatch();
        }
        collectConflicts(ps.executeBatch(), inserts, conflicts);
      }
    }
    if (!updates.isEmpty()) {
      try (PreparedStatement ps = c.prepareStatement(
          "UPDATE ledger_accounts SET topped_up = ?, credit_limit = ?, version = ?, updated_at = ?"
              + " WHERE account_id = ? AND version = ?")) {
        for (AccountWrite a : updates) {
          ps.setLong(1, a.toppedUpNanos());
          ps.setLong(2, a.creditLimitNanos());
          ps.setLong(3, a.newVersion());
          ps.setLong(4, a.atMillis());
          ps.setString(5, a.accountId());
          ps.setLong(6, a.expectedVersion());
          ps.addBatch();
        }
        collectConflicts(ps.executeBatch(), updates, conflicts);
      }
    }
    if (!conflicts.isEmpty()) {
      throw new LedgerConflictException(conflicts);
    }
  }

  private static void collectConflicts(int[] counts, List<AccountWrite> writes, TreeSet<String> conflicts) {
    for (int i = 0; i < counts.length; i++) {
      // SUCCESS_NO_INFO (-2) does not occur with these drivers for plain statements; treat only an
      // explicit 0 as "not written".
      if (counts[i] == 0) {
        conflicts.add(writes.get(i).accountId());
      }
    }
  }

  private static void executeIfAny(PreparedStatement ps, int count) throws SQLException {
    if (count > 0) {
      ps.executeBatch();
    }
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
    List<String> all = new ArrayList<>(ids);
    List<List<String>> chunks = new ArrayList<>();
    for (int i = 0; i < all.size(); i += IN_CHUNK) {
      chunks.add(all.subList(i, Math.min(all.size(), i + IN_CHUNK)));
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
