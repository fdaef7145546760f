package dev.jevons.store;

import dev.jevons.accounts.Account;
import dev.jevons.accounts.AccountStatus;
import dev.jevons.accounts.AccountStore;
import dev.jevons.accounts.ApiKey;
import dev.jevons.accounts.Principal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import javax.sql.DataSource;
import org.jspecify.annotations.Nullable;

/**
 * {@link AccountStore} on the {@code accounts} and {@code api_keys} tables, in SQL that runs on
 * SQLite and PostgreSQL alike. Every method is one auto-committed statement except {@link
 * #updateAccountStatus} and {@link #revokeKey}, whose read-back after the update needs no
 * isolation: status changes are last-writer-wins and revocation only ever moves from unset to set.
 */
public final class SqlAccountStore implements AccountStore {

  private static final String ACCOUNT_COLUMNS = "a.id, a.name, a.status, a.created_at, a.priority_band, a.fair_weight";
  private static final String KEY_COLUMNS =
      "k.id, k.account_id, k.name, k.prefix, k.models, k.expires_at, k.revoked_at, k.created_at";

  private final DataSource dataSource;

  public SqlAccountStore(Database database) {
    this.dataSource = database.dataSource();
  }

  @Override
  public void insertAccount(Account account) {
    String sql = "INSERT INTO accounts (id, name, status, created_at, priority_band, fair_weight) VALUES (?, ?, ?, ?, ?, ?)";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, account.id());
      ps.setString(2, account.name());
      ps.setString(3, statusCode(account.status()));
      ps.setLong(4, account.createdAt().toEpochMilli());
      ps.setInt(5, account.band());
      ps.setInt(6, account.weight());
      ps.executeUpdate();
    } catch (SQLException e) {
      throw failure("insert account " + account.id(), e);
    }
  }

  @Override
  public Optional<Account> findAccount(String accountId) {
    String sql = "SELECT " + ACCOUNT_COLUMNS + " FROM accounts a WHERE a.id = ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, accountId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(account(rs, 1)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw failure("find account " + accountId, e);
    }
  }

  @Override
  public List<Account> listAccounts(int limit, @Nullable String afterId) {
    String sql =
        "SELECT " + ACCOUNT_COLUMNS + " FROM accounts a WHERE a.id > ? ORDER BY a.id LIMIT ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      // Every id sorts after the empty string, so no separate query for the first page.
      ps.setString(1, afterId == null ? "" : afterId);
      ps.setInt(2, limit);
      List<Account> page = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          page.add(account(rs, 1));
        }
      }
      return page;
    } catch (SQLException e) {
      throw failure("list accounts after " + afterId, e);
    }
  }

  @Override
  public Optional<Account> updateAccountStatus(String accountId, AccountStatus status) {
    String sql = "UPDATE accounts SET status = ? WHERE id = ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, statusCode(status));
      ps.setString(2, accountId);
      if (ps.executeUpdate() == 0) {
        return Optional.empty();
      }
    } catch (SQLException e) {
      throw failure("set status of account " + accountId, e);
    }
    return findAccount(accountId);
  }

  @Override
  public Optional<Account> updateAccountTier(String accountId, int band, int weight) {
    String sql = "UPDATE accounts SET priority_band = ?, fair_weight = ? WHERE id = ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setInt(1, band);
      ps.setInt(2, weight);
      ps.setString(3, accountId);
      if (ps.executeUpdate() == 0) {
        return Optional.empty();
      }
    } catch (SQLException e) {
      throw failure("set the tier of account " + accountId, e);
    }
    return findAccount(accountId);
  }

  @Override
  public void insertKey(ApiKey key, String secretHash) {
    String sql =
        "INSERT INTO api_keys (id, account_id, name, prefix, secret_hash, models, expires_at,"
            + " revoked_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, key.id());
      ps.setString(2, key.accountId());
      ps.setString(3, key.name());
      ps.setString(4, key.prefix());
      ps.setString(5, secretHash);
      ps.setString(6, String.join("\n", key.models()));
      setInstant(ps, 7, key.expiresAt());
      setInstant(ps, 8, key.revokedAt());
      ps.setLong(9, key.createdAt().toEpochMilli());
      ps.executeUpdate();
    } catch (SQLException e) {
      throw failure("insert key " + key.id() + " of account " + key.accountId(), e);
    }
  }

  @Override
  public Optional<ApiKey> findKey(String keyId) {
    String sql = "SELECT " + KEY_COLUMNS + " FROM api_keys k WHERE k.id = ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, keyId);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(key(rs, 1)) : Optional.empty();
      }
    } catch (SQLException e) {
      throw failure("find key " + keyId, e);
    }
  }

  @Override
  public List<ApiKey> keysOf(String accountId) {
    String sql =
        "SELECT " + KEY_COLUMNS + " FROM api_keys k WHERE k.account_id = ? ORDER BY k.created_at, k.id";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, accountId);
      List<ApiKey> keys = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          keys.add(key(rs, 1));
        }
      }
      return keys;
    } catch (SQLException e) {
      throw failure("list keys of account " + accountId, e);
    }
  }

  @Override
  public Optional<ApiKey> revokeKey(String keyId, Instant revokedAt) {
    String sql = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setLong(1, revokedAt.toEpochMilli());
      ps.setString(2, keyId);
      ps.executeUpdate();
    } catch (SQLException e) {
      throw failure("revoke key " + keyId, e);
    }
    return findKey(keyId);
  }

  @Override
  public Optional<Principal> findPrincipalByKeyHash(String secretHash) {
    String sql =
        "SELECT " + KEY_COLUMNS + ", " + ACCOUNT_COLUMNS
            + " FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE k.secret_hash = ?";
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, secretHash);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(new Principal(account(rs, 9), key(rs, 1))) : Optional.empty();
      }
    } catch (SQLException e) {
      // The hash is not secret, but there is no reason to put it in logs either.
      throw failure("find key by secret hash", e);
    }
  }

  private static Account account(ResultSet rs, int first) throws SQLException {
    return new Account(
        rs.getString(first),
        rs.getString(first + 1),
        status(rs.getString(first + 2)),
        Instant.ofEpochMilli(rs.getLong(first + 3)),
        rs.getInt(first + 4),
        rs.getInt(first + 5));
  }

  private static ApiKey key(ResultSet rs, int first) throws SQLException {
    return new ApiKey(
        rs.getString(first),
        rs.getString(first + 1),
        rs.getString(first + 2),
        rs.getString(first + 3),
        models(rs.getString(first + 4)),
        instant(rs, first + 5),
        instant(rs, first + 6),
        Instant.ofEpochMilli(rs.getLong(first + 7)));
  }

  private static Set<String> models(String column) {
    return column.isEmpty() ? Set.of() : new TreeSet<>(Arrays.asList(column.split("\n")));
  }

  private static @Nullable Instant instant(ResultSet rs, int column) throws SQLException {
    long millis = rs.getLong(column);
    return rs.wasNull() ? null : Instant.ofEpochMilli(millis);
  }

  private static void setInstant(PreparedStatement ps, int index, @Nullable Instant instant)
      throws SQLException {
    if (instant == null) {
      ps.setNull(index, Types.BIGINT);
    } else {
      ps.setLong(index, instant.toEpochMilli());
    }
  }

  // Stored as explicit lower-case codes, so renaming an enum constant cannot corrupt the data.
  private static String statusCode(AccountStatus status) {
    return switch (status) {
      case ACTIVE -> "active";
      case SUSPENDED -> "suspended";
    };
  }

  private static AccountStatus status(String code) {
    return switch (code) {
      case "active" -> AccountStatus.ACTIVE;
      case "suspended" -> AccountStatus.SUSPENDED;
      default -> throw new StoreException("unknown account status in database: " + code);
    };
  }

  private static StoreException failure(String what, SQLException e) {
    return new StoreException("cannot " + what + ": " + e.getMessage(), e);
  }
}
