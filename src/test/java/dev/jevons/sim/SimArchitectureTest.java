package dev.jevons.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The engine model is shared with the planner, which runs it on a virtual clock: it must stay free
 * of HTTP, JSON, threads and the wall clock. A source scan is enough here and much faster than
 * importing the classpath with ArchUnit.
 */
class SimArchitectureTest {
  private static final Path SOURCES = Path.of("src/main/java/dev/jevons/sim");
  private static final List<String> FORBIDDEN = List.of(
      "io.helidon", "com.fasterxml", "java.net", "java.util.concurrent", "Thread", "System.nanoTime",
      "System.currentTimeMillis", "Instant.now", "Clock", "Random");

  @Test
  void engine_model_knows_nothing_of_http_json_threads_or_the_wall_clock() throws IOException {
    List<Path> domain;
    try (Stream<Path> files = Files.list(SOURCES)) {
      domain = files
          .filter(p -> {
            String n = p.getFileName().toString();
            return (n.startsWith("Engine") && !n.equals("EngineRunner.java"))
                || n.startsWith("Sequence") || n.equals("PrefixCache.java");
          })
          .toList();
    }
    assertThat(domain).hasSizeGreaterThanOrEqualTo(6);
    for (Path p : domain) {
      String code = Files.readString(p).replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\n]*", "");
      for (String f : FORBIDDEN) assertThat(code).as("%s uses %s", p.getFileName(), f).doesNotContain(f);
    }
  }
}
