package dev.jevons.accounts;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.Test;

class AccountsArchitectureTest {

  final JavaClasses classes =
      new ClassFileImporter()
          .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
          .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_JARS)
          .importPackages("dev.jevons.accounts", "dev.jevons.store");

  @Test
  void keeps_the_accounts_domain_free_of_sql_http_json_and_the_store() {
    noClasses()
        .that()
        .resideInAPackage("dev.jevons.accounts..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "java.sql..", "javax.sql..", "com.fasterxml..", "io.helidon..", "com.zaxxer..",
            "org.flywaydb..", "dev.jevons.store..", "dev.jevons.api..")
        .check(classes);
  }
}
