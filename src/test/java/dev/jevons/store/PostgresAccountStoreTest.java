package dev.jevons.store;

import java.nio.file.Path;

class PostgresAccountStoreTest extends AccountStoreContract {

  @Override
  Database openDatabase(Path dir) {
    return TestDatabases.postgres();
  }
}
