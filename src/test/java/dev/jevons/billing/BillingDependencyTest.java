package dev.jevons.billing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Keeps the ledger's rules free of SQL, JDBC and the store by reading the compiled classes' constant
 * pools (as AccountsDependencyTest does; ArchitectureTest checks the same with ArchUnit, slower).
 */
class BillingDependencyTest {
  static final List<String> FORBIDDEN =
      List.of("java/sql/", "javax/sql/", "com/fasterxml/", "io/helidon/", "com/zaxxer/", "org/flywaydb/",
          "org/sqlite/", "org/postgresql/", "dev/jevons/store/", "dev/jevons/api/", "dev/jevons/gateway/");

  @Test
  void keeps_the_billing_domain_free_of_sql_jdbc_and_the_store() throws Exception {
    Path classes = Path.of(Ledger.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path billing = classes.resolve("dev/jevons/billing");
    List<Path> classFiles;
    try (Stream<Path> files = Files.walk(billing)) {
      classFiles = files.filter(f -> f.toString().endsWith(".class")).toList();
    }
    assertThat(classFiles).hasSizeGreaterThan(10);
    // The scan does see references: the ledger logs through SLF4J, which is allowed.
    assertThat(read(billing.resolve("Ledger.class"))).contains("org/slf4j/");
    for (Path classFile : classFiles) {
      String constants = read(classFile);
      assertThat(FORBIDDEN).as("types referenced by %s", classes.relativize(classFile)).noneMatch(constants::contains);
    }
  }

  private static String read(Path classFile) throws IOException {
    return new String(Files.readAllBytes(classFile), StandardCharsets.ISO_8859_1);
  }
}
