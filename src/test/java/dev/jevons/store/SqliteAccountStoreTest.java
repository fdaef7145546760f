package dev.jevons.store;

import java.nio.file.Path;

class SqliteAccountStoreTest extends AccountStoreContract {

  @Override
  Database openDatabase(Path dir) {
    return TestDatabases.sqlite(dir);
  }
}
