package dev.jevons.store;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Assumptions;

/**
 * Real databases for tests: a SQLite file in a temporary directory, or a scratch PostgreSQL
 * database created for the test and dropped when it is closed.
 *
 * <p>Each PostgreSQL scratch is a schema of its own in a database created for the test run (see
 * {@link #scratchPostgres()}). PostgreSQL is found at {@code JEVONS_TEST_POSTGRES_URL} (default {@code
 * jdbc:postgresql://127.0.0.1:5432/test}, user {@code postgres}, trust auth). When it cannot be
 * reached the test is skipped, with the reason, or fails when the environment has {@code CI=true}.
 *
 * <p>To run a test against both kinds, either take a {@link Kind} parameter:
 *
 * <pre>{@code
 * @ParameterizedTest
 * @MethodSource("dev.jevons.store.TestDatabases#kinds")
 * void does_something(TestDatabases.Kind kind, @TempDir Path dir) {
 *   try (Database db = TestDatabases.open(kind, dir)) { ... }
 * }
 * }</pre>
 *
 * or write an abstract contract test with one subclass per kind (see {@code AccountStoreContract}).
 */
public final class TestDatabases {

  public enum Kind {
    SQLITE,
    POSTGRESQL
  }

  /** An empty database that nothing has migrated yet; closing it drops it. */
  public record Scratch(Kind kind, String jdbcUrl, @Nullable String user, Runnable drop)
      implements AutoCloseable {
    public Database open() {
      return Database.open(jdbcUrl, user, null);
    }

    Database open(List<String> migrationLocations) {
      return Database.open(jdbcUrl, user, null, migrationLocations);
    }

    @Override
    public void close() {
      drop.run();
    }
  }

  private static final String POSTGRES_URL =
      envOr("JEVONS_TEST_POSTGRES_URL", "jdbc:postgresql://127.0.0.1:5432/test");
  private static final String POSTGRES_USER = envOr("JEVONS_TEST_POSTGRES_USER", "postgres");

  /** Remembered so that a missing server costs one connection attempt per run, not one per test. */
  private static volatile @Nullable String unreachable;

  private static @Nullable String runDatabase;

  private TestDatabases() {}

  public static Stream<Kind> kinds() {
    return Stream.of(Kind.values());
  }

  /** A migrated database of that kind; closing it drops a PostgreSQL scratch database. */
  public static Database open(Kind kind, Path dir) {
    return switch (kind) {
      case SQLITE -> sqlite(dir);
      case POSTGRESQL -> postgres();
    };
  }

  /** A migrated SQLite database in {@code dir}. */
  public static Database sqlite(Path dir) {
    return scratchSqlite(dir).open();
  }

  /** A migrated PostgreSQL database of its own, dropped when closed. */
  public static Database postgres() {
    Scratch scratch = scratchPostgres();
    try {
      return scratch.open().whenClosed(scratch::close);
    } catch (RuntimeException e) {
      scratch.close();
      throw e;
    }
  }

  public static Scratch scratch(Kind kind, Path dir) {
    return switch (kind) {
      case SQLITE -> scratchSqlite(dir);
      case POSTGRESQL -> scratchPostgres();
    };
  }

  public static Scratch scratchSqlite(Path dir) {
    String url = "jdbc:sqlite:" + dir.resolve("jevons-" + randomSuffix() + ".db");
    return new Scratch(Kind.SQLITE, url, null, () -> {});
  }

  /**
   * An empty schema of its own in this test run's PostgreSQL database, dropped when closed.
   * Creating a schema is nearly free, where CREATE DATABASE copies a template and costs about half
   * a second; the run's database itself is created on first use and dropped when the JVM exits.
   */
  public static Scratch scratchPostgres() {
    String database = runDatabase();
    String schema = "jevons_t_" + randomSuffix();
    execOn(database, "CREATE SCHEMA " + schema);
    return new Scratch(
        Kind.POSTGRESQL,
        urlOf(database, "currentSchema=" + schema),
        POSTGRES_USER,
        () -> execOn(database, "DROP SCHEMA IF EXISTS " + schema + " CASCADE"));
  }

  /**
   * An empty database of its own, for what a schema cannot vary (locale, collation); {@code
   * options} are appended to CREATE DATABASE.
   */
  static Scratch scratchPostgresDatabase(String options) {
    String name = "jevons_t_" + randomSuffix();
    execOnServer("CREATE DATABASE " + name + " " + options);
    return new Scratch(Kind.POSTGRESQL, urlOf(name, ""), POSTGRES_USER, () -> dropDatabase(name));
  }

  private static synchronized String runDatabase() {
    if (runDatabase == null) {
      String name = "jevons_t_run_" + randomSuffix();
      execOnServer("CREATE DATABASE " + name);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> dropDatabase(name), "drop-" + name));
      runDatabase = name;
    }
    return runDatabase;
  }

  private static void dropDatabase(String name) {
    execOnServer("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  }

  /** The configured server URL pointed at another database, keeping its parameters. */
  private static String urlOf(String database, String extraParameter) {
    int query = POSTGRES_URL.indexOf('?');
    String base = query < 0 ? POSTGRES_URL : POSTGRES_URL.substring(0, query);
    String parameters = query < 0 ? "" : POSTGRES_URL.substring(query + 1);
    if (!extraParameter.isEmpty()) {
      parameters = parameters.isEmpty() ? extraParameter : parameters + "&" + extraParameter;
    }
    String url = base.substring(0, base.lastIndexOf('/') + 1) + database;
    return parameters.isEmpty() ? url : url + "?" + parameters;
  }

  private static void execOnServer(String sql) {
    execOnUrl(POSTGRES_URL, sql);
  }

  private static void execOn(String database, String sql) {
    execOnUrl(urlOf(database, ""), sql);
  }

  private static void execOnUrl(String url, String sql) {
    try (Connection c = connect(url);
        Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException("cannot run '" + sql + "' on " + url, e);
    }
  }

  private static Connection connect(String url) {
    String knownUnreachable = unreachable;
    if (knownUnreachable != null) {
      skipOrFail(knownUnreachable);
    }
    Properties props = new Properties();
    props.setProperty("user", POSTGRES_USER);
    props.setProperty("connectTimeout", "3");
    try {
      return DriverManager.getConnection(url, props);
    } catch (SQLException e) {
      String why = "PostgreSQL is not reachable at " + POSTGRES_URL + " as " + POSTGRES_USER + ": " + e.getMessage();
      unreachable = why;
      skipOrFail(why);
      throw new AssertionError("not reached");
    }
  }

  private static void skipOrFail(String why) {
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      fail(why + " (CI=true, so PostgreSQL tests must run)");
    }
    Assumptions.abort(why + "; skipping (set CI=true to make this a failure)");
  }

  private static String randomSuffix() {
    return Long.toString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE, 36).toLowerCase(Locale.ROOT);
  }

  private static String envOr(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isBlank() ? fallback : value;
  }
}
