package dev.jevons.store;

import dev.jevons.billing.TopUpStore;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.List;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/** {@link TopUpStore} on the V5 tables, in SQL that runs on SQLite and PostgreSQL alike. */
public final class SqlTopUpStore implements TopUpStore {
  private final Database database;

  public SqlTopUpStore(Database database) {
    this.database = database;
  }

  @Override
  public void insertCodes(List<CodeRow> codes) {
    database.inTransaction("insert redemption codes", c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO redemption_codes (code_hash, amount, created_at, expires_at) VALUES (?, ?, ?, ?)")) {
        int batched = 0;
        for (CodeRow r : codes) {
          ps.setString(1, r.codeHash());
          ps.setLong(2, r.amountNanos());
          ps.setLong(3, r.createdAtMillis());
          setLong(ps, 4, r.expiresAtMillis());
          ps.addBatch();
          if (++batched % 500 == 0) {
            ps.executeBatch();
          }
        }
        ps.executeBatch();
      }
      return null;
    });
  }

  @Override
  public Optional<CodeRow> code(String codeHash) {
    return database.inTransaction("read a redemption code", c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "SELECT code_hash, amount, created_at, expires_at, redeemed_by, redeemed_at FROM redemption_codes WHERE code_hash = ?")) {
        ps.setString(1, codeHash);
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            return Optional.empty();
          }
          return Optional.of(new CodeRow(
              rs.getString(1), rs.getLong(2), rs.getLong(3), getLong(rs, 4), rs.getString(5), getLong(rs, 6)));
        }
      }
    });
  }

  @Override
  public boolean markRedeemed(String codeHash, String accountId, long atMillis) {
    return database.inTransaction("redeem a code", c -> {
      try (PreparedStatement ps = c.prepareStatement(
          "UPDATE redemption_codes SET redeemed_by = ?, redeemed_at = ? WHERE code_hash = ? AND redeemed_at IS NULL")) {
        ps.setString(1, accountId);
        ps.setLong(2, atMillis);
        ps.setString(3, codeHash);
        return ps.executeUpdate() == 1;
      }
    });
  }

  @Override
  public boolean eventSeen(String eventId) {
    return database.inTransaction("read a payment event", c -> {
      try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM payment_events WHERE id = ?")) {
        ps.setString(1, eventId);
        try (ResultSet rs = ps.executeQuery()) {
          return rs.next();
        }
      }
    });
  }

  @Override
  public void recordEvent(String eventId, String provider, String type, @Nullable String accountId, @Nullable Long amountNanos, long atMillis) {
    database.inTransaction("record a payment event", c -> {
      // ON CONFLICT DO NOTHING is understood by SQLite (3.24+) and PostgreSQL (9.5+) alike.
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO payment_events (id, provider, type, account_id, amount, received_at) VALUES (?, ?, ?, ?, ?, ?)"
              + " ON CONFLICT (id) DO NOTHING")) {
        ps.setString(1, eventId);
        ps.setString(2, provider);
        ps.setString(3, type);
        if (accountId == null) {
          ps.setNull(4, Types.VARCHAR);
        } else {
          ps.setString(4, accountId);
        }
        setLong(ps, 5, amountNanos);
        ps.setLong(6, atMillis);
        ps.executeUpdate();
      }
      return null;
    });
  }

  private static void setLong(PreparedStatement ps, int index, @Nullable Long value) throws SQLException {
    if (value == null) {
      ps.setNull(index, Types.BIGINT);
    } else {
      ps.setLong(index, value);
    }
  }

  private static @Nullable Long getLong(ResultSet rs, int index) throws SQLException {
    long v = rs.getLong(index);
    return rs.wasNull() ? null : v;
  }

}
