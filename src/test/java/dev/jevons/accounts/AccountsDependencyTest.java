package dev.jevons.accounts;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps the domain free of edge technology by reading the compiled classes: every type a class
 * refers to is named in its constant pool as {@code java/sql/Connection} or similar. A plain scan
 * rather than ArchUnit, which takes seconds to import the classpath.
 */
class AccountsDependencyTest {

  static final List<String> FORBIDDEN =
      List.of(
          "java/sql/", "javax/sql/", "com/fasterxml/", "io/helidon/", "com/zaxxer/", "org/flywaydb/",
          "org/sqlite/", "org/postgresql/", "dev/jevons/store/", "dev/jevons/api/");

  @Test
  void keeps_the_accounts_domain_free_of_sql_http_json_and_the_store() throws Exception {
    Path classes = Path.of(Accounts.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path accountsPackage = classes.resolve("dev/jevons/accounts");
    List<Path> classFiles;
    try (Stream<Path> files = Files.walk(accountsPackage)) {
      classFiles = files.filter(f -> f.toString().endsWith(".class")).toList();
    }

    assertThat(classFiles).hasSizeGreaterThan(5);
    // The scan does see references: Accounts uses Caffeine, which is allowed.
    assertThat(read(accountsPackage.resolve("Accounts.class"))).contains("com/github/benmanes/caffeine/");
    for (Path classFile : classFiles) {
      String constants = read(classFile);
      assertThat(FORBIDDEN)
          .as("types referenced by %s", classes.relativize(classFile))
          .noneMatch(constants::contains);
    }
  }

  private static String read(Path classFile) throws IOException {
    return new String(Files.readAllBytes(classFile), StandardCharsets.ISO_8859_1);
  }
}
