package dev.jevons.store;

/** The SQL databases Jevons runs on. Migrations are one set of SQL files for both. */
public enum Dialect {
  SQLITE("jdbc:sqlite:"),
  POSTGRESQL("jdbc:postgresql:");

  private final String urlPrefix;

  Dialect(String urlPrefix) {
    this.urlPrefix = urlPrefix;
  }

  public static Dialect of(String jdbcUrl) {
    for (Dialect dialect : values()) {
      if (jdbcUrl.startsWith(dialect.urlPrefix)) {
        return dialect;
      }
    }
    throw new IllegalArgumentException(
        "unsupported JDBC URL "
            + Database.redact(jdbcUrl)
            + ": expected jdbc:sqlite:<file> or jdbc:postgresql://<host>/<database>");
  }

  /**
   * The collation clause that makes text compare by code point, as SQLite does by default.
   * Identifier columns use it (placeholder {@code ${binary_collation}} in migrations) so that key-set
   * paging orders ids the same way on both databases, whatever the PostgreSQL locale.
   */
  String binaryCollation() {
    return switch (this) {
      case SQLITE -> "";
      case POSTGRESQL -> "COLLATE \"C\"";
    };
  }
}
