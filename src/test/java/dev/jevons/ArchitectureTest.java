package dev.jevons;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Keeps the dependency directions of DESIGN.md honest; a violation fails the build. */
class ArchitectureTest {
  static JavaClasses classes;

  @BeforeAll
  static void load() {
    classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS).importPackages("dev.jevons");
  }

  @Test
  void domain_parts_know_nothing_of_http_json_or_sql() {
    noClasses()
        .that().resideInAnyPackage("dev.jevons.accounts..", "dev.jevons.billing..", "dev.jevons.scheduler..",
            "dev.jevons.governor..", "dev.jevons.planner..")
        .should().dependOnClassesThat().resideInAnyPackage("io.helidon..", "com.fasterxml.jackson..", "java.sql..", "javax.sql..", "java.net.http..")
        .allowEmptyShould(true)
        .check(classes);
  }

  @Test
  void domain_parts_do_not_reach_outward() {
    noClasses()
        .that().resideInAnyPackage("dev.jevons.accounts..", "dev.jevons.billing..", "dev.jevons.scheduler..",
            "dev.jevons.governor..", "dev.jevons.planner..")
        .should().dependOnClassesThat().resideInAnyPackage("dev.jevons.api..", "dev.jevons.gateway..", "dev.jevons.store..",
            "dev.jevons.upstream..", "dev.jevons.cli..", "dev.jevons.console..")
        .allowEmptyShould(true)
        .check(classes);
  }

  @Test
  void the_simulator_is_an_independent_inference_server() {
    noClasses()
        .that().resideInAPackage("dev.jevons.sim..")
        .should().dependOnClassesThat().resideInAnyPackage("dev.jevons.api..", "dev.jevons.gateway..", "dev.jevons.upstream..",
            "dev.jevons.accounts..", "dev.jevons.billing..", "dev.jevons.store..", "dev.jevons.scheduler..", "dev.jevons.cli..")
        .check(classes);
  }

  @Test
  void the_pipeline_points_one_way_from_http_to_upstreams() {
    noClasses().that().resideInAPackage("dev.jevons.upstream..")
        .should().dependOnClassesThat().resideInAnyPackage("dev.jevons.gateway..", "dev.jevons.api..", "dev.jevons.cli..")
        .check(classes);
    noClasses().that().resideInAPackage("dev.jevons.gateway..")
        .should().dependOnClassesThat().resideInAnyPackage("dev.jevons.api..", "dev.jevons.cli..", "io.helidon..", "dev.jevons.store..")
        .check(classes);
    noClasses().that().resideInAnyPackage("dev.jevons..").and().resideOutsideOfPackage("dev.jevons.cli..")
        .should().dependOnClassesThat().resideInAPackage("dev.jevons.cli..")
        .check(classes);
  }
}
