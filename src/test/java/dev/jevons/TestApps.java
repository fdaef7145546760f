package dev.jevons;

import dev.jevons.config.ConfigLoader;
import java.nio.file.Path;

/** Configurations that tests start Jevons from. */
public final class TestApps {
  private TestApps() {}

  /**
   * Jevons on an ephemeral port with its store in {@code dataDir} and instant simulated replicas
   * (answers without modelled delays); add overrides, then {@code load()}.
   */
  public static ConfigLoader instant(Path dataDir) {
    return new ConfigLoader().override("server.port", 0).override("data_dir", dataDir.toString()).override("sim.profile", "instant");
  }
}
