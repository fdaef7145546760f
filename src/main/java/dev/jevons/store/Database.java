package dev.jevons.store;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.jspecify.annotations.Nullable;

/**
 * A migrated, pooled SQL database: an embedded SQLite file or a PostgreSQL server.
 *
 * <p>Opening runs the migrations under {@code classpath:db/migration} (Flyway; one SQL set for
 * both dialects, see V1 for the conventions), and on SQLite also those under {@code
 * classpath:db/sqlite}, which only change SQLite's storage layout (V8: WITHOUT ROWID tables). Flyway verifies the checksum of every applied
 * migration and refuses to start when one changed; on PostgreSQL it holds an advisory lock while
 * migrating, so gateway nodes starting together apply each migration once.
 *
 * <p>SQLite is set up for money: WAL journal (readers do not block the writer), {@code
 * synchronous=FULL} (a committed transaction survives power loss), foreign keys on, a 5 s busy
 * timeout, and transactions that begin IMMEDIATE, i.e. take the write lock at BEGIN. SQLite has a
 * single writer; a deferred transaction that reads and then writes can fail with SQLITE_BUSY when
 * another writer got in between, whereas an immediate one simply waits its turn. The pool is small
 * (4): WAL lets those connections read concurrently, while writers queue at BEGIN, and further
 * callers queue in the pool rather than in SQLite's polling busy handler. Read-only work should
 * therefore run in auto-commit mode, so it never takes the write lock.
 */
public final class Database implements AutoCloseable {

  static final int SQLITE_POOL_SIZE = 4;
  static final int POSTGRES_POOL_SIZE = 16;
  static final int POSTGRES_MIN_IDLE = 4;
  static final int SQLITE_BUSY_TIMEOUT_MILLIS = 5000;
  static final String MIGRATIONS = "classpath:db/migration";
  /** SQLite-only migrations (storage layout PostgreSQL has no words for); versions unused by MIGRATIONS. */
  static final String SQLITE_MIGRATIONS = "classpath:db/sqlite";

  private static final Pattern PASSWORD_PARAM = Pattern.compile("(?i)(password=)[^&;]*");
  private static final Pattern USER_INFO = Pattern.compile("(//[^/:@]*:)[^@/]*@");

  private final HikariDataSource pool;
  private final Dialect dialect;
  private final String redactedUrl;
  /** The SQLite file; null on PostgreSQL. */
  private final @Nullable Path file;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final List<Runnable> afterClose = new ArrayList<>();

  private Database(HikariDataSource pool, Dialect dialect, String redactedUrl, @Nullable Path file) {
    this.pool = pool;
    this.dialect = dialect;
    this.redactedUrl = redactedUrl;
    this.file = file;
  }

  /** Opens a database whose credentials, if any, are in the URL. */
  public static Database open(String jdbcUrl) {
    return open(jdbcUrl, null, null);
  }

  /**
   * Opens and migrates the database at {@code jdbcUrl} ({@code jdbc:sqlite:/path/jevons.db} or
   * {@code jdbc:postgresql://host:5432/db}).
   *
   * @throws IllegalArgumentException for a URL of another kind or an in-memory SQLite database
   * @throws StoreException when the database cannot be reached or migrated; the message names
   *     the URL, without any password
   */
  public static Database open(String jdbcUrl, @Nullable String user, @Nullable String password) {
    return open(jdbcUrl, user, password, migrations(Dialect.of(jdbcUrl)));
  }

  /** The migration locations shipped for {@code dialect}. */
  static List<String> migrations(Dialect dialect) {
    return dialect == Dialect.SQLITE ? List.of(MIGRATIONS, SQLITE_MIGRATIONS) : List.of(MIGRATIONS);
  }

  static Database open(
      String jdbcUrl, @Nullable String user, @Nullable String password, List<String> migrationLocations) {
    Dialect dialect = Dialect.of(jdbcUrl);
    String redacted = redact(jdbcUrl);
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(jdbcUrl);
    config.setPoolName("jevons-" + dialect.name().toLowerCase(Locale.ROOT));
    if (user != null) {
      config.setUsername(user);
    }
    if (password != null) {
      config.setPassword(password);
    }
    switch (dialect) {
      case SQLITE -> configureSqlite(config, jdbcUrl);
      case POSTGRESQL -> {
        // Grows to 16 under load and keeps 4 idle, so N idle gateway nodes hold 4N server
        // backends rather than 16N.
        config.setMaximumPoolSize(POSTGRES_POOL_SIZE);
        config.setMinimumIdle(POSTGRES_MIN_IDLE);
        // The ledger writes its rows as JDBC batches of single-row INSERTs; the driver sends them
        // as multi-row INSERTs of a few fixed sizes, which the server keeps prepared.
        config.addDataSourceProperty("reWriteBatchedInserts", "true");
      }
    }
    HikariDataSource pool;
    try {
      pool = new HikariDataSource(config);
    } catch (RuntimeException e) {
      throw new StoreException("cannot open database " + redacted + ": " + rootMessage(e), e);
    }
    Database database = new Database(pool, dialect, redacted, dialect == Dialect.SQLITE ? realPath(sqliteFile(jdbcUrl)) : null);
    try {
      database.migrate(migrationLocations);
    } catch (RuntimeException e) {
      database.close();
      throw e;
    }
    return database;
  }

