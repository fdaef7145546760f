package dev.jevons.config;

import java.util.List;

/** A configuration that cannot start Jevons; every problem found is listed, one per line. */
public final class ConfigException extends RuntimeException {
  private final List<String> problems;

  public ConfigException(List<String> problems) {
    super(String.join("\n", problems));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }
}