  public Dialect dialect() {
    return dialect;
  }

  /** The pooled connections, for the stores built on this database. */
  public DataSource dataSource() {
    return pool;
  }

  /**
   * Runs {@code work} in one transaction on one connection: commits if it returns, rolls back if
   * it throws. SQL failures come out as {@link StoreException} naming {@code what}. On SQLite the
   * transaction holds the write lock from its start (see above), so keep it short and free of
   * anything but SQL; on PostgreSQL it runs at the server's default isolation (READ COMMITTED).
   */
  public <T> T inTransaction(String what, SqlWork<T> work) {
    try (Connection connection = pool.getConnection()) {
      connection.setAutoCommit(false);
      try {
        T result = work.run(connection);
        connection.commit();
        return result;
      } catch (SQLException | RuntimeException | Error e) {
        rollbackQuietly(connection, e);
        throw e;
      }
      // Hikari restores auto-commit when the connection goes back to the pool.
    } catch (SQLException e) {
      throw new StoreException("cannot " + what + ": " + e.getMessage(), e);
    }
  }

  private static void rollbackQuietly(Connection connection, Throwable failure) {
    try {
      connection.rollback();
    } catch (SQLException e) {
      failure.addSuppressed(e);
    }
  }

  /**
   * Has the pool drop {@code connection} (borrowed from it) instead of lending it again: for a
   * connection whose state is unknown after a failure, such as one that may still be inside a
   * transaction in SQLite's auto-commit mode, which the pool's reset would not roll back.
   */
  void discard(Connection connection) {
    pool.evictConnection(connection); // closes it at once; closing the proxy too would hand the entry back
  }

  /**
   * Claims {@code name} on this database for this process until the claim is closed; see {@link
   * Claims}. Answers null when another holder's claim excludes this one.
   */
  public Claims.@Nullable Claim claim(String name, boolean exclusive) {
    return file != null ? Claims.onFile(Path.of(file + "." + name + ".lock"), exclusive) : Claims.onPostgres(pool, name, exclusive);
  }

  /** The JDBC URL with any password masked, fit for logs. */
  public String url() {
    return redactedUrl;
  }

  /** Closes the pool; calling it again does nothing. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      pool.close();
      afterClose.forEach(Runnable::run);
    }
  }

  /** Runs {@code action} after the pool is closed; tests use it to drop scratch databases. */
  Database whenClosed(Runnable action) {
    afterClose.add(action);
    return this;
  }

  @Override
  public String toString() {
    return "Database[" + redactedUrl + "]";
  }

  private void migrate(List<String> locations) {
    try {
      Flyway.configure(Database.class.getClassLoader())
          .dataSource(pool)
          .locations(locations.toArray(String[]::new))
          .placeholders(Map.of("binary_collation", dialect.binaryCollation()))
          .validateMigrationNaming(true)
          .failOnMissingLocations(true)
          .load()
          .migrate();
    } catch (FlywayException e) {
      throw new StoreException("cannot migrate database " + redactedUrl + ": " + e.getMessage(), e);
    }
  }

  private static void configureSqlite(HikariConfig config, String jdbcUrl) {
    Path file = sqliteFile(jdbcUrl);
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null) {
      try {
        Files.createDirectories(parent);
      } catch (IOException e) {
        throw new StoreException("cannot create directory " + parent + " for database " + redact(jdbcUrl), e);
      }
    }
    config.setMaximumPoolSize(SQLITE_POOL_SIZE);
    // sqlite-jdbc applies these to every connection it opens.
    config.addDataSourceProperty("journal_mode", "WAL");
    config.addDataSourceProperty("synchronous", "FULL");
    config.addDataSourceProperty("foreign_keys", "true");
    config.addDataSourceProperty("busy_timeout", String.valueOf(SQLITE_BUSY_TIMEOUT_MILLIS));
    config.addDataSourceProperty("transaction_mode", "IMMEDIATE");
  }

  /** The file's one name however it was reached (symbolic links, "..", relative paths), for its lock. */
  private static Path realPath(Path file) {
    try {
      return file.toRealPath();
    } catch (IOException e) {
      return file.toAbsolutePath().normalize();
    }
  }

  static Path sqliteFile(String jdbcUrl) {
    String location = jdbcUrl.substring("jdbc:sqlite:".length());
    int query = location.indexOf('?');
    if (query >= 0) {
      location = location.substring(0, query);
    }
    if (location.startsWith("file:")) {
      location = location.substring("file:".length());
    }
    if (location.isEmpty() || location.equals(":memory:") || jdbcUrl.contains("mode=memory")) {
      throw new IllegalArgumentException(
          "SQLite database must be a file, not in memory: " + jdbcUrl + " (a pool would see several databases)");
    }
    return Path.of(location);
  }

  static String redact(String jdbcUrl) {
    String masked = PASSWORD_PARAM.matcher(jdbcUrl).replaceAll("$1****");
    return USER_INFO.matcher(masked).replaceAll("$1****@");
  }

  private static String rootMessage(Throwable e) {
    Throwable cause = e;
    while (cause.getCause() != null && cause.getCause() != cause) {
      cause = cause.getCause();
    }
    return cause == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + cause.getMessage() + ")";
  }
}
